-- Tasks and the scheduler: spawn, order, sleep, yield, current, tasks,
-- names, status, traceback, stats.
local m = require "moonlet"
local U = require "support.util"

describe("tasks", function()
  it("start on a later turn, in FIFO order, and interleave at each yield", function()
    local log = {}
    local ts = {}
    for i = 1, 3 do
      ts[i] = m.spawn(function()
        log[#log + 1] = i
        m.yield()
        log[#log + 1] = i + 10
      end)
    end
    assert.same({}, log)
    for _, t in ipairs(ts) do t:await() end
    assert.same({ 1, 2, 3, 11, 12, 13 }, log)
  end)

  it("pass arguments and return several values, nil included", function()
    local t = m.spawn(function(a, b, c) return c, nil, a + b, nil end, 1, 2, "x")
    local r = table.pack(t:await())
    assert.equal(4, r.n)
    assert.same({ "x", nil, 3, nil }, { r[1], r[2], r[3], r[4] })
    assert.same({ "x", nil, 3, nil }, { t:result() })
  end)

  it("sleep concurrently: 200 sleeping tasks are all asleep at once", function()
    local asleep, most = 0, 0
    local ts = {}
    for i = 1, 200 do
      ts[i] = m.spawn(function()
        asleep = asleep + 1
        most = math.max(most, asleep)
        m.sleep(0.05)
        asleep = asleep - 1
        return i
      end)
    end
    local sum = 0
    for _, t in ipairs(ts) do sum = sum + t:await() end
    assert.equal(200 * 201 / 2, sum)
    assert.equal(200, most)
  end)

  it("are resumed FIFO with the main chunk when woken in the same turn", function()
    local log = {}
    local t = m.spawn(function() m.sleep(0.001); log[#log + 1] = "task" end)
    m.yield() -- the task is asleep now, its deadline before ours
    m.sleep(0.001)
    log[#log + 1] = "main"
    t:await()
    assert.same({ "task", "main" }, log)
  end)

  it("wake from sleep in deadline order", function()
    local order = {}
    local ts = {}
    for _, d in ipairs({ 30, 10, 20 }) do
      ts[#ts + 1] = m.spawn(function() m.sleep(d / 1000); order[#order + 1] = d end)
    end
    for _, t in ipairs(ts) do t:await() end
    assert.same({ 10, 20, 30 }, order)
  end)

  it("know the current task; the main chunk has none", function()
    assert.is_nil(m.current())
    local t
    t = m.spawn(function() return m.current() == t end)
    assert.is_true(t:await())
  end)

  it("are listed by tasks() until they finish", function()
    local f = m.future()
    local t = m.spawn(function() f:await() end)
    local found = false
    for _, x in ipairs(m.tasks()) do if x == t then found = true end end
    assert.is_true(found)
    f:set_result()
    t:await()
    for _, x in ipairs(m.tasks()) do assert.are_not.equal(t, x) end
  end)

  it("have names, statuses and tracebacks", function()
    local f = m.future()
    local t = m.spawn(function() f:await(); error("bad thing") end)
    assert.matches("^task%-%d+$", t:name())
    assert.equal(t, t:set_name("worker"))
    assert.equal("worker", t:name())
    assert.equal("pending", t:status())
    assert.matches("moonlet.task: worker %(pending%)", tostring(t))
    m.yield()
    assert.equal("suspended", t:status())
    assert.matches("stack traceback", t:traceback())
    f:set_result()
    local ok, err = pcall(t.await, t)
    assert.is_false(ok)
    assert.matches("bad thing", err)
    assert.equal("failed", t:status())
    assert.matches("in function", t:traceback())
    local done = m.spawn(function() return m.current():status() end)
    assert.equal("running", done:await())
    assert.equal("done", done:status())
    assert.is_nil(done:traceback())
  end)

  it("turn a bare coroutine.yield in the task body into a scheduler yield", function()
    local log = {}
    local a = m.spawn(function() log[#log + 1] = "a1"; coroutine.yield("ignored"); log[#log + 1] = "a2" end)
    local b = m.spawn(function() log[#log + 1] = "b1" end)
    a:await(); b:await()
    assert.same({ "a1", "b1", "a2" }, log)
  end)

  it("refuse a task thread resumed from outside the scheduler", function()
    local co
    local victim = m.spawn(function() co = coroutine.running(); m.sleep(0.01); return "slept" end)
    m.yield()
    local ok, err = coroutine.resume(co)
    assert.is_false(ok)
    if U.native_forced then
      -- Natively suspended: Lua itself sees a running thread, and the task
      -- goes on undisturbed.
      assert.matches("cannot resume non%-suspended coroutine", err)
      assert.equal("slept", victim:await())
    else
      assert.matches("resumed outside the scheduler", err)
      local ok2, err2 = pcall(victim.await, victim)
      assert.is_false(ok2)
      assert.matches("resumed outside the scheduler", tostring(err2))
    end
  end)

  it("count switches and slices in stats", function()
    local s0 = m.stats()
    local t = m.spawn(function()
      local l = { 3, 2, 1 }
      table.sort(l, function(a, b) m.yield(); return a < b end)
    end)
    local u = m.spawn(function() for _ = 1, 3 do m.yield() end end)
    t:await(); u:await()
    local s1 = m.stats()
    assert.equal(2, s1.spawned - s0.spawned)
    assert.equal(2, s1.finished - s0.finished)
    assert.is_true(s1.native_switches > s0.native_switches)
    assert.is_true(s1.slices_copied > s0.slices_copied)
    assert.is_true(s1.bytes_copied > s0.bytes_copied)
    if U.native_forced then
      assert.equal(s0.fast_switches, s1.fast_switches)
      assert.is_true(s1.force_native)
    else
      assert.is_true(s1.fast_switches > s0.fast_switches)
    end
    assert.is_string(s1.switch_backend)
    assert.is_true(s1.stack_size >= 512 * 1024)
  end)

  it("reuse finished threads", function()
    for _ = 1, 3 do
      local ts = {}
      for i = 1, 100 do ts[i] = m.spawn(function() m.yield() end) end
      for _, t in ipairs(ts) do t:await() end
    end
    collectgarbage()
    assert.is_true(m.stats().pooled_threads > 0)
  end)

  it("leave a finished task's thread dead to code that kept it, while pooled", function()
    local co
    m.spawn(function() co = coroutine.running() end):await()
    assert.is_true(m.stats().pooled_threads > 0)
    assert.equal("dead", coroutine.status(co))
    local ok, err = coroutine.resume(co)
    assert.is_false(ok)
    assert.equal("cannot resume dead coroutine", err)
    -- The pool still hands out working threads, that one included.
    local ts = {}
    for i = 1, 20 do ts[i] = m.spawn(function(x) m.yield(); return x end, i) end
    for i = 1, 20 do assert.equal(i, ts[i]:await()) end
  end)

  it("keep a burst's threads for the next burst, then give back what stays unused", function()
    local function settle()
      local deadline = m.now() + 30
      while m.stats().pooled_threads > 1024 and m.now() < deadline do m.sleep(0.05) end
    end
    local function burst(n)
      local ts = {}
      for i = 1, n do ts[i] = m.spawn(function() m.yield() end) end
      return ts
    end
    settle() -- earlier specs may have left a big pool
    for _, t in ipairs(burst(1500)) do t:await() end
    local pooled = m.stats().pooled_threads
    assert.is_true(pooled >= 1500)
    -- The next burst takes its threads from the pool.
    local ts = burst(1500)
    assert.equal(pooled - 1500, m.stats().pooled_threads)
    for _, t in ipairs(ts) do t:await() end
    assert.is_true(m.stats().pooled_threads >= 1500)
    -- The trimming timer does not keep the loop alive.
    assert.has_error(function() m.future():await() end,
      "deadlock: nothing left to run can end this wait")
    -- Unused for a while, the pool shrinks back to 1,024 threads.
    settle()
    assert.equal(1024, m.stats().pooled_threads)
    assert.equal(7, m.spawn(function() m.yield(); return 7 end):await())
  end)

  it("take a thread when they first run if none is pooled, so pending ones stay small", function()
    -- Empty the pool: tasks waiting on hold keep the threads they took.
    local hold, holders = m.future(), {}
    while m.stats().pooled_threads > 0 do
      holders[#holders + 1] = m.spawn(function() hold:await() end)
    end
    local function seven() return 7 end
    local ts = {}
    for i = 1, 1000 do ts[i] = false end
    collectgarbage()
    collectgarbage("stop")
    local before = collectgarbage("count")
    for i = 1, 1000 do ts[i] = m.spawn(seven) end
    local bytes = (collectgarbage("count") - before) * 1024 / 1000
    collectgarbage("restart")
    -- A task object is about 300 bytes, a Lua thread about 1 KB more.
    assert.is_true(bytes < 700, ("%.0f bytes per pending task"):format(bytes))
    for i = 1, 1000 do assert.equal(7, ts[i]:await()) end
    hold:set_result()
    for _, t in ipairs(holders) do t:await() end
  end)

  it("give back what the loop keeps for them once they end", function()
    local base = m.stats().refs
    for _ = 1, 3 do
      local ts, fs = {}, {}
      for i = 1, 500 do
        ts[i] = m.spawn(function() m.yield(); return i end)
        fs[i] = m.future()
        fs[i]:on_done(function() end)
        m.call_soon(function() fs[i]:set_result(i) end)
      end
      assert.is_true(m.stats().refs >= base + 500)
      -- Cancelled with a message: the loop keeps the message until they end.
      local stopped = {}
      for i = 1, 100 do
        stopped[i] = m.spawn(function() m.sleep(10) end)
        if i % 2 == 0 then m.yield() end -- half of them started
        stopped[i]:cancel("stop " .. i)
      end
      for i = 1, 500 do
        assert.equal(i, ts[i]:await())
        assert.equal(i, fs[i]:await())
      end
      for i = 1, 100 do
        local ok, err = pcall(stopped[i].await, stopped[i])
        assert.is_false(ok)
        assert.equal("stop " .. i, err.message)
      end
      m.sleep(0)
      assert.equal(base, m.stats().refs)
    end
  end)

  it("run 100,000 tasks at once", function()
    local n, done = 100000, 0
    for _ = 1, n do m.spawn(function() m.yield(); done = done + 1 end) end
    while done < n do m.sleep(0.001) end
    assert.equal(n, done)
  end)

  it("leaves no task or handle behind", U.assert_clean)
end)
