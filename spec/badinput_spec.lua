-- Bad input gets a clear error and crashes nothing.
local m = require "moonlet"
local U = require "support.util"

describe("bad input", function()
  it("wrong argument types raise argument errors", function()
    assert.has_error(function() m.spawn(42) end)
    assert.has_error(function() m.spawn() end)
    assert.has_error(function() m.sleep("soon") end)
    assert.has_error(function() m.sleep(0 / 0) end, "bad argument #1 to 'sleep' (not a number)")
    assert.has_error(function() m.call_soon("f") end)
    assert.has_error(function() m.call_later("x", print) end)
    assert.has_error(function() m.call_later(1) end)
    assert.has_error(function() m.call_every(0, print) end, "bad argument #1 to 'call_every' (interval must be positive)")
    assert.has_error(function() m.on_error(42) end)
    local f = m.future()
    assert.has_error(function() f:on_done(42) end)
    assert.has_error(function() f.await(42) end, "bad argument #1 to 'await' (future or task expected, got number)")
    assert.has_error(function() f.result({}) end)
    assert.has_error(function() f:set_error() end, "bad argument #1 to 'set_error' (error value expected)")
    local t = m.spawn(function() end)
    assert.has_error(function() t:set_name(nil) end)
    assert.has_error(function() t.cancel(f) end)
    assert.has_error(function() t:set_result(1) end, "cannot set the result of a task; its function's outcome is its result")
    t:await()
  end)

  it("set_result twice and cancel after done are refused or ignored", function()
    local f = m.future()
    f:set_result(1)
    assert.has_error(function() f:set_result(1) end, "future already done")
    assert.is_false(f:cancel())
    local t = m.spawn(function() return 1 end)
    t:await()
    assert.is_false(t:cancel())
  end)

  it("awaiting inside a callback is an error, not a hang", function()
    local msg
    local prev = m.on_error(function(e) msg = e end)
    local f = m.future()
    m.call_soon(function() f:await() end)
    m.sleep(0.005)
    m.on_error(prev)
    assert.matches("cannot block inside a callback", msg)
  end)

  it("huge and odd sleep values are clamped, not fatal", function()
    local t = m.spawn(function() m.sleep(math.huge) end)
    local u = m.spawn(function() m.sleep(-5); return "negative is a yield" end)
    assert.equal("negative is a yield", u:await())
    m.yield()
    t:cancel()
    assert.has_error(function() t:await() end)
  end)

  it("a method called on the wrong object kind says what it expected", function()
    local t = m.spawn(function() end)
    local task_name = getmetatable(t).__index.name
    assert.has_error(function() task_name(m.future()) end)
    t:await()
  end)

  it("future methods refuse channels and I/O handles, which are not futures", function()
    local f = m.future()
    local ch = m.channel()
    local srv = assert(m.tcp.listen("127.0.0.1", 0))
    for _, o in ipairs({ ch, srv }) do
      for _, name in ipairs({ "set_result", "set_error", "cancel", "await", "result",
                              "error", "done", "cancelled", "status", "on_done" }) do
        assert.has_error(function() f[name](o, 1) end)
      end
    end
    srv:close()
  end)

  it("metamethods called by hand on the wrong objects do nothing harmful", function()
    local f = m.future()
    f:set_error("x")
    local failed_gc = getmetatable(f).__gc
    assert.is_function(failed_gc)
    failed_gc(42)
    failed_gc({})
    failed_gc(io.stdout)
    f:error() -- retrieved: nothing to report
    local t = m.spawn(function() error("y") end)
    assert.has_error(function() t:await() end)
    local task_gc = getmetatable(t).__gc
    task_gc(f)
    task_gc("s")
    assert.has_error(function() getmetatable(t).__tostring(f) end)
    assert.has_error(function() getmetatable(f).__tostring(1) end)
  end)

  it("leaves no task or handle behind", U.assert_clean)
end)
