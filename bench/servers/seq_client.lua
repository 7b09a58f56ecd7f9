-- One keep-alive connection, N requests one after the other (LuaSocket,
-- blocking); checks every answer.   lua5.4 bench/servers/seq_client.lua PORT N
local socket = require "socket"
local port, n = tonumber(arg[1]), tonumber(arg[2])
local c = assert(socket.connect("127.0.0.1", port))
local REQ = "GET /plaintext HTTP/1.1\r\nHost: localhost\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n"
for _ = 1, n do
  assert(c:send(REQ))
  local len
  while true do
    local l = assert(c:receive("*l"))
    if l == "" then break end
    len = len or tonumber(l:match("^[Cc]ontent%-[Ll]ength: (%d+)"))
  end
  assert(c:receive(len) == "Hello, World!")
end
