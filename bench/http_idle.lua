-- Memory per idle keep-alive connection of moonlet's HTTP server: a server
-- process, and a LuaSocket client that opens N connections, makes one
-- request on each and keeps them all open; the server's RSS (from its own
-- /proc status, asked for over HTTP) before and after, per connection.
-- Kernel socket memory is not in RSS: this is moonlet's share.
--   lua5.4 bench/http_idle.lua [N]          (needs ulimit -n above N + 64)
package.path = "./bench/?.lua;./lua/?.lua;./lua/?/init.lua;" .. package.path
package.cpath = "./" .. (os.getenv("MOONLET_BUILD") or "build") .. "/?.so;" .. package.cpath

if arg[1] == "server" then
  local m = require "moonlet"
  local B = dofile("bench/common.lua")
  local srv = assert(m.http.listen("127.0.0.1", 0, function(req, res)
    if req.path == "/rss" then
      collectgarbage()
      collectgarbage()
      return res:finish(tostring(B.rss_kb()))
    end
    res.headers:set("Content-Type", "text/plain")
    res:finish("Hello, World!")
  end, { max_connections = 100000 }))
  print(select(2, srv:address()))
  io.stdout:flush()
  return srv:serve_forever()
end

local socket = require "socket"
local N = tonumber(arg[1]) or 5000
local p = assert(io.popen("lua5.4 bench/http_idle.lua server"))
local port = assert(tonumber(p:read("l")), "no port from the server")

local request = dofile("bench/http_get.lua")

local control = assert(socket.connect("127.0.0.1", port))
request(control, "/")
local before = tonumber(request(control, "/rss"))
local conns = {}
for i = 1, N do
  conns[i] = assert(socket.connect("127.0.0.1", port))
  assert(request(conns[i], "/") == "Hello, World!")
end
local after = tonumber(request(control, "/rss"))
print(("RESULT idle_connections %d"):format(N))
print(("RESULT rss_growth_bytes_per_connection %.0f"):format((after - before) * 1024 / N))
for _, c in ipairs(conns) do c:close() end
os.execute("pkill -f 'bench/http_idle.lua server'")
p:close()
