-- The HTTP "plaintext" micro-server on raw streams: keep-alive, a fixed
-- response, no HTTP library. The I/O benchmark drives it with wrk.
-- Usage: lua5.4 examples/hello_server.lua [port]   (port 0: pick one)
local m = require "moonlet"

local port = tonumber(arg[1]) or 8080
local RESPONSE = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n" ..
                 "Content-Length: 13\r\n\r\nHello, World!"

local function handle(s)
  while true do
    local request = s:read("l")
    if not request then return end
    local close = false
    repeat -- the headers, up to the blank line
      local h = s:read("l")
      if not h then return end
      if h:lower():find("^connection:%s*close") then close = true end
    until h == "\r" or h == ""
    if not s:write(RESPONSE) or close then return end
  end
end

local srv = assert(m.tcp.listen("127.0.0.1", port, handle, { backlog = 1024 }))
print(("listening on http://%s:%d/"):format(srv:address()))
io.stdout:flush()
srv:serve_forever()
