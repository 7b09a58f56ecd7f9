-- One keep-alive connection, N requests one after the other (LuaSocket,
-- blocking); checks every answer. realistic: bench/servers/realistic.lua's
-- request (a query, ten header fields) and its 1 KB answer.
--   lua5.4 bench/servers/seq_client.lua PORT N [realistic]
local socket = require "socket"
local get = dofile("bench/http_get.lua")
local port, n, realistic = tonumber(arg[1]), tonumber(arg[2]), arg[3] == "realistic"
local c = assert(socket.connect("127.0.0.1", port))
local REALISTIC = '{"id":"42","items":"' .. ("x"):rep(1000) .. '"}'
local FIELDS = "User-Agent: Mozilla/5.0 (X11; Linux x86_64) bench/1.0\r\nAccept: application/json, text/plain, */*\r\n"
  .. "Accept-Language: en-US,en;q=0.9\r\nAccept-Encoding: identity\r\n"
  .. "Cookie: session=0123456789abcdef; theme=dark\r\nReferer: http://127.0.0.1/app/items\r\n"
  .. "Cache-Control: no-cache\r\nX-Request-Id: req-7f3a9c\r\nConnection: keep-alive\r\n"
for _ = 1, n do
  if realistic then
    assert(get(c, "/api/items?id=42&sort=name&page=3", FIELDS) == REALISTIC)
  else
    assert(get(c, "/plaintext", "User-Agent: bench\r\nAccept: */*\r\n") == "Hello, World!")
  end
end
