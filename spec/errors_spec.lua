-- Errors: unawaited task failures are reported, never lost; callbacks
-- cannot block; finalizers cannot block.
local m = require "moonlet"
local U = require "support.util"

describe("errors", function()
  it("of a task nobody awaits go to on_error with a traceback", function()
    local seen = {}
    local prev = m.on_error(function(err, tb, obj, where)
      seen[#seen + 1] = { err = err, tb = tb, name = obj and obj:name(), where = where }
    end)
    do
      local t = m.spawn(function() error("nobody listens") end)
      t:set_name("lonely")
      m.yield()
      m.yield()
    end
    collectgarbage()
    collectgarbage()
    m.on_error(prev)
    assert.equal(1, #seen)
    assert.matches("nobody listens", seen[1].err)
    assert.matches("stack traceback", seen[1].tb)
    assert.equal("lonely", seen[1].name)
    assert.matches("lonely", seen[1].where)
  end)

  it("of a task that was awaited are not reported again", function()
    local seen = 0
    local prev = m.on_error(function() seen = seen + 1 end)
    do
      local t = m.spawn(function() error("handled") end)
      assert.has_error(function() t:await() end)
    end
    collectgarbage()
    collectgarbage()
    m.on_error(prev)
    assert.equal(0, seen)
  end)

  it("go to stderr with a traceback without a handler", function()
    local code, _, err = U.run_script([[
      local m = require "moonlet"
      m.spawn(function() local function deep() error("lost in a task") end deep() end)
      m.sleep(0.01)
    ]])
    assert.equal(0, code)
    assert.matches("lost in a task", err)
    assert.matches("stack traceback", err)
    assert.matches("deep", err)
  end)

  it("of a callback are reported and do not stop the loop", function()
    local seen
    local prev = m.on_error(function(err, _, _, where) seen = { err, where } end)
    m.call_soon(function() error("callback broke") end)
    local after = false
    m.call_soon(function() after = true end)
    m.sleep(0.001)
    m.on_error(prev)
    assert.matches("callback broke", seen[1])
    assert.equal("a callback", seen[2])
    assert.is_true(after)
  end)

  it("whose showing fails are still reported, and the loop goes on", function()
    -- An error object whose __tostring raises, from a callback and from a
    -- task nobody awaits, without a handler and with one that raises too.
    local code, out, err = U.run_script([[
      local m = require "moonlet"
      local function bad(msg)
        return setmetatable({}, { __tostring = function() error(msg, 0) end })
      end
      m.call_soon(function() error(bad("tostring failed 1")) end)
      m.sleep(0.001)
      do m.spawn(function() error(bad("tostring failed 2")) end) end
      m.sleep(0.001)
      collectgarbage()
      m.on_error(function(e) error(bad("tostring failed 3")) end)
      m.call_soon(function() error("plain") end)
      m.sleep(0.001)
      m.spawn(function() m.sleep(0.001) end):await()
      print("still running")
    ]])
    assert.equal(0, code)
    assert.matches("still running", out)
    assert.matches("unhandled error in a callback; showing it failed: tostring failed 1", err, 1, true)
    assert.matches("failed and nobody awaited it; showing it failed: tostring failed 2", err, 1, true)
    assert.matches("unhandled error in a callback; showing it failed: tostring failed 3", err, 1, true)
  end)

  it("say clearly that a callback cannot block", function()
    local msgs = {}
    local prev = m.on_error(function(err) msgs[#msgs + 1] = err end)
    m.call_soon(function() m.sleep(0.001) end)
    local f = m.future()
    f:on_done(function() f:await() end)
    f:set_result(1)
    m.call_later(0.001, function() m.yield() end)
    m.sleep(0.02)
    m.on_error(prev)
    assert.equal(3, #msgs)
    for _, msg in ipairs(msgs) do
      assert.matches("cannot block inside a callback; spawn a task", msg)
    end
  end)

  it("say clearly that a finalizer cannot block", function()
    local msg
    local prev = m.on_error(function(err) msg = err end)
    local t = m.spawn(function()
      do setmetatable({}, { __gc = function()
        local ok, e = pcall(m.sleep, 0.001)
        msg = not ok and e or "slept"
      end }) end
      collectgarbage()
      collectgarbage()
    end)
    t:await()
    m.on_error(prev)
    assert.matches("cannot block inside a __gc finalizer", msg)
  end)

  it("Cancelled and Timeout are distinct classes with a kind", function()
    assert.equal("cancelled", m.Cancelled.kind)
    assert.equal("timeout", m.Timeout.kind)
    assert.are_not.equal(m.Cancelled, m.Timeout)
  end)

  it("leaves no task or handle behind", U.assert_clean)
end)
