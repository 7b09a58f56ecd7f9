-- lock, semaphore, event, condition, waitgroup: FIFO fairness, timeouts,
-- cancellation that loses no handoff, misuse.
local m = require "moonlet"
local U = require "support.util"

describe("lock", function()
  it("hands ownership to waiters in FIFO order, with no barging", function()
    local l = m.lock()
    assert.equal(l, l:acquire())
    local order = {}
    local ts = {}
    for i = 1, 4 do
      ts[i] = m.spawn(function() l:acquire(); order[#order + 1] = i; m.yield(); l:release() end)
    end
    m.yield()
    l:release()
    assert.is_true(l:locked(), "passed straight to the first waiter")
    -- A newcomer cannot overtake the queue.
    local late = m.spawn(function() l:acquire(); order[#order + 1] = "late"; l:release() end)
    for _, t in ipairs(ts) do t:await() end
    late:await()
    assert.same({ 1, 2, 3, 4, "late" }, order)
    assert.is_false(l:locked())
  end)

  it("releases at the end of a block with <close>", function()
    local l = m.lock()
    do
      local _ <close> = l:acquire()
      assert.is_true(l:locked())
    end
    assert.is_false(l:locked())
  end)

  it("times out with nil, \"timeout\"", function()
    local l = m.lock()
    l:acquire()
    local t = m.spawn(function() return l:acquire(0.005) end)
    assert.same({ nil, "ETIMEDOUT: timed out", "ETIMEDOUT" }, { t:await() })
    l:release()
    assert.is_false(l:locked())
  end)

  it("a cancelled waiter does not swallow the lock handed to it", function()
    local l = m.lock()
    l:acquire()
    local a = m.spawn(function() l:acquire(); l:release() end)
    local b = m.spawn(function() l:acquire(); l:release(); return "b got it" end)
    m.yield()
    a:cancel()  -- a is woken to be cancelled, but has not run yet ...
    l:release() -- ... when the lock is handed to it: a must pass it on
    assert.has_error(function() a:await() end)
    assert.equal("b got it", b:await())
    assert.is_false(l:locked())
  end)

  it("a waiter served before its cancellation keeps the lock", function()
    local l = m.lock()
    l:acquire()
    local a = m.spawn(function()
      local _ <close> = l:acquire()
      m.yield() -- the cancellation lands here; <close> releases
    end)
    m.yield()
    l:release()
    a:cancel()
    assert.has_error(function() a:await() end)
    assert.is_false(l:locked())
  end)

  it("refuses releasing an unlocked lock and bad timeouts", function()
    local l = m.lock()
    assert.has_error(function() l:release() end, "release of an unlocked lock")
    assert.has_error(function() l:acquire(-1) end)
  end)
end)

describe("semaphore", function()
  it("limits concurrency to its value", function()
    local sem = m.semaphore(2)
    local inside, most = 0, 0
    local ts = {}
    for i = 1, 6 do
      ts[i] = m.spawn(function()
        local _ <close> = sem:acquire()
        inside = inside + 1
        most = math.max(most, inside)
        m.sleep(0.001)
        inside = inside - 1
      end)
    end
    for _, t in ipairs(ts) do t:await() end
    assert.equal(2, most)
    assert.equal(2, sem:value())
  end)

  it("times out, and refuses a bad value", function()
    local sem = m.semaphore(0)
    assert.same({ nil, "ETIMEDOUT: timed out", "ETIMEDOUT" }, { sem:acquire(0.002) })
    assert.has_error(function() m.semaphore(-1) end)
    assert.has_error(function() m.semaphore(1.5) end)
  end)
end)

describe("event", function()
  it("wakes every waiter when set, and stays set until cleared", function()
    local e = m.event()
    local woke = 0
    local ts = {}
    for i = 1, 3 do ts[i] = m.spawn(function() e:wait(); woke = woke + 1 end) end
    m.yield()
    assert.equal(0, woke)
    e:set()
    for _, t in ipairs(ts) do t:await() end
    assert.equal(3, woke)
    assert.is_true(e:is_set())
    assert.is_true(e:wait())
    e:clear()
    assert.same({ nil, "ETIMEDOUT: timed out", "ETIMEDOUT" }, { e:wait(0.002) })
  end)
end)

describe("condition", function()
  it("wait releases the lock and gets it back; notify wakes one, notify_all the rest", function()
    local c = m.condition()
    local items, got = {}, {}
    local ts = {}
    for i = 1, 3 do
      ts[i] = m.spawn(function()
        c:acquire()
        while #items == 0 do c:wait() end
        got[#got + 1] = table.remove(items, 1)
        c:release()
      end)
    end
    m.yield()
    c:acquire()
    items[1] = "one"
    c:notify()
    c:release()
    m.yield()
    m.yield()
    assert.same({ "one" }, got)
    c:acquire()
    items[1], items[2] = "two", "three"
    c:notify_all()
    c:release()
    for _, t in ipairs(ts) do t:await() end
    table.sort(got)
    assert.same({ "one", "three", "two" }, got)
  end)

  it("times out holding the lock again; refuses a wait without the lock", function()
    local c = m.condition(m.lock())
    c:acquire()
    assert.same({ nil, "ETIMEDOUT: timed out", "ETIMEDOUT" }, { c:wait(0.002) })
    assert.is_true(c:locked())
    c:release()
    assert.has_error(function() c:wait() end, "wait on a condition whose lock is not held")
    assert.has_error(function() m.condition({}) end)
  end)

  it("gives the lock back to a waiter that is cancelled", function()
    local c = m.condition()
    local t = m.spawn(function()
      c:acquire()
      local ok = pcall(c.wait, c)
      return ok, c:locked()
    end)
    m.yield()
    t:cancel()
    local ok, locked = t:await()
    assert.is_false(ok)
    assert.is_true(locked)
    c:release()
  end)
end)

describe("waitgroup", function()
  it("waits until every added task is done", function()
    local wg = m.waitgroup()
    local finished = 0
    for _ = 1, 5 do
      wg:add()
      m.spawn(function() m.sleep(0.001); finished = finished + 1; wg:done() end)
    end
    assert.equal(5, wg:count())
    assert.is_true(wg:wait())
    assert.equal(5, finished)
    assert.is_true(wg:wait(), "already zero")
  end)

  it("times out, and refuses a negative counter", function()
    local wg = m.waitgroup()
    wg:add(1)
    assert.same({ nil, "ETIMEDOUT: timed out", "ETIMEDOUT" }, { wg:wait(0.002) })
    wg:done()
    assert.has_error(function() wg:done() end, "waitgroup counter below zero")
    assert.has_error(function() wg:add(0.5) end)
  end)

  it("leaves no task or handle behind", U.assert_clean)
end)
