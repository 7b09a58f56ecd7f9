-- gather, wait, wait_for, timeout, shield, as_completed, scope.
local m = require "moonlet"
local U = require "support.util"

local function sleeper(s, v)
  return function() m.sleep(s); return v end
end

local function failer(s, e)
  return function() m.sleep(s); error(e, 0) end
end

describe("gather", function()
  it("returns results in list order, mixing tasks, futures and functions", function()
    local f = m.future()
    m.call_later(0.002, function() f:set_result("future") end)
    local t = m.spawn(sleeper(0.001, "task"))
    local r = m.gather({ sleeper(0.003, "fn"), f, t })
    assert.same({ "fn", "future", "task", n = 3 }, r)
  end)

  it("cancels the rest on the first failure, waits for them, and raises it", function()
    local cleaned = 0
    local function slow()
      local _ <close> = setmetatable({}, { __close = function() cleaned = cleaned + 1 end })
      m.sleep(10)
    end
    local a, b = m.spawn(slow), m.spawn(slow)
    local err = { "boom" }
    local ok, e = pcall(m.gather, { a, failer(0.001, err), b })
    assert.is_false(ok)
    assert.equal(err, e)
    assert.equal(2, cleaned, "siblings finished their cleanup before gather raised")
    assert.is_true(a:cancelled() and b:cancelled())
  end)

  it("puts the errors in place with return_errors", function()
    local r = m.gather({ sleeper(0.001, 1), failer(0.002, "bad"), sleeper(0, 3) }, { return_errors = true })
    assert.same({ 1, "bad", 3, n = 3, failed = { [2] = true } }, r)
  end)

  it("tells errors from results with return_errors: results.failed", function()
    local r = m.gather({ sleeper(0, "oops"), failer(0, "oops") }, { return_errors = true })
    assert.equal(r[1], r[2])
    assert.is_nil(r.failed[1])
    assert.is_true(r.failed[2])
  end)

  it("attaches the other failures to the raised error and reports none of them", function()
    local reported = 0
    m.on_error(function() reported = reported + 1 end)
    -- each entry fails with its own error, cancelled by gather or not
    local function stubborn(e)
      return function() pcall(m.sleep, 0.001); error(e, 0) end
    end
    local list = {}
    for i = 1, 50 do list[i] = stubborn({ i = i }) end
    list[51] = stubborn("a string error")
    local ok, e = pcall(m.gather, list)
    assert.is_false(ok)
    assert.equal(50, #e.others)
    local seen = { [e.i] = true }
    for _, o in ipairs(e.others) do seen[type(o) == "table" and o.i or o] = true end
    for i = 1, 50 do assert.is_true(seen[i]) end
    assert.is_true(seen["a string error"])
    collectgarbage()
    collectgarbage()
    m.sleep(0.01)
    m.on_error(nil)
    assert.equal(0, reported)
  end)

  it("refuses unknown options and options that are not a table", function()
    assert.has_error(function() m.gather({}, { return_exceptions = true }) end,
      "bad argument #2 to 'gather' (unknown option 'return_exceptions')")
    assert.has_error(function() m.gather({}, 5) end, "bad argument #2 to 'gather' (table expected, got number)")
  end)

  it("cancelled itself, cancels its children", function()
    local child = m.spawn(sleeper(10))
    local g = m.spawn(function() return m.gather({ child }) end)
    m.yield()
    g:cancel()
    assert.has_error(function() g:await() end)
    assert.is_true(child:cancelled())
  end)

  it("of nothing is an empty list; bad entries are refused", function()
    assert.same({ n = 0 }, m.gather({}))
    assert.has_error(function() m.gather({ 42 }) end, "bad entry #1 to 'gather' (task, future or function expected, got number)")
    assert.has_error(function() m.gather("x") end)
  end)
end)

describe("wait", function()
  it("waits for all by default", function()
    local a, b = m.spawn(sleeper(0.001)), m.spawn(sleeper(0.002))
    local done, pending = m.wait({ a, b })
    assert.same({ a, b }, done)
    assert.same({}, pending)
  end)

  it("returns at the first completion with return_when = first", function()
    local slow, fast = m.spawn(sleeper(10)), m.spawn(sleeper(0.001))
    local done, pending = m.wait({ slow, fast }, { return_when = "first" })
    assert.same({ fast }, done)
    assert.same({ slow }, pending)
    slow:cancel()
  end)

  it("returns at the first failure with return_when = first_error", function()
    local ok1, bad, slow = m.spawn(sleeper(0, 1)), m.spawn(failer(0.002, "x")), m.spawn(sleeper(10))
    local done, pending = m.wait({ ok1, bad, slow }, { return_when = "first_error" })
    assert.same({ ok1, bad }, done)
    assert.same({ slow }, pending)
    assert.equal("x", bad:error())
    slow:cancel()
  end)

  it("returns what is done when the timeout passes, cancelling nothing", function()
    local slow = m.spawn(sleeper(10))
    local done, pending = m.wait({ slow }, { timeout = 0.005 })
    assert.same({}, done)
    assert.same({ slow }, pending)
    assert.equal("suspended", slow:status())
    slow:cancel()
  end)

  it("rejects a bad return_when", function()
    assert.has_error(function() m.wait({}, { return_when = "some" }) end)
  end)
end)

describe("wait_for and timeout", function()
  it("return the results when in time", function()
    assert.same({ "a", "b" }, { m.wait_for(function() m.sleep(0.001); return "a", "b" end, 5) })
    assert.equal(7, m.timeout(5, function(x) m.yield(); return x end, 7))
  end)

  it("cancel the inner work on timeout; its cleanup has finished when they raise", function()
    local cleaned = false
    local inner = m.spawn(function()
      local _ <close> = setmetatable({}, { __close = function() cleaned = true end })
      m.sleep(10)
    end)
    local ok, err = pcall(m.wait_for, inner, 0.005)
    assert.is_false(ok)
    assert.equal(m.Timeout, getmetatable(err))
    assert.equal("timeout", err.kind)
    assert.is_true(cleaned)
    assert.is_true(inner:cancelled())
    local ok2, err2 = pcall(m.timeout, 0.002, function() m.sleep(10) end)
    assert.is_false(ok2)
    assert.equal("timeout", err2.kind)
  end)

  it("cancelled themselves, cancel the inner work", function()
    local inner = m.spawn(sleeper(10))
    local waiter = m.spawn(function() return m.wait_for(inner, 10) end)
    m.yield()
    waiter:cancel()
    assert.has_error(function() waiter:await() end)
    assert.is_true(inner:cancelled())
  end)

  it("refuse bad arguments", function()
    assert.has_error(function() m.wait_for(sleeper(0), -1) end)
    assert.has_error(function() m.timeout(1, "f") end)
  end)
end)

describe("shield", function()
  it("keeps the inner work from being cancelled; the caller is cancelled at its next block", function()
    local inner = m.spawn(sleeper(0.005, "finished"))
    local got, next_block
    local outer = m.spawn(function()
      got = m.shield(inner)
      local ok, e = pcall(m.yield)
      next_block = not ok and e.kind
    end)
    m.yield()
    outer:cancel()
    outer:await()
    assert.equal("finished", got)
    assert.equal("cancelled", next_block)
  end)

  it("returns the inner results when nothing is cancelled", function()
    assert.same({ 1, 2 }, { m.shield(function() return 1, 2 end) })
  end)
end)

describe("as_completed", function()
  it("yields the entries in completion order", function()
    local a, b, c = m.spawn(sleeper(0.006, "a")), m.spawn(sleeper(0.002, "b")), m.spawn(sleeper(0.004, "c"))
    local order = {}
    for f in m.as_completed({ a, b, c }) do order[#order + 1] = f:result() end
    assert.same({ "b", "c", "a" }, order)
  end)

  it("raises Timeout when the time is up", function()
    -- roomy enough for the quick one even under Valgrind
    local slow = m.spawn(sleeper(10))
    local it = m.as_completed({ m.spawn(sleeper(0, 1)), slow }, { timeout = 0.5 })
    local first = it()
    local ok, err = pcall(it)
    slow:cancel()
    assert.equal(1, first:result())
    assert.is_false(ok)
    assert.equal("timeout", err.kind)
  end)
end)

describe("scope", function()
  it("waits for every child and returns the body's results", function()
    local log = {}
    local r = m.scope(function(s)
      s:spawn(function() m.sleep(0.003); log[#log + 1] = "slow" end)
      s:spawn(function() m.sleep(0.001); log[#log + 1] = "fast" end)
      return "body"
    end)
    assert.equal("body", r)
    assert.same({ "fast", "slow" }, log)
  end)

  it("cancels the siblings on the first child failure, waits for them, raises it", function()
    local cleaned = false
    local ok, err = pcall(m.scope, function(s)
      s:spawn(function()
        local _ <close> = setmetatable({}, { __close = function() cleaned = true end })
        m.sleep(10)
      end)
      s:spawn(failer(0.001, "child failed"))
    end)
    assert.is_false(ok)
    assert.equal("child failed", err)
    assert.is_true(cleaned)
  end)

  it("cancels the children when the body itself fails", function()
    local child
    local ok, err = pcall(m.scope, function(s)
      child = s:spawn(sleeper(10))
      m.yield()
      error("body failed", 0)
    end)
    assert.is_false(ok)
    assert.equal("body failed", err)
    assert.is_true(child:cancelled())
  end)

  it("cancelled from outside, cancels its children and waits for them", function()
    local cleaned = false
    local t = m.spawn(function()
      m.scope(function(s)
        s:spawn(function()
          local _ <close> = setmetatable({}, { __close = function()
            -- Cleanup that blocks must be shielded: cancellation is
            -- level-triggered and would interrupt it again.
            m.shield(function() m.sleep(0.001) end)
            cleaned = true
          end })
          m.sleep(10)
        end)
      end)
    end)
    m.yield()
    m.yield()
    t:cancel()
    local ok, err = pcall(t.await, t)
    assert.is_false(ok)
    assert.equal("cancelled", err.kind)
    assert.is_true(cleaned)
  end)

  it("attaches the other children's failures to the raised error", function()
    local reported = 0
    m.on_error(function() reported = reported + 1 end)
    -- All five fail in the same turn (one event wakes them, in order), so
    -- none is cancelled before it fails, however loaded the machine is.
    local go = m.event()
    local ok, e = pcall(m.scope, function(s)
      for i = 1, 5 do s:spawn(function() go:wait(); error({ i = i }, 0) end) end
      m.yield()
      go:set()
    end)
    collectgarbage()
    m.sleep(0.01)
    m.on_error(nil)
    assert.is_false(ok)
    assert.equal(1, e.i)
    assert.equal(4, #e.others)
    assert.equal(0, reported)
  end)

  it("refuses spawning after it finished", function()
    local saved
    m.scope(function(s) saved = s end)
    assert.has_error(function() saved:spawn(function() end) end, "this scope has finished; spawn in a live scope")
  end)

  it("leaves no task or handle behind", U.assert_clean)
end)
