-- The HTTP "plaintext" micro-server on raw streams: keep-alive, a fixed
-- response, no HTTP library; pipelined requests are answered in order.
-- bench/io.lua drives it with wrk beside luv and cqueues servers written
-- the same way (bench/servers/).
-- Usage: lua5.4 examples/hello_server.lua [port]   (port 0: pick one)
local m = require "moonlet"

local port = tonumber(arg[1]) or 8080
local RESPONSE = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n" ..
                 "Content-Length: 13\r\n\r\nHello, World!"

local function handle(s)
  local pending = ""
  while true do
    local chunk = s:read() -- whatever arrived
    if not chunk then return end
    pending = pending .. chunk
    local close = pending:find("\r\n[Cc]onnection: close\r\n") ~= nil
    local n, from = 0, 1
    while true do -- one response per complete request head
      local e = pending:find("\r\n\r\n", from, true)
      if not e then break end
      n, from = n + 1, e + 4
    end
    if n > 0 then
      pending = pending:sub(from)
      if not s:write(RESPONSE:rep(n)) then return end
    end
    if close then return end -- the handler's return closes the stream
  end
end

local srv = assert(m.tcp.listen("127.0.0.1", port, handle, { backlog = 1024 }))
print(("listening on http://%s:%d/"):format(srv:address()))
io.stdout:flush()
srv:serve_forever()
