-- The plaintext server of examples/hello_server.lua on cqueues.
local cqueues = require "cqueues"
local socket = require "cqueues.socket"

local RESPONSE = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n" ..
                 "Content-Length: 13\r\n\r\nHello, World!"

local cq = cqueues.new()
local srv = socket.listen { host = "127.0.0.1", port = tonumber(arg[1]) or 0, backlog = 1024 }
srv:listen()
local _, host, port = srv:localname()
print(("listening on http://%s:%d/"):format(host, port))
io.stdout:flush()

local function handle(c)
  c:setmode("b", "bn") -- binary, no output buffering beyond each write
  local pending = ""
  while true do
    local chunk = c:read("-65536") -- whatever arrived, up to 64 KiB
    if not chunk then return end
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
      c:flush()
    end
    if close then return end
  end
end

cq:wrap(function()
  for c in srv:clients() do
    cq:wrap(function()
      pcall(handle, c) -- a reset peer raises in cqueues
      c:close()
    end)
  end
end)
assert(cq:loop())
