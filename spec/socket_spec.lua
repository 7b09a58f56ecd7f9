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
    local closed_port = U.free_port()
    local want = scenario(real, port, closed_port)
    local got = scenario(ms, port, closed_port)
    assert.same(want, got)
    -- and it is the right thing
    assert.equal("tcp{client}", got.class)
    assert.same({ 11 }, got.send)
    assert.same({ "hello" }, got.line)
    assert.same({ 14 }, got.range)
    assert.same({ nil, "timeout", "abc" }, got.partial)
    assert.same({ 100000, nil, nil }, got.all)
    assert.same({ nil, "closed", "" }, got.after_close)
    assert.same({ nil, "connection refused" }, got.refused)
    assert.equal("tcp{master}", got.master)
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

  it("does not spin the loop on data nobody reads, and survives a descriptor closed behind its back", function()
    local port, stop = start_server()
    finally(stop)
    local c = assert(ms.connect("127.0.0.1", port))
    m.spawn(function() m.sleep(0.05); c:send("echo one\n") end)
    assert.equal("one", c:receive()) -- waited: its poll now stays, watching
    c:send("echo two\n") -- an answer nobody reads
    local before = m.stats().iterations
    m.sleep(0.2)
    assert.is_true(m.stats().iterations - before < 50) -- not a busy loop
    assert.equal("two", c:receive())
    c:close()
    -- A socket closed without moonlet.socket knowing, while its poll
    -- watches; the next accepted one gets its number at once.
    local srv = assert(ms.bind("127.0.0.1", 0))
    local _, sport = srv:getsockname()
    local r1 = assert(real.connect("127.0.0.1", sport))
    local a1 = assert(srv:accept())
    m.spawn(function() m.sleep(0.05); r1:send("x\n") end)
    assert.equal("x", a1:receive()) -- waited: its poll now watches
    local fd = a1:getfd()
    local r2 = assert(real.connect("127.0.0.1", sport))
    a1:getrealsocket():close()
    local a2 = assert(srv:accept())
    assert.equal(fd, a2:getfd())
    a2:settimeout(2)
    m.spawn(function() m.sleep(0.05); r2:send("y\n") end)
    assert.same({ "y" }, { a2:receive() }) -- waited for, not timed out
    for _, s in ipairs({ a2, r1, r2, srv }) do s:close() end
  end)

  it("holds against slow and resetting peers, cancellation, misuse and double close", function()
    local srv = assert(m.tcp.listen("127.0.0.1", 0, function(st)
      local cmd = st:read("l")
      if cmd == "slow" then -- a byte every 50 ms
        for ch in ("abcdefghij"):gmatch(".") do
          if not st:write(ch) then return end
          m.sleep(0.05)
        end
      elseif cmd == "reset" then -- reads a little, then closes with unread data: a reset
        st:read(10)
      else
        for line in st:lines() do st:write(line, "\n") end
      end
    end))
    finally(function() srv:close() end)
    local _, port = srv:address()
    -- a total timeout bounds the whole call, however steadily bytes come
    local c = assert(ms.connect("127.0.0.1", port))
    c:send("slow\n")
    c:settimeout(0.2, "t")
    local data, err, partial = c:receive(10)
    assert.same({ nil, "timeout" }, { data, err })
    assert.is_true(#partial < 10)
    c:close()
    -- a block timeout does not, while each byte comes in time
    c = assert(ms.connect("127.0.0.1", port))
    c:send("slow\n")
    c:settimeout(0.3) -- the whole takes 0.5 s
    assert.equal("abcdefghij", c:receive(10))
    c:close()
    -- a peer that resets while a large send is under way: an error and an index
    c = assert(ms.connect("127.0.0.1", port))
    c:send("reset\n")
    local big = ("x"):rep(16 << 20)
    local last, serr, sent = c:send(big)
    assert.is_nil(last)
    assert.is_true(serr == "closed" or serr:find("reset") ~= nil or serr:find("pipe") ~= nil, serr)
    assert.is_true(sent < #big)
    assert.same({ 1 }, { c:close() })
    assert.same({ 1 }, { c:close() }) -- twice
    -- a task cancelled while it waits leaves the socket usable
    c = assert(ms.connect("127.0.0.1", port))
    c:send("echo\n") -- the server echoes the lines after this one
    local t = m.spawn(function() return c:receive() end)
    m.sleep(0.02)
    t:cancel()
    assert.is_false((pcall(t.await, t)))
    c:settimeout(2)
    c:send("after\n")
    assert.equal("after", c:receive())
    -- misuse raises as LuaSocket's does
    local rs = real.tcp()
    for _, args in ipairs({ { "x" }, { 1, "z" } }) do
      local _, want = pcall(rs.settimeout, rs, table.unpack(args))
      local _, got = pcall(c.settimeout, c, table.unpack(args))
      assert.equal(want:match("%((.*)%)$"), got:match("%((.*)%)$"))
      assert.equal(want:match("#(%d)"), got:match("#(%d)"))
    end
    rs:close()
    c:close()
    assert.same({ nil, "closed", "" }, { c:receive() }) -- used after close, as LuaSocket says
    assert.same({ nil, "closed", 0 }, { c:send("x") })
  end)

  it("wakes the tasks waiting on a socket that another task closes", function()
    local srv = assert(m.tcp.listen("127.0.0.1", 0, function(st)
      st:read("a") -- says nothing, until the client goes
    end))
    finally(function() srv:close() end)
    local _, port = srv:address()
    local c = assert(ms.connect("127.0.0.1", port))
    c:settimeout(30)
    local t0 = m.now()
    local reader = m.spawn(function() return c:receive() end)
    m.sleep(0.05)
    assert.is_true(c:close() == 1)
    local ok, err = reader:await()
    assert.same({ nil, "closed" }, { ok, err })
    assert.is_true(m.now() - t0 < 10, "woke at its timeout, not at the close")
    -- a second wait, on a socket closed while a first one waited for writing
    c = assert(ms.connect("127.0.0.1", port))
    c:settimeout(30)
    local big = ("x"):rep(64 << 20) -- more than the kernel buffers: the send waits
    local writer = m.spawn(function() return c:send(big) end)
    m.sleep(0.05)
    c:close()
    local last, serr = writer:await()
    assert.is_nil(last)
    assert.equal("closed", serr)
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

describe("moonlet.socket, server side and the rest of LuaSocket", function()
  -- One server scenario, run against LuaSocket and moonlet.socket.
  local function server_scenario(socket)
    local out = {}
    local srv = assert(socket.bind("127.0.0.1", 0))
    out.class = srv.class
    out.name = tostring(srv):match("^[^:]+")
    local _, port = srv:getsockname()
    out.rebind = { socket.bind("127.0.0.1", port) } -- taken
    srv:settimeout(0.05)
    out.nobody = { srv:accept() }
    srv:settimeout(nil)
    local c = assert(socket.connect("127.0.0.1", port))
    local a = assert(srv:accept())
    out.accepted = { a.class, tostring(a):match("^[^:]+") }
    out.options = {
      a:setoption("tcp-nodelay", true), a:getoption("tcp-nodelay"),
      a:setoption("keepalive", true), a:getoption("keepalive"),
      a:setoption("linger", { on = true, timeout = 1 }), a:getoption("linger").on,
      c:getoption("reuseaddr"), a:getfamily(), a:dirty(),
    }
    out.bad_option = { pcall(a.setoption, a, "no-such-option", true) }
    out.bad_option[2] = out.bad_option[2] and tostring(out.bad_option[2]):match("unsupported option") ~= nil
    c:send("hello\n")
    out.got = { a:receive() }
    local received, sent = a:getstats()
    out.stats = { received, sent, c:setstats(10, 20, 30) }
    local r2, s2, age = c:getstats()
    out.stats2 = { r2, s2, age >= 30 }
    out.shutdown = { c:shutdown("send") }
    out.after_shutdown = { a:receive() }
    out.peer_of_closed = { a:send("bye\n") }
    out.read_back = { c:receive() }
    c:close()
    a:close()
    out.srv_close = { srv:close() }
    return out
  end

  it("gives what LuaSocket gives for bind, accept, options, stats and shutdown", function()
    local want, got = server_scenario(real), server_scenario(ms)
    assert.same(want, got)
    assert.same({ nil, "timeout" }, got.nobody)
    assert.same({ nil, "address already in use" }, got.rebind)
    assert.same({ "tcp{server}", "tcp{client}" }, { got.class, got.accepted[1] })
  end)

  it("gives what LuaSocket gives over IPv6", function()
    local function v6(socket)
      local srv, err = socket.bind("::1", 0)
      if not srv then return { err } end -- no IPv6 loopback: the same error
      local _, port, family = srv:getsockname()
      local c = assert(socket.connect("::1", port))
      local a = assert(srv:accept())
      c:send("over six\n")
      local out = { family, a:receive(), (c:getpeername()), select(3, c:getpeername()), a:getfamily() }
      for _, x in ipairs({ c, a, srv }) do x:close() end
      return out
    end
    assert.same(v6(real), v6(ms))
  end)

  it("socket.dns gives LuaSocket's answers, looked up through m.dns", function()
    assert.are_not.equal(real.dns.toip, ms.dns.toip)
    for _, host in ipairs({ "localhost", "127.0.0.1", "no.such.host.invalid", "::1" }) do
      assert.same({ real.dns.toip(host) }, { ms.dns.toip(host) }, host)
      assert.same({ real.dns.getaddrinfo(host) }, { ms.dns.getaddrinfo(host) }, host)
    end
    for _, host in ipairs({ "127.0.0.1", "localhost", "no.such.host.invalid" }) do
      assert.same({ real.dns.tohostname(host) }, { ms.dns.tohostname(host) }, host)
    end
    assert.same({ real.dns.getnameinfo("127.0.0.1", 80) }, { ms.dns.getnameinfo("127.0.0.1", 80) })
    assert.equal(real.dns.gethostname(), ms.dns.gethostname())
    -- the lookups are m.dns's, which wait in the task
    local lookups, lookup = 0, m.dns.lookup
    m.dns.lookup = function(...) lookups = lookups + 1; return lookup(...) end
    local ok, ip = pcall(ms.dns.toip, "localhost")
    m.dns.lookup = lookup
    assert.same({ true, "127.0.0.1", 1 }, { ok, ip, lookups })
  end)

  it("select watches sockets past _SETSIZE, raw descriptors, and what LuaSocket's select refuses", function()
    local fillers = {}
    finally(function() for _, s in ipairs(fillers) do s:close() end end)
    local last
    repeat -- use up descriptors until one is past FD_SETSIZE
      last = assert(ms.udp4())
      fillers[#fillers + 1] = last
    until last:getfd() > ms._SETSIZE + 2
    assert(last:setsockname("127.0.0.1", 0))
    local _, port = last:getsockname()
    assert.is_false(pcall(real.select, { last:getrealsocket() }, nil, 0)) -- LuaSocket cannot
    assert.same({ {}, {}, "timeout" }, { ms.select(fillers, nil, 0) })
    local sender = assert(ms.udp4())
    fillers[#fillers + 1] = sender
    m.spawn(function() m.sleep(0.01); sender:sendto("x", "127.0.0.1", port) end)
    local r = ms.select(fillers, nil, 5)
    assert.same({ last, [last] = true }, r)
    local w = select(2, ms.select(nil, { sender, math.tointeger(sender:getfd()) }, 1))
    assert.equal(2, #w) -- a raw descriptor is returned as given
    assert.equal(sender, w[1])
    assert.equal(math.tointeger(sender:getfd()), w[2])
  end)
end)

describe("m.patch", function()
  local function run(body)
    local status, out, err = U.run_script('local m = require "moonlet"\n' .. body)
    assert.equal(0, status, err)
    return out, err
  end

  it("makes socket.http concurrent: 100 requests to a slow server all in flight together", function()
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
for i = 1, 100 do fs[i] = function() return http.request(("http://127.0.0.1:%d/%d"):format(port, i)) end end
local r = m.gather(fs)
print(max, r[1], r[100])
srv:close()
]])
    assert.equal("100\tslow /1\tslow /100\n", out)
  end)

  it("refuses, clearly, when LuaSocket was loaded before it", function()
    local _, err = pcall(run, [[
require "socket"
m.patch()
]])
    assert.matches("m.patch%(%): LuaSocket was loaded before it", err)
  end)

  it("runs redis-lua concurrently: 50 BLPOPs block together", function()
    local port = U.free_port()
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
-- A 10,000-command pipeline, written on redis-lua's own (patched)
-- socket at once and read back (redis-lua's pipeline() fails on 5.3+).
local sock = admin.network.socket
local cmds = {}
for i = 1, 10000 do cmds[i] = ("*3\r\n$6\r\nINCRBY\r\n$1\r\nn\r\n$%%d\r\n%%d\r\n"):format(#tostring(i), i) end
local sent = sock:send(table.concat(cmds))
local last, bad
for i = 1, 10000 do
  last = sock:receive("*l")
  if last ~= (":%%d"):format(i * (i + 1) // 2) then bad = i end
end
print(blocked, got, sent == #table.concat(cmds), last, bad)
admin:quit()
]]):format(port))
    assert.equal("50\t50\ttrue\t:50005000\tnil\n", out)
  end)

  it("makes LuaSec cooperative: ssl.https and ssl.wrap against a TLS nginx", function()
    local backend = U.free_port()
    local srv = require("support.tls_nginx").start(
      ("location / { proxy_pass http://127.0.0.1:%d; }"):format(backend))
    finally(srv.stop)
    local out = run(([[
m.patch()
local https = require "ssl.https"
local ssl = require "ssl"
local active, max = 0, 0
local b = assert(m.http.listen("127.0.0.1", %d, function(req, res)
  active = active + 1
  if active > max then max = active end
  m.sleep(0.2)
  active = active - 1
  res:finish("slow " .. req.path)
end))
local fs = {}
for i = 1, 10 do fs[i] = function() return https.request("https://127.0.0.1:%d/" .. i) end end
local r = m.gather(fs)
print(max, r[1], r[10])
-- ssl.wrap by hand, verifying the server's certificate
local socket = require "socket"
local c = assert(socket.connect("127.0.0.1", %d))
local conn = assert(ssl.wrap(c, { mode = "client", protocol = "any", verify = "peer", cafile = %q }))
print(conn:dohandshake())
local ticks, ticking = 0, true
local ticker = m.spawn(function() while ticking do ticks = ticks + 1; m.sleep(0) end end)
conn:send("GET /x HTTP/1.0\r\nHost: localhost\r\n\r\n")
print(conn:receive("*l")) -- the backend takes 0.2 s: other tasks run
ticking = false
ticker:await()
print(conn:receive("*a"):match("slow /x$"), ticks > 0)
conn:close()
-- a handshake with a server that is not TLS times out as LuaSec's does
local plain = assert(socket.bind("127.0.0.1", 0))
local _, pport = plain:getsockname()
local c2 = assert(socket.connect("127.0.0.1", pport))
local conn2 = assert(ssl.wrap(c2, { mode = "client", protocol = "any" }))
conn2:settimeout(0.1)
print(conn2:dohandshake())
conn2:close()
plain:close()
b:close()
]]):format(backend, srv.port, srv.port, srv.ca))
    assert.equal("10\tslow /1\tslow /10\ntrue\nHTTP/1.1 200 OK\nslow /x\ttrue\nfalse\twantread\n", out)
  end)

  it("patches a LuaSec loaded before it in place", function()
    local out = run([[
local ssl = require "ssl"
local blocking = ssl.wrap
m.patch()
print(ssl.wrap ~= blocking, require("ssl") == ssl)
]])
    assert.equal("true\ttrue\n", out)
  end)

  it("checks its options", function()
    local out = run([[
print(select(2, pcall(m.patch, { sockets = true })))
print(select(2, pcall(m.patch, { os = "yes" })))
print(select(2, pcall(m.patch, 5)))
]])
    assert.equal("bad argument #1 to 'patch' (unknown option 'sockets')\n"
      .. "bad argument #1 to 'patch (option 'os')' (boolean expected, got string)\n"
      .. "bad argument #1 to 'patch' (table expected, got number)\n", out:gsub("[^\n]*: bad", "bad"))
  end)

  it("with os = true, runs os.execute and io.popen through m.process, with Lua's results", function()
    local out = run([[
local want = {}
local function both(label, f)
  local r = table.pack(f())
  for i = 1, r.n do r[i] = tostring(r[i]) end
  print(label, table.concat(r, " ", 1, r.n))
end
local cases = {
  { "ok", function() return os.execute("true") end },
  { "exit3", function() return os.execute("exit 3") end },
  { "signal", function() return os.execute("kill -9 $$") end },
  { "shell", function() return os.execute() end },
  { "lines", function()
      local f = io.popen("printf 'a\nb\n42 rest'")
      local a, b = f:read("l", "*l")
      local n = f:read("n")
      local rest = f:read("a")
      return a, b, n, rest, f:close()
    end },
  { "status", function() local f = io.popen("exit 5"); return f:close() end },
  { "write", function()
      local path = os.tmpname()
      local f = io.popen("cat > " .. path, "w")
      local same = f:write("x", 1, "y") == f
      local r = table.pack(f:close())
      local data = io.open(path):read("a")
      os.remove(path)
      return same, data, table.unpack(r, 1, r.n)
    end },
  { "iter", function()
      local got = {}
      for l in io.popen("printf '1\n2\n3\n'"):lines() do got[#got + 1] = l end
      return table.concat(got, ",")
    end },
}
for _, c in ipairs(cases) do both("real " .. c[1], c[2]) end
m.patch({ os = true, socket = false, ssl = false })
print(package.loaded.socket == nil and "-- patched --")
for _, c in ipairs(cases) do both("real " .. c[1], c[2]) end
-- other tasks run while a command runs
local ticks, ticking = 0, true
local ticker = m.spawn(function() while ticking do ticks = ticks + 1; m.sleep(0.01) end end)
os.execute("sleep 0.2")
local f = io.popen("sleep 0.2; echo done")
local line = f:read()
f:close()
ticking = false
ticker:await()
print(ticks > 5, line)
print(pcall(f.read, f))
print(pcall(io.popen, "true", "rw"))
]])
    local before, after = out:match("^(.-)%-%- patched %-%-\n(.*)$")
    local real_part, rest = after:match("^(" .. ("[^\n]*\n"):rep(8) .. ")(.*)$")
    assert.equal(before, real_part) -- patched results are Lua's own
    assert.matches("real ok\ttrue exit 0\n", before)
    assert.matches("real signal\tnil signal 9\n", before)
    assert.matches("real lines\ta b 42  rest true exit 0\n", before)
    assert.equal("true\tdone\nfalse\tattempt to use a closed file\n"
      .. "false\tbad argument #2 to 'popen' (invalid mode)\n", rest:gsub("\t[^\n]-: attempt", "\tattempt"):gsub("\t[^\n]-: bad", "\tbad"))
  end)
end)
