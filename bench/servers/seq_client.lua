-- One keep-alive connection, N requests one after the other (LuaSocket,
-- blocking); checks every answer.   lua5.4 bench/servers/seq_client.lua PORT N
local socket = require "socket"
local get = dofile("bench/http_get.lua")
local port, n = tonumber(arg[1]), tonumber(arg[2])
local c = assert(socket.connect("127.0.0.1", port))
for _ = 1, n do
  assert(get(c, "/plaintext", "User-Agent: bench\r\nAccept: */*\r\n") == "Hello, World!")
end
