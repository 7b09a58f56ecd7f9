-- Cancellation: fast and native suspensions, level-triggered, cleanup,
-- never-started tasks, the Cancelled object, errors after native resumes.
local m = require "moonlet"
local testmod = require "moonlet_testmod"
local U = require "support.util"

describe("cancellation", function()
  it("raises Cancelled in a sleeping task and runs its to-be-closed variables", function()
    local log = {}
    local t = m.spawn(function()
      local _ <close> = setmetatable({}, { __close = function(_, e)
        log[#log + 1] = "closed with " .. tostring(e)
      end })
      m.sleep(10)
      log[#log + 1] = "not reached"
    end)
    m.yield()
    assert.is_true(t:cancel("stop now"))
    local ok, err = pcall(t.await, t)
    assert.is_false(ok)
    assert.equal(m.Cancelled, getmetatable(err))
    assert.equal("stop now", err.message)
    assert.matches("stack traceback", err.traceback)
    assert.equal("cancelled: stop now", tostring(err))
    assert.same({ "closed with cancelled: stop now" }, log)
    assert.is_true(t:cancelled())
    assert.equal("cancelled", t:status())
    assert.is_false(t:cancel())
  end)

  it("unwinds a natively suspended task through its C frames", function()
    local log = {}
    local t = m.spawn(function()
      local _ <close> = setmetatable({}, { __close = function() log[#log + 1] = "outer closed" end })
      local l = { 3, 1, 2 }
      table.sort(l, function(a, b)
        local _ <close> = setmetatable({}, { __close = function() log[#log + 1] = "cmp closed" end })
        m.sleep(10)
        return a < b
      end)
    end)
    m.sleep(0.005)
    assert.equal("suspended", t:status())
    t:cancel()
    local ok, err = pcall(t.await, t)
    assert.is_false(ok)
    assert.equal("cancelled", err.kind)
    assert.same({ "cmp closed", "outer closed" }, log)
  end)

  it("is level-triggered: a pcall that swallows it cannot hang the task", function()
    local swallowed, second
    local t = m.spawn(function()
      local ok, e = pcall(m.sleep, 10)
      swallowed = not ok and e.kind
      local ok2, e2 = pcall(m.yield)
      second = not ok2 and e2.kind
      m.sleep(10)
    end)
    m.yield()
    t:cancel()
    assert.has_error(function() t:await() end)
    assert.equal("cancelled", swallowed)
    assert.equal("cancelled", second)
  end)

  it("of a task that swallows it leaves the task's own outcome", function()
    local t = m.spawn(function()
      local ok = pcall(m.sleep, 10)
      return ok and "slept" or "recovered"
    end)
    m.yield()
    t:cancel()
    assert.equal("recovered", t:await())
    assert.is_false(t:cancelled())
  end)

  it("of a task that never started means its function never runs", function()
    local ran = false
    local t = m.spawn(function() ran = true end)
    assert.is_true(t:cancel())
    assert.has_error(function() t:await() end)
    assert.is_false(ran)
    assert.is_true(t:cancelled())
    local told = m.spawn(function() ran = true end)
    assert.is_true(told:cancel("not needed"))
    local ok, err = pcall(told.await, told)
    assert.is_false(ok)
    assert.equal("not needed", err.message)
    assert.is_false(ran)
  end)

  it("of the running task by itself takes effect at its next blocking call", function()
    local after
    local t = m.spawn(function()
      m.current():cancel("self")
      after = "still running"
      m.yield()
      after = "not reached"
    end)
    local ok, err = pcall(t.await, t)
    assert.is_false(ok)
    assert.equal("self", err.message)
    assert.equal("still running", after)
  end)

  it("of a task awaiting another leaves the other running", function()
    local inner = m.spawn(function() m.sleep(0.01); return "inner done" end)
    local outer = m.spawn(function() return inner:await() end)
    m.yield()
    outer:cancel()
    assert.has_error(function() outer:await() end)
    assert.equal("inner done", inner:await())
  end)

  it("lets errors raised after a native resume be caught by pcall in the task", function()
    local t = m.spawn(function()
      local ok, err = pcall(testmod.call, function()
        m.sleep(0.001)
        error("boom after resume")
      end)
      return ok, err, "continued"
    end)
    local ok, err, cont = t:await()
    assert.is_false(ok)
    assert.matches("boom after resume", err)
    assert.equal("continued", cont)
  end)

  it("cancels tasks left at shutdown, running their cleanup", function()
    local code, out = U.run_script([[
      local m = require "moonlet"
      m.spawn(function()
        local _ <close> = setmetatable({}, { __close = function(_, e) print("fast cleanup", e and e.kind) end })
        m.future():await()
      end)
      m.spawn(function()
        local _ <close> = setmetatable({}, { __close = function(_, e) print("native cleanup", e and e.kind) end })
        table.sort({ 2, 1 }, function(a, b) m.sleep(100); return a < b end)
      end)
      m.sleep(0.01)
      m.spawn(function() print("spawned last, never ran") end)
      print("main done")
    ]])
    assert.equal(0, code)
    assert.equal("main done\nfast cleanup\tcancelled\nnative cleanup\tcancelled\n", out)
  end)

  it("leaves no task or handle behind", U.assert_clean)
end)
