-- The plaintext server of examples/hello_server.lua as raw luv callbacks.
local uv = require "luv"

local RESPONSE = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n" ..
                 "Content-Length: 13\r\n\r\nHello, World!"

local server = uv.new_tcp()
assert(server:bind("127.0.0.1", tonumber(arg[1]) or 0))
assert(server:listen(1024, function()
  local c = uv.new_tcp()
  server:accept(c)
  local pending = ""
  c:read_start(function(err, chunk)
    if err or not chunk then c:close(); return end
    pending = pending .. chunk
    local close = pending:find("\r\n[Cc]onnection: close\r\n") ~= nil
    local n, from = 0, 1
    while true do
      local e = pending:find("\r\n\r\n", from, true)
      if not e then break end
      n, from = n + 1, e + 4
    end
    if n > 0 then
      pending = pending:sub(from)
      c:write(RESPONSE:rep(n))
    end
    if close then c:close() end
  end)
end))
local addr = server:getsockname()
print(("listening on http://%s:%d/"):format(addr.ip, addr.port))
io.stdout:flush()
uv.run()
