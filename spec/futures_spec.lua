-- Futures: results, errors, cancellation, callbacks, misuse.
local m = require "moonlet"
local U = require "support.util"

describe("futures", function()
  it("hand several results, nil included, to every awaiter", function()
    local f = m.future()
    local got = {}
    local ts = {}
    for i = 1, 3 do
      ts[i] = m.spawn(function() got[i] = table.pack(f:await()) end)
    end
    m.yield()
    assert.equal("pending", f:status())
    assert.is_false(f:done())
    f:set_result(1, nil, "three")
    for _, t in ipairs(ts) do t:await() end
    for i = 1, 3 do
      assert.equal(3, got[i].n)
      assert.same({ 1, nil, "three" }, { got[i][1], got[i][2], got[i][3] })
    end
    assert.equal("done", f:status())
    assert.is_nil(f:error())
  end)

  it("wake awaiters in FIFO order", function()
    local f = m.future()
    local order = {}
    local ts = {}
    for i = 1, 5 do ts[i] = m.spawn(function() f:await(); order[#order + 1] = i end) end
    m.yield()
    f:set_result()
    for _, t in ipairs(ts) do t:await() end
    assert.same({ 1, 2, 3, 4, 5 }, order)
  end)

  it("raise a set error, the same value, on await and result", function()
    local f = m.future()
    local e = { code = 42 }
    f:set_error(e)
    local ok, err = pcall(f.await, f)
    assert.is_false(ok)
    assert.equal(e, err)
    local ok2, err2 = pcall(f.result, f)
    assert.is_false(ok2)
    assert.equal(e, err2)
    assert.equal(e, f:error())
    assert.equal("failed", f:status())
  end)

  it("cancel: true once while pending, with a Cancelled error", function()
    local f = m.future()
    local t = m.spawn(function() return pcall(f.await, f) end)
    m.yield()
    assert.is_true(f:cancel("no longer needed"))
    assert.is_false(f:cancel())
    local ok, err = t:await()
    assert.is_false(ok)
    assert.equal(m.Cancelled, getmetatable(err))
    assert.equal("cancelled", err.kind)
    assert.equal("no longer needed", err.message)
    assert.is_true(f:cancelled())
    assert.equal("cancelled", f:status())
    local done = m.future()
    done:set_result(1)
    assert.is_false(done:cancel())
  end)

  it("refuse set_result or set_error twice", function()
    local f = m.future()
    f:set_result(1)
    assert.has_error(function() f:set_result(2) end, "future already done")
    assert.has_error(function() f:set_error("x") end, "future already done")
    assert.equal(1, f:result())
  end)

  it("refuse result and error before they are done", function()
    local f = m.future()
    assert.has_error(function() f:result() end, "future is not done")
    assert.has_error(function() f:error() end, "future is not done")
  end)

  it("run on_done callbacks on a later turn, with the future", function()
    local f = m.future()
    local seen = {}
    f:on_done(function(x) seen[#seen + 1] = x == f and x:result() end)
    local h = f:on_done(function() seen[#seen + 1] = "cancelled handle ran" end)
    assert.is_true(h:cancel())
    assert.is_false(h:cancel())
    f:set_result("v")
    assert.same({}, seen)
    m.yield()
    assert.same({ "v" }, seen)
    -- Already done: still on a later turn, never inside on_done.
    f:on_done(function() seen[#seen + 1] = "late" end)
    assert.same({ "v" }, seen)
    m.yield()
    assert.same({ "v", "late" }, seen)
  end)

  it("refuse a task that awaits itself", function()
    local t
    t = m.spawn(function() return pcall(t.await, t) end)
    local ok, err = t:await()
    assert.is_false(ok)
    assert.matches("cannot await itself", err)
  end)

  it("detect a deadlock when the main chunk awaits what nothing resolves", function()
    local f = m.future()
    assert.has_error(function() f:await() end, "deadlock: nothing left to run can end this wait")
    f:set_result("later")
    assert.equal("later", f:await())
  end)

  it("report an error nobody retrieved when collected", function()
    local seen
    local prev = m.on_error(function(err, _, _, where) seen = { err, where } end)
    do
      local f = m.future()
      f:set_error("lost error")
    end
    collectgarbage()
    collectgarbage()
    m.on_error(prev)
    assert.same({ "lost error", "a future whose error nobody retrieved" }, seen)
  end)

  it("get a finalizer only once they fail, so creating one stays cheap", function()
    local f = m.future()
    assert.is_nil(rawget(getmetatable(f), "__gc"))
    f:set_error("e")
    assert.is_function(rawget(getmetatable(f), "__gc"))
    f:error()
    local t = m.spawn(function() end)
    assert.is_nil(rawget(getmetatable(t), "__gc"))
    t:await()
  end)

  it("leaves no task or handle behind", U.assert_clean)
end)
