-- LuaSocket-style request/response over loopback, one connection: the
-- client sends a line and reads the answer line ("*l"), N times, against
-- a moonlet line echo server in another process. Client CPU per request
-- (the client process's user+sys, start-up included, and the loop alone),
-- through moonlet.socket, moonlet's own m.tcp streams, the real LuaSocket
-- in blocking mode, and luv. Medians of REPS runs, taking turns.
--   lua5.4 bench/luasocket.lua [REPS [N]]        (make bench-socket)
package.path = "./bench/?.lua;" .. package.path
local D = require "driver"
local B = dofile("bench/common.lua")

local MSG = "GET key:000042\n"

local function server()
  local m = require "moonlet"
  local srv = assert(m.tcp.listen("127.0.0.1", 0, function(s)
    while true do
      local line = s:read("L")
      if not line or not s:write(line) then return end
    end
  end))
  local _, port = srv:address()
  io.write(port, "\n")
  io.flush()
  m.sleep(1e9)
end

local clients = {}

function clients.luasocket(port, n)
  local socket = require "socket"
  local c = assert(socket.connect("127.0.0.1", port))
  local t0 = os.clock()
  for _ = 1, n do
    c:send(MSG)
    assert(c:receive("*l") == "GET key:000042")
  end
  local dt = os.clock() - t0
  c:close()
  return dt
end

function clients.moonlet_socket(port, n)
  local m = require "moonlet"
  m.patch()
  return clients.luasocket(port, n) -- the same code, patched
end

-- The same code in a task rather than the main chunk (whose waits make
-- the loop poll once more: it stops the loop to continue).
function clients.moonlet_socket_task(port, n)
  local m = require "moonlet"
  m.patch()
  return m.spawn(clients.luasocket, port, n):await()
end

-- The floor of any event loop in Lua: luv's raw callbacks, one read
-- callback per answer (no coroutines, no waits).
function clients.luv(port, n)
  local uv = require "luv"
  local c, left, buf, t0 = uv.new_tcp(), n, "", nil
  c:connect("127.0.0.1", port, function(err)
    assert(not err, err)
    t0 = os.clock()
    c:read_start(function(rerr, chunk)
      assert(not rerr and chunk, rerr)
      buf = buf .. chunk
      local line, rest = buf:match("^([^\n]*)\n(.*)$")
      if not line then return end
      assert(line == "GET key:000042")
      buf = rest
      left = left - 1
      if left == 0 then c:close() else c:write(MSG) end
    end)
    c:write(MSG)
  end)
  uv.run()
  return os.clock() - t0
end

function clients.moonlet_tcp(port, n)
  local m = require "moonlet"
  local c = assert(m.tcp.connect("127.0.0.1", port))
  local t0 = os.clock()
  for _ = 1, n do
    c:write(MSG)
    assert(c:read("l") == "GET key:000042")
  end
  local dt = os.clock() - t0
  c:close()
  return dt
end

if arg[1] == "server" then return server() end
if arg[1] == "client" then
  local port, n = tonumber(arg[3]), tonumber(arg[4])
  local dt = clients[arg[2]](port, n)
  B.result("loop_us", dt / n * 1e6)
  B.result("process_us", os.clock() / n * 1e6) -- the whole process's CPU so far
  B.exit()
end

local REPS, N = tonumber(arg[1]) or 5, tonumber(arg[2]) or 50000
local srv = assert(io.popen(D.pin(0) .. "lua5.4 bench/luasocket.lua server", "r"))
local port = assert(tonumber(srv:read("l")), "no port from the server")
local impls = {
  { "moonlet.socket (LuaSocket patched), main chunk", "moonlet_socket" },
  { "moonlet.socket (LuaSocket patched), in a task", "moonlet_socket_task" },
  { "moonlet m.tcp streams, main chunk", "moonlet_tcp" },
  { "LuaSocket, blocking", "luasocket" },
  { "luv raw callbacks (an event loop's floor)", "luv" },
}
local res = {}
for _ = 1, REPS do
  for _, impl in ipairs(impls) do
    local out = D.sh(("%slua5.4 bench/luasocket.lua client %s %d %d"):format(D.pin(1), impl[2], port, N))
    res[impl] = res[impl] or { loop = {}, process = {} }
    table.insert(res[impl].loop, (assert(tonumber(out:match("RESULT loop_us (%S+)")), out)))
    table.insert(res[impl].process, (assert(tonumber(out:match("RESULT process_us (%S+)")), out)))
  end
end
D.sh("pkill -f 'bench/luasocket.lua server'")
srv:close()

print(("### LuaSocket-style request/response: %d requests on one connection, client CPU µs/request, median of %d"):format(N, REPS))
print("\n| client | loop | whole process | moonlet.socket vs this (loop) |")
print("|---|---:|---:|---:|")
local base = D.median(res[impls[1]].loop)
for _, impl in ipairs(impls) do
  local loop, proc = D.median(res[impl].loop), D.median(res[impl].process)
  print(("| %s | %.2f | %.2f | %s |"):format(impl[1], loop, proc,
    impl == impls[1] and "-" or ("%.2fx"):format(base / loop)))
end
