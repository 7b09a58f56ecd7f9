-- Streams over real sockets on 127.0.0.1 and Unix-domain pipes: formats,
-- failures of every kind, timeouts, cancellation, many connections, a large
-- transfer in bounded memory, and no descriptor left behind.
local m = require "moonlet"
local U = require "support.util"

local LOCAL = "127.0.0.1"

-- A server whose handler is fn, closed when the spec ends however it
-- ends; returns the server and its port.
local function server(fn, opts)
  local srv = assert(m.tcp.listen(LOCAL, 0, fn, opts))
  finally(function() srv:close() end)
  local _, port = srv:address()
  return srv, port
end

local function echo(s)
  for line in s:lines("L") do assert(s:write(line)) end
end

describe("moonlet.tcp", function()
  -- libuv keeps one descriptor in reserve from a loop's first listen on
  local before_all, after_all = U.descriptor_check(function() assert(m.tcp.listen(LOCAL, 0)):close() end)
  setup(before_all)
  teardown(after_all)

  it("echoes lines between a client and a server", function()
    local srv, port = server(echo)
    local c = assert(m.tcp.connect(LOCAL, port))
    assert.equal(c, c:write("one\n", "two", "\n", 3, "\n"))
    assert.equal("one", c:read("l"))
    assert.equal("two\n", c:read("L"))
    assert.equal("3", c:read("l"))
    local host, p = c:peer()
    assert.equal(LOCAL, host)
    assert.equal(port, p)
    local lh, lp = c:local_address()
    assert.equal(LOCAL, lh)
    assert.is_true(lp > 0)
    c:close()
    srv:close()
  end)

  it("reads every format: counts, chunks, numbers, all, read(0), lines", function()
    local srv, port = server(function(s)
      s:write("abcdef", "12 0x10 -3.5\n", "last line\nno newline")
      s:close()
    end)
    local c = assert(m.tcp.connect("localhost", port))
    assert.equal("abc", c:read(3))
    assert.equal("", c:read(0))
    assert.equal("def", c:read(3))
    assert.equal(12, c:read("n"))
    assert.equal(16, c:read("*n"))
    assert.equal(-3.5, c:read("n"))
    assert.equal("", c:read("l")) -- the rest of that line
    local lines = {}
    for l in c:lines() do lines[#lines + 1] = l end
    assert.same({ "last line", "no newline" }, lines)
    assert.is_nil(c:read("l"))
    assert.is_nil(c:read(1))
    assert.is_nil(c:read(0))
    assert.is_nil(c:read())
    assert.equal("", c:read("a"))
    c:close()
    srv:close()
  end)

  it("read(n) waits for exactly n bytes across many small writes; read() takes a chunk", function()
    local srv, port = server(function(s)
      for i = 1, 10 do s:write(tostring(i % 10)); m.sleep(0.001) end
      assert.equal("go", s:read(2))
      s:write("xyz")
      s:read("a")
    end)
    local c = assert(m.tcp.connect(LOCAL, port))
    assert.equal("1234567890", c:read(10))
    c:write("go")
    local chunk = c:read()
    assert.is_true(#chunk >= 1 and ("xyz"):sub(1, #chunk) == chunk)
    c:close()
    srv:close()
  end)

  it("reads a long line arriving in small pieces, and refuses one over max_line", function()
    local piece = ("x"):rep(1000)
    local srv, port = server(function(s)
      for _ = 1, 200 do s:write(piece) end
      s:write("\n")
      s:write(("y"):rep(5000), "\n", "ok\n")
      s:read("a")
    end)
    local c = assert(m.tcp.connect(LOCAL, port))
    assert.equal(200000, #c:read("l"))
    c:set_max_line(4096)
    local v, err, code = c:read("l")
    assert.is_nil(v)
    assert.equal("ENOBUFS", code)
    assert.matches("max_line", err)
    assert.equal(("y"):rep(5000), c:read(5000)) -- nothing was consumed
    c:set_max_line(1 << 20)
    assert.equal("", c:read("l"))
    assert.equal("ok", c:read("l"))
    c:close()
    srv:close()
  end)

  it("reports connection refused", function()
    local srv, port = server(function() end)
    srv:close()
    m.sleep(0.01)
    local s, err, code = m.tcp.connect(LOCAL, port)
    assert.is_nil(s)
    assert.equal("ECONNREFUSED", code)
    assert.matches("^ECONNREFUSED: ", err)
  end)

  it("reports a peer reset in the middle of a read", function()
    local srv, port = server(function(s)
      m.sleep(0.05)
      s:close() -- unread data in its buffer: the kernel answers with RST
    end)
    local c = assert(m.tcp.connect(LOCAL, port))
    c:write("data the server never reads")
    local v, err, code = c:read("a")
    assert.is_nil(v)
    assert.equal("ECONNRESET", code)
    assert.is_string(err)
    -- the error sticks
    assert.equal("ECONNRESET", select(3, c:read()))
    c:close()
    srv:close()
  end)

  it("fails a write when the peer closes in the middle of it", function()
    local srv, port = server(function(s) s:read(10); s:close() end)
    local c = assert(m.tcp.connect(LOCAL, port))
    local block = ("z"):rep(1 << 20)
    local ok, err, code
    for _ = 1, 200 do
      ok, err, code = c:write(block)
      if not ok then break end
    end
    assert.is_nil(ok)
    assert.is_truthy(code == "EPIPE" or code == "ECONNRESET", tostring(err))
    assert.equal(code, select(3, c:write("more")))
    c:close()
    srv:close()
  end)

  it("half-closes: the server reads to the end, then still answers", function()
    local srv, port = server(function(s)
      local all = s:read("a")
      s:write("got ", #all, " bytes")
    end)
    local c = assert(m.tcp.connect(LOCAL, port))
    c:write(("q"):rep(100000))
    assert.equal(c, c:shutdown())
    assert.equal("got 100000 bytes", c:read("a"))
    c:close()
    srv:close()
  end)

  it("times out a connect when the peer's backlog is full", function()
    local srv = assert(m.tcp.listen(LOCAL, 0, nil, { backlog = 1 }))
    local _, port = srv:address()
    local conns, timed_out = {}, false
    for _ = 1, 20 do
      local s, err, code = m.tcp.connect(LOCAL, port, { timeout = 0.2 })
      if not s then
        assert.equal("ETIMEDOUT", code, err)
        timed_out = true
        break
      end
      conns[#conns + 1] = s
    end
    assert.is_true(timed_out)
    for _, s in ipairs(conns) do s:close() end
    srv:close()
  end)

  it("times out reads and writes with set_timeout; the stream stays usable", function()
    local go = m.event()
    local srv, port = server(function(s)
      go:wait()
      s:write("late\n")
      assert.equal(8 << 20, #s:read(8 << 20))
      s:write("done\n")
    end)
    local c = assert(m.tcp.connect(LOCAL, port))
    c:set_timeout(0.05)
    local v, err, code = c:read("l")
    assert.is_nil(v)
    assert.equal("ETIMEDOUT", code)
    assert.is_string(err)
    -- a write the peer does not read stalls once the kernel buffers fill
    v, err, code = c:write(("w"):rep(8 << 20))
    assert.is_nil(v)
    assert.equal("ETIMEDOUT", code)
    assert.matches("^ETIMEDOUT: ", err)
    c:set_timeout(nil)
    go:set()
    assert.equal("late", c:read("l"))
    assert.equal("done", c:read("l")) -- the timed-out write still got there whole
    c:close()
    srv:close()
  end)

  it("reports DNS failures", function()
    local s, err, code = m.tcp.connect("nonexistent.invalid", 80, { timeout = 3 })
    assert.is_nil(s)
    assert.is_string(err)
    assert.is_truthy(code:match("^EAI_") or code == "ETIMEDOUT", code)
    local a, _, c2 = m.dns.lookup("nonexistent.invalid", { timeout = 3 })
    assert.is_nil(a)
    assert.is_truthy(c2:match("^EAI_") or c2 == "ETIMEDOUT", c2)
  end)

  it("resolves names and addresses with moonlet.dns", function()
    local ip, family = m.dns.lookup("localhost", { family = 4 })
    assert.equal("127.0.0.1", ip)
    assert.equal(4, family)
    local all = m.dns.lookup("127.0.0.1", { all = true })
    assert.same({ { address = "127.0.0.1", family = 4 } }, all)
    assert.is_string(m.dns.reverse("127.0.0.1"))
    -- a caller cancelled mid-lookup leaves the request to finish alone; the
    -- cancel comes in the same turn, before the loop could see an answer
    local t = m.spawn(function() return m.dns.lookup("localhost") end)
    m.spawn(function() t:cancel() end)
    assert.is_false(pcall(t.await, t))
    assert.is_true(t:cancelled())
    assert.equal("127.0.0.1", (m.dns.lookup("localhost", { family = 4 })))
    assert.has_error(function() m.dns.reverse("not an ip") end)
    assert.has_error(function() m.dns.lookup("x", { family = 5 }) end)
    assert.has_error(function() m.dns.lookup(nil) end)
  end)

  it("serves 1,000 concurrent connections", function()
    local N = 1000
    local active, all_in = 0, m.event()
    local srv, port = server(function(s)
      -- nobody is answered before every connection is open at once
      active = active + 1
      if active == N then all_in:set() end
      local l = s:read("l")
      all_in:wait()
      s:write(l, "!\n")
    end)
    local replies = m.gather((function()
      local fns = {}
      for i = 1, N do
        fns[i] = function()
          local c = assert(m.tcp.connect(LOCAL, port))
          c:write(i, "\n")
          local r = c:read("l")
          c:close()
          return r
        end
      end
      return fns
    end)())
    for i = 1, N do assert.equal(i .. "!", replies[i]) end
    assert.equal(N, active)
    srv:close()
  end)

  it("moves 100 MB with bounded memory", function()
    local MB = U.under_valgrind and 10 or 100
    local chunk = ("m"):rep(64 * 1024)
    local srv, port = server(function(s)
      for _ = 1, MB * 16 do assert(s:write(chunk)) end
    end)
    U.reset_peak_rss()
    local before = U.peak_rss_kb()
    local c = assert(m.tcp.connect(LOCAL, port))
    local got = 0
    while true do
      local data = c:read(65536)
      if not data then break end
      got = got + #data
    end
    c:close()
    srv:close()
    assert.equal(MB << 20, got)
    local growth = U.peak_rss_kb() - before
    if not U.under_asan then
      assert.is_true(growth < 32 * 1024, "peak RSS grew by " .. growth .. " KiB")
    end
  end)

  it("lends read buffers only while bytes wait, trims the spares a burst left, then rests", function()
    local N = 20
    local go = m.future()
    local got = 0
    local clients = {}
    local srv = assert(m.tcp.listen(LOCAL, 0, function(s)
      assert(s:read(5)) -- reading has started: later bytes land in a buffer
      go:await()
      assert.equal("world", s:read(5))
      got = got + 1
    end))
    finally(function()
      if not go:done() then go:cancel() end -- a failure must not leave the handlers waiting
      srv:close()
      for _, c in ipairs(clients) do c:close() end
    end)
    local _, port = srv:address()
    for i = 1, N do
      clients[i] = assert(m.tcp.connect(LOCAL, port))
      assert(clients[i]:write("hello"))
    end
    m.sleep(0.1)
    for i = 1, N do assert(clients[i]:write("world")) end
    m.sleep(0.1) -- every server stream now holds unread bytes, each in a buffer
    local before = m.stats().spare_read_buffers
    go:set_result(true)
    while got < N do m.sleep(0.01) end
    -- Each emptied buffer went back to the loop.
    assert.is_true(m.stats().spare_read_buffers >= before + N / 2)
    -- Unused for two trims, the spares go, down to the four kept.
    local deadline = m.now() + 15
    while m.stats().spare_read_buffers > 4 and m.now() < deadline do m.sleep(0.25) end
    assert.is_true(m.stats().spare_read_buffers <= 4)
    -- Then the trimming stops: a quiet loop is not woken every two seconds.
    local turns = m.stats().iterations
    m.sleep(4.5)
    assert.is_true(m.stats().iterations - turns <= 3, "the loop turned while nothing happened")
  end)

  it("keeps serving when the handler fails on every other connection", function()
    local reports, tracebacks = {}, {}
    local prev = m.on_error(function(err, tb, _, where)
      reports[#reports + 1] = tostring(err) .. " @ " .. where
      tracebacks[#tracebacks + 1] = tb
    end)
    local n = 0
    local fail_line
    local srv, port = server(function(s)
      n = n + 1
      fail_line = debug.getinfo(1, "l").currentline + 1
      if n % 2 == 0 then error("handler failed " .. n) end
      s:write("ok ", n, "\n")
    end)
    for i = 1, 6 do
      local c = assert(m.tcp.connect(LOCAL, port))
      local line = c:read("l")
      if i % 2 == 1 then assert.equal("ok " .. i, line) else assert.is_nil(line) end
      c:close()
    end
    m.sleep(0.01)
    m.on_error(prev)
    assert.equal(3, #reports)
    assert.matches("handler failed 2", reports[1])
    assert.matches("tcp server", reports[1])
    -- Each report's traceback starts where its own handler raised.
    for _, tb in ipairs(tracebacks) do
      assert.matches("net_spec.lua:" .. fail_line .. ":", tb, 1, true)
    end
    srv:close()
  end)

  it("cancelling a task blocked in read, write, connect or accept frees its handle", function()
    U.quiesce()
    local before = U.fd_count()
    local hold = {}
    local srv, port = server(function(s) hold[#hold + 1] = s; s:read("a") end)
    local full = assert(m.tcp.listen(LOCAL, 0, nil, { backlog = 1 }))
    local _, full_port = full:address()
    local idle = assert(m.tcp.listen(LOCAL, 0))
    local fillers = {}
    for _ = 1, 4 do
      local s = m.tcp.connect(LOCAL, full_port, { timeout = 0.1 })
      if s then fillers[#fillers + 1] = s end
    end
    local tasks = {
      m.spawn(function() local c = assert(m.tcp.connect(LOCAL, port)); c:read("l") end),
      m.spawn(function()
        local c = assert(m.tcp.connect(LOCAL, port))
        while c:write(("x"):rep(1 << 20)) do end
      end),
      m.spawn(function() m.tcp.connect(LOCAL, full_port) end),
      m.spawn(function() idle:accept() end),
    }
    m.sleep(0.1)
    for _, t in ipairs(tasks) do
      assert.is_false(t:done())
      t:cancel()
    end
    for _, t in ipairs(tasks) do
      assert.is_false(pcall(t.await, t))
      assert.is_true(t:cancelled())
    end
    for _, s in ipairs(fillers) do s:close() end
    for _, s in ipairs(hold) do s:close() end
    full:close()
    idle:close()
    srv:close()
    collectgarbage()
    collectgarbage()
    assert.is_true(U.settled_fd_count(before) <= before)
  end)

  it("raises on use after close; close is idempotent, also as __close and __gc", function()
    local srv, port = server(function(s) s:read("a") end)
    local c = assert(m.tcp.connect(LOCAL, port))
    c:close()
    c:close()
    assert.matches("closed", tostring(c))
    assert.has_error(function() c:read() end, "attempt to use a closed moonlet.stream")
    assert.has_error(function() c:write("x") end, "attempt to use a closed moonlet.stream")
    assert.has_error(function() c:peer() end)
    do
      local d <close> = assert(m.tcp.connect(LOCAL, port))
      d:write("x")
    end
    for _ = 1, 3 do m.tcp.connect(LOCAL, port) end -- dropped: the collector closes them
    collectgarbage()
    collectgarbage()
    srv:close()
    srv:close()
    local raw = assert(m.tcp.listen(LOCAL, 0))
    raw:close()
    assert.has_error(function() raw:accept() end, "attempt to use a closed moonlet.server")
  end)

  it("wakes a pending read with ECANCELED when another task closes the stream", function()
    local srv, port = server(function(s) s:read("a") end)
    local c = assert(m.tcp.connect(LOCAL, port))
    local t = m.spawn(function() return c:read("l") end)
    m.sleep(0.01)
    c:close()
    local v, err, code = t:await()
    assert.is_nil(v)
    assert.equal("ECANCELED", code)
    assert.matches("closed", err)
    srv:close()
  end)

  it("lets only one task read a stream at a time", function()
    local srv, port = server(function(s) s:read("a") end)
    local c = assert(m.tcp.connect(LOCAL, port))
    local t = m.spawn(function() return c:read() end)
    m.yield()
    assert.has_error(function() c:read() end, "stream is already being read by another task")
    c:close()
    t:await()
    srv:close()
  end)

  it("rejects bad arguments with clear errors", function()
    assert.has_error(function() m.tcp.connect(1, 2) end)
    assert.has_error(function() m.tcp.connect(LOCAL, "http") end, "bad argument #2 to 'connect' (port number expected, got string)")
    assert.has_error(function() m.tcp.connect(LOCAL, 8.5) end, "bad argument #2 to 'connect' (port number expected, got number)")
    assert.has_error(function() m.tcp.connect(LOCAL, 70000) end)
    assert.has_error(function() m.tcp.connect(LOCAL, 80, { timeout = "x" }) end)
    assert.has_error(function() m.tcp.connect(LOCAL, 80, { timeout = -1 }) end)
    assert.has_error(function() m.tcp.connect(LOCAL, 80, { keepalive = "x" }) end)
    assert.has_error(function() m.tcp.listen(LOCAL, 0, 42) end)
    assert.has_error(function() m.tcp.listen(LOCAL, 0, nil, { backlog = 0 }) end)
    assert.has_error(function() m.tcp.listen("256.1.1.1", 0) end)
    local s, _, code = m.tcp.listen("nonexistent.invalid", 0)
    assert.is_nil(s)
    assert.is_string(code)
    local srv, port = server(function(x) x:read("a") end)
    local c = assert(m.tcp.connect(LOCAL, port))
    assert.has_error(function() c:read("x") end)
    assert.has_error(function() c:read(-1) end)
    assert.has_error(function() c:read("l", "l") end)
    assert.has_error(function() c:write({}) end)
    assert.has_error(function() c:set_timeout("soon") end)
    assert.has_error(function() c:set_max_line(0) end)
    assert.has_error(function() c.read(srv) end)
    assert.has_error(function() c.close(42) end)
    c:close()
    srv:close()
  end)

  it("binds the local side with the bind option, and keeps options", function()
    local srv, port = server(function(s) s:write(select(2, s:peer()), "\n") end)
    local c = assert(m.tcp.connect(LOCAL, port, { bind = { LOCAL, 0 }, nodelay = true, keepalive = 30 }))
    local _, lport = c:local_address()
    assert.equal(tostring(lport), c:read("l"))
    c:close()
    srv:close()
  end)

  it("works from tasks suspended natively, e.g. inside a sort comparator", function()
    local srv, port = server(echo)
    local c = assert(m.tcp.connect(LOCAL, port))
    local t = { 3, 1, 2 }
    table.sort(t, function(a, b)
      c:write(a, "\n")
      return tonumber(c:read("l")) < b
    end)
    assert.same({ 1, 2, 3 }, t)
    c:close()
    srv:close()
  end)

  it("listen returns one kind of server, with a handler or without", function()
    local bare = assert(m.tcp.listen(LOCAL, 0))
    local served = server(function() end)
    assert.equal(getmetatable(bare), getmetatable(served))
    assert.matches("^moonlet.server %(", tostring(bare))
    assert.has_error(function() served:accept() end, "accept on a server that has a handler")
    assert.has_error(function() bare:serve_forever() end, "serve_forever on a server without a handler")
    assert.equal(bare, bare:set_timeout(0.01))
    assert.same({ nil, "ETIMEDOUT: timed out", "ETIMEDOUT" }, { bare:accept() })
    bare:close()
    assert.matches("closed", tostring(bare))
  end)

  it("lines() raises a read failure where the loop is", function()
    local hold = m.channel()
    local _, port = server(function(s) s:write("a\nb"); hold:recv() end)
    local c = assert(m.tcp.connect(LOCAL, port))
    c:set_timeout(0.05)
    local got = {}
    local ok, err = pcall(function()
      for l in c:lines() do got[#got + 1] = l end -- the peer never ends
    end)
    assert.is_false(ok)
    assert.matches("net_spec.lua:%d+: ETIMEDOUT: timed out", err)
    assert.same({ "a" }, got)
    c:close()
    hold:close()
  end)

  it("serve_forever returns once the server is closed, not before", function()
    local srv, port = server(function(s) s:write("hi\n") end)
    local closed_at
    m.spawn(function()
      -- Serving meanwhile: a client is answered while serve_forever blocks.
      local c = assert(m.tcp.connect(LOCAL, port))
      assert.equal("hi", c:read("l"))
      c:close()
      m.sleep(0.02)
      closed_at = m.now()
      srv:close()
    end)
    srv:serve_forever()
    assert.is_number(closed_at) -- it returned after the close, not earlier
    assert.is_true(m.now() >= closed_at)
  end)
end)

describe("moonlet.pipe", function()
  local before_all, after_all = U.descriptor_check()
  setup(before_all)
  teardown(after_all)

  it("connects to a Unix-domain socket and echoes", function()
    local path = os.tmpname()
    os.remove(path)
    local srv = assert(m.pipe.listen(path, echo))
    assert.equal(path, srv:address())
    local c = assert(m.pipe.connect(path))
    c:write("through a pipe\n")
    assert.equal("through a pipe", c:read("l"))
    assert.equal(path, c:peer())
    c:close()
    srv:close()
    os.remove(path)
  end)

  it("reports a missing socket and a path in use", function()
    local s, err, code = m.pipe.connect("/nonexistent/moonlet.sock")
    assert.is_nil(s)
    assert.equal("ENOENT", code)
    assert.is_string(err)
    local path = os.tmpname() -- exists: a regular file
    local srv, _, code2 = m.pipe.listen(path, echo)
    assert.is_nil(srv)
    assert.equal("EADDRINUSE", code2)
    os.remove(path)
  end)
end)
