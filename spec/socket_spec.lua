-- moonlet.socket (the real LuaSocket, Debian lua-socket, made cooperative)
-- against a server in another process: LuaSocket's results and error
-- strings, timeouts, select; under m.patch(), socket.http and redis-lua
-- (against a redis-server the spec starts) run concurrently.
local m = require "moonlet"
local U = require "support.util"

teardown(U.assert_clean)

local real = require "socket" -- LuaSocket itself, for reference
local ms = require "moonlet.socket"

local function start_server()
  local env = m.process.environ() -- sanitizer settings included
  env.LUA_PATH = "./lua/?.lua;./lua/?/init.lua;;"
  env.LUA_CPATH = "./" .. U.build .. "/?.so;;"
  local p = assert(m.process.spawn { "lua5.4", "spec/support/line_server.lua", stdout = "pipe", env = env })
  local port = tonumber(assert(p.stdout:read("l")))
  return port, function()
    p:kill()
    p:wait()
    p:close()
  end
end

-- One client scenario; every observable result goes into the table, for
-- comparing what LuaSocket and moonlet.socket give.
local function scenario(socket, port, closed_port)
  local out = {}
  local c = assert(socket.connect("127.0.0.1", port))
  out.class = tostring(c):match("^[^:]+")
  out.send = { c:send("echo hello\n") }
  out.line = { c:receive("*l") }
  out.range = { c:send("xxecho ranged\nyy", 3, 14) }
  out.line2 = { c:receive() }
  out.peer = { c:getpeername() }
  out.count = { c:send("echo 0123456789\n") }
  out.bytes = { c:receive(4) }
  out.bytes_prefixed = { c:receive(6, "ab") }
  out.rest = { c:receive("*l") }
  c:send("partial\n")
  c:settimeout(0.1)
  out.partial = { c:receive(10) }
  out.partial_line = { c:receive("*l", "pre-") }
  out.timeouts = { c:gettimeout() }
  c:settimeout(nil)
  c:send("echo tail\n")
  out.prefixed = { c:receive("*l", "x") }
  c:send("bulk 100000\n")
  local all = { c:receive("*a") }
  out.all = { all[1] and #all[1], all[2], all[3] and #all[3] }
  out.after_close = { c:receive() }
  out.closed_send = { c:send("x") }
  out.close = { c:close() }
  out.refused = { socket.connect("127.0.0.1", closed_port) }
  local t = socket.tcp()
  out.master = tostring(t):match("^[^:]+")
  local ok, err = pcall(t.receive, t)
  -- Misuse raises; how Lua names the caller differs, LuaSocket's reason not.
  out.unconnected = { ok, tostring(err):match("%(tcp{client} expected%)$") }
  t:close()
  out.used_after_close = { pcall(t.send, t, "x") }
  out.used_after_close[2] = out.used_after_close[2] and tostring(out.used_after_close[2]):match("closed") ~= nil
  return out
end

describe("moonlet.socket", function()
  it("gives exactly what LuaSocket gives for the same client scenario", function()
    local port, stop = start_server()
    finally(stop)
    local probe = assert(m.tcp.listen("127.0.0.1", 0))
    local _, closed_port = probe:address()
    probe:close()
    local want = scenario(real, port, closed_port)
    local got = scenario(ms, port, closed_port)
    assert.same(want, got)
    assert.same({ nil, "timeout", "abc" }, got.partial) -- and it is the right thing
    assert.same({ nil, "connection refused" }, got.refused)
  end)

  it("gives LuaSocket's results and error strings", function()
    local port, stop = start_server()
    finally(stop)
    local c = assert(ms.connect("127.0.0.1", port))
    assert.matches("^tcp{client}: ", tostring(c))
    assert.same({ 11 }, { c:send("echo hello\n") })
    assert.same({ "hello" }, { c:receive("*l") })
    assert.same({ 14 }, { c:send("xxecho ranged\nyy", 3, 14) })
    assert.same({ "ranged" }, { c:receive() })
    assert.same("127.0.0.1", (c:getpeername()))
    c:send("bulk 100000\n")
    assert.equal(100000, #c:receive("*a"))
    assert.same({ nil, "closed", "" }, { c:receive() }) -- LuaSocket gives the partial too
    c:close()
    local probe = assert(m.tcp.listen("127.0.0.1", 0))
    local _, closed_port = probe:address()
    probe:close()
    assert.same({ nil, "connection refused" }, { ms.connect("127.0.0.1", closed_port) })
    assert.matches("^tcp{master}: ", tostring(ms.tcp()))
  end)

  it("gives what LuaSocket gives for datagrams: sendto, receivefrom, timeouts", function()
    local function udp_scenario(socket)
      local out = {}
      local a, b = assert(socket.udp()), assert(socket.udp())
      out.bind = { a:setsockname("127.0.0.1", 0), b:setsockname("127.0.0.1", 0) }
      local _, bport = b:getsockname()
      local _, aport = a:getsockname()
      out.class = tostring(a):match("^[^:]+")
      out.sendto = { a:sendto("ping", "127.0.0.1", bport) }
      local data, ip, port = b:receivefrom()
      out.receivefrom = { data, ip, port == aport }
      b:settimeout(0.05)
      out.timeout = { b:receivefrom() }
      out.peer = { b:setpeername("127.0.0.1", aport) }
      out.send = { b:send("pong") }
      out.receive = { a:receive() }
      a:close()
      b:close()
      return out
    end
    local want, got = udp_scenario(real), udp_scenario(ms)
    assert.same(want, got)
    assert.same({ nil, "timeout" }, got.timeout)
  end)

  it("lets other tasks run while a socket waits, and honours block and total timeouts", function()
    local port, stop = start_server()
    finally(stop)
    local c = assert(ms.connect("127.0.0.1", port))
    local ran = false
    local other = m.spawn(function() ran = true end)
    c:send("partial\n")
    c:settimeout(0.1)
    assert.same({ nil, "timeout", "abc" }, { c:receive("*l") })
    assert.is_true(ran) -- it ran while the socket waited
    other:await()
    c:settimeout(nil)
    c:settimeout(0.05, "t")
    assert.same({ nil, "timeout", "" }, { c:receive("*l") })
    assert.same({ -1, 0.05 }, { c:gettimeout() })
    c:close()
  end)

  it("select waits cooperatively for the first ready socket", function()
    local port, stop = start_server()
    finally(stop)
    local a = assert(ms.connect("127.0.0.1", port))
    local b = assert(ms.connect("127.0.0.1", port))
    assert.same({ {}, {}, "timeout" }, { ms.select({ a, b }, nil, 0.02) })
    m.spawn(function() m.sleep(0.01); b:send("echo ready\n") end)
    local r = ms.select({ a, b }, nil, 2)
    assert.equal(1, #r)
    assert.equal(b, r[1])
    assert.is_true(r[b])
    assert.equal("ready", b:receive())
    a:close()
    b:close()
  end)
end)

describe("m.patch", function()
  local function run(body)
    local status, out, err = U.run_script('local m = require "moonlet"\n' .. body)
    assert.equal(0, status, err)
    return out, err
  end

  it("makes socket.http concurrent: 10 requests to a slow server all in flight together", function()
    local out = run([[
m.patch()
local http = require "socket.http"
local active, max = 0, 0
local srv = assert(m.http.listen("127.0.0.1", 0, function(req, res)
  active = active + 1
  if active > max then max = active end
  m.sleep(0.2)
  active = active - 1
  res:finish("slow " .. req.path)
end))
local _, port = srv:address()
local fs = {}
for i = 1, 10 do fs[i] = function() return http.request(("http://127.0.0.1:%d/%d"):format(port, i)) end end
local r = m.gather(fs)
print(max, r[1], r[10])
srv:close()
]])
    assert.equal("10\tslow /1\tslow /10\n", out)
  end)

  it("refuses, clearly, when LuaSocket was loaded before it", function()
    local _, err = pcall(run, [[
require "socket"
m.patch()
]])
    assert.matches("m.patch%(%): LuaSocket was loaded before it", err)
  end)

  it("runs redis-lua concurrently: 50 BLPOPs block together", function()
    local probe = assert(m.tcp.listen("127.0.0.1", 0))
    local _, port = probe:address()
    probe:close()
    local redis = assert(m.process.spawn { "redis-server", "--port", tostring(port),
      "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", stdout = "null",
      env = { PATH = os.getenv("PATH") } }) -- no sanitizer preloaded into redis
    finally(function()
      redis:kill("KILL")
      redis:wait()
      redis:close()
    end)
    local out = run(([[
m.patch()
package.path = "/usr/share/lua/5.3/?.lua;" .. package.path
local redis = require "redis"
local port = %d
local admin
for _ = 1, 100 do -- until redis-server listens
  local ok, c = pcall(redis.connect, "127.0.0.1", port)
  if ok then admin = c break end
  m.sleep(0.02)
end
local tasks = {}
for i = 1, 50 do
  tasks[i] = m.spawn(function()
    local c = redis.connect("127.0.0.1", port)
    local r = c:blpop("queue", 5)
    c:quit()
    return r and r[2]
  end)
end
local blocked
for _ = 1, 200 do
  blocked = tonumber(admin:info("clients").clients.blocked_clients)
  if blocked == 50 then break end
  m.sleep(0.01)
end
for i = 1, 50 do admin:rpush("queue", "item" .. i) end
local got = 0
for _, t in ipairs(tasks) do if t:await() then got = got + 1 end end
print(blocked, got)
admin:quit()
]]):format(port))
    assert.equal("50\t50\n", out)
  end)
end)
