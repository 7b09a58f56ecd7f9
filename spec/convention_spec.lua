-- The one convention for how blocking calls end (README, "How a blocking
-- call ends"), checked module by module: a call's own timeout returns
-- nil, "ETIMEDOUT: ...", "ETIMEDOUT"; closing what it waits on returns
-- nil, "ECANCELED: ...", "ECANCELED"; cancelling the caller raises
-- Cancelled; a deadline from outside raises Timeout.
local m = require "moonlet"
local U = require "support.util"
require "moonlet_testmod" -- test.sleep

local LOCAL = "127.0.0.1"

teardown(U.assert_clean)

-- Cleanups of one spec, run in reverse by its finally (busted keeps one
-- finally per spec: the last registered).
local deferred = {}
local function defer(fn) deferred[#deferred + 1] = fn end
local function cleanup()
  for i = #deferred, 1, -1 do pcall(deferred[i]) end
  deferred = {}
end

local function is_triple(code, ...)
  local v, msg, c = ...
  assert.equal(3, select("#", ...))
  assert.is_nil(v)
  assert.equal(code, c)
  assert.matches("^" .. code .. ": ", msg)
end

-- A server whose connections stay open, silent, until the spec ends.
local function silent_server()
  local hold = m.channel()
  local srv = assert(m.tcp.listen(LOCAL, 0, function() hold:recv() end))
  defer(function()
    hold:close()
    srv:close()
  end)
  local _, port = srv:address()
  return port
end

-- A local HTTP server whose /slow answers after 5 s.
local function http_server()
  local srv = assert(m.http.listen(LOCAL, 0, function(req, res)
    if req.path == "/slow" then m.sleep(5) end
    res:finish("ok")
  end))
  defer(function() srv:close() end)
  local _, port = srv:address()
  return ("http://%s:%d"):format(LOCAL, port)
end

-- Each blocking call, set up to wait forever (or until its timeout t);
-- what closes the object it waits on, where there is one.
local calls = {
  ["stream read"] = function(t)
    local c = assert(m.tcp.connect(LOCAL, silent_server()))
    defer(function() c:close() end)
    if t then c:set_timeout(t) end
    return function() return c:read("l") end, function() c:close() end
  end,
  ["stream write"] = function(t)
    local c = assert(m.tcp.connect(LOCAL, silent_server()))
    defer(function() c:close() end)
    if t then c:set_timeout(t) end
    local big = ("x"):rep(1 << 20)
    return function()
      while true do
        local ok, msg, code = c:write(big)
        if not ok then return ok, msg, code end
      end
    end, function() c:close() end
  end,
  ["server accept"] = function(t)
    local srv = assert(m.tcp.listen(LOCAL, 0))
    defer(function() srv:close() end)
    if t then srv:set_timeout(t) end
    return function() return srv:accept() end, function() srv:close() end
  end,
  ["udp recv_from"] = function(t)
    local u = assert(m.udp.bind(LOCAL, 0))
    defer(function() u:close() end)
    if t then u:set_timeout(t) end
    return function() return u:recv_from() end, function() u:close() end
  end,
  ["process wait"] = function(t)
    local p = assert(m.process.spawn { "sleep", "5" })
    defer(function()
      pcall(p.kill, p, "KILL")
      p:close()
    end)
    return function() return p:wait(t) end, function()
      p:kill("KILL") -- not reaped yet when the close comes
      p:close()
    end
  end,
  ["process run"] = function(t)
    return function() return m.process.run("sleep 5", { timeout = t }) end
  end,
  ["signal wait"] = function(t)
    return function() return m.signal.wait("USR2", t) end
  end,
  ["lock acquire"] = function(t)
    local l = m.lock()
    l:acquire()
    return function() return l:acquire(t) end
  end,
  ["semaphore acquire"] = function(t)
    local s = m.semaphore(0)
    return function() return s:acquire(t) end
  end,
  ["event wait"] = function(t)
    local e = m.event()
    return function() return e:wait(t) end
  end,
  ["condition wait"] = function(t)
    local c = m.condition()
    return function()
      c:acquire()
      local r = table.pack(c:wait(t))
      c:release()
      return table.unpack(r, 1, r.n)
    end
  end,
  ["waitgroup wait"] = function(t)
    local wg = m.waitgroup()
    wg:add()
    return function() return wg:wait(t) end
  end,
  ["queue get"] = function(t)
    local q = m.queue()
    return function() return q:get(t) end
  end,
  ["queue put"] = function(t)
    local q = m.queue(1)
    q:put(1)
    return function() return q:put(2, t) end
  end,
  ["queue join"] = function(t)
    local q = m.queue()
    q:put(1)
    return function() return q:join(t) end
  end,
  ["descriptor wait"] = function(t)
    local T = require "moonlet_testmod"
    local r, w = T.pipe()
    defer(function()
      T.close(r)
      T.close(w)
    end)
    return function() return m.wait_readable(r, t) end
  end,
  ["select"] = function(t)
    local ch = m.channel()
    return function() return m.select({ { ch, "recv" } }, t and { timeout = t }) end
  end,
  ["http request"] = function(t)
    local base = http_server()
    local client = m.http.client()
    defer(function() client:close() end)
    return function() return client:get(base .. "/slow", { timeout = t }) end,
      function() client:close() end
  end,
}

local timed = { "stream read", "stream write", "server accept", "udp recv_from", "process wait",
  "process run", "signal wait", "lock acquire", "semaphore acquire", "event wait",
  "condition wait", "waitgroup wait", "queue get", "queue put", "queue join", "select",
  "http request", "descriptor wait" }
local closable = { "stream read", "stream write", "server accept", "udp recv_from",
  "process wait", "http request" }

describe("a call's own timeout returns nil, msg, \"ETIMEDOUT\"", function()
  for _, name in ipairs(timed) do
    it(name, function()
      finally(cleanup)
      local call = calls[name](0.05)
      is_triple("ETIMEDOUT", call())
    end)
  end

  it("tcp connect's deadline counts from the call (name lookup included)", function()
    is_triple("ETIMEDOUT", m.tcp.connect("localhost", 9, { timeout = 0 }))
  end)
end)

describe("closing what a call waits on returns nil, msg, \"ECANCELED\"", function()
  for _, name in ipairs(closable) do
    it(name, function()
      finally(cleanup)
      local call, close = calls[name]()
      local t = m.spawn(function() return call() end)
      m.sleep(0.05)
      assert.is_false(t:done())
      close()
      is_triple("ECANCELED", t:await())
    end)
  end
end)

describe("cancelling the caller raises Cancelled", function()
  local all = {}
  for name in pairs(calls) do all[#all + 1] = name end
  all[#all + 1] = "fs read_file"
  all[#all + 1] = "work"
  table.sort(all)
  calls["fs read_file"] = function()
    -- A FIFO nobody writes: the open blocks its pool thread until the spec
    -- opens the other end, after the cancellation.
    local path = os.tmpname()
    os.remove(path)
    assert(os.execute("mkfifo " .. path))
    defer(function()
      local w = io.open(path, "w") -- lets the orphaned job's open return
      w:close()
      os.remove(path)
    end)
    return function() return m.fs.read_file(path) end
  end
  calls["work"] = function() return function() return m.work("test.sleep", 0.2) end end
  for _, name in ipairs(all) do
    it(name, function()
      finally(cleanup)
      local call = calls[name]()
      local t = m.spawn(function() return call() end)
      m.sleep(0.05)
      assert.is_false(t:done())
      t:cancel("stop")
      local ok, err = pcall(t.await, t)
      assert.is_false(ok)
      assert.equal(m.Cancelled, getmetatable(err))
      assert.equal("stop", err.message)
    end)
  end
end)

describe("a deadline from outside raises Timeout", function()
  it("wait_for, timeout and as_completed", function()
    finally(cleanup)
    local function forever() m.sleep(10) end
    local ok, err = pcall(m.wait_for, m.spawn(forever), 0.02)
    assert.is_false(ok)
    assert.equal(m.Timeout, getmetatable(err))
    ok, err = pcall(m.timeout, 0.02, forever)
    assert.is_false(ok)
    assert.equal(m.Timeout, getmetatable(err))
    local t = m.spawn(forever)
    ok, err = pcall(function() for _ in m.as_completed({ t }, { timeout = 0.02 }) do end end)
    assert.is_false(ok)
    assert.equal(m.Timeout, getmetatable(err))
    t:cancel()
    pcall(t.await, t)
  end)
end)
