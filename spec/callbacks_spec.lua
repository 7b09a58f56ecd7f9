-- call_soon, call_later, call_every and their handles.
local m = require "moonlet"
local U = require "support.util"

describe("callbacks", function()
  it("call_soon runs on a later turn, FIFO with tasks, with its arguments", function()
    local log = {}
    m.spawn(function() log[#log + 1] = "task" end)
    m.call_soon(function(a, b) log[#log + 1] = a .. b end, "soon", 1)
    assert.same({}, log)
    m.yield()
    assert.same({ "task", "soon1" }, log)
  end)

  it("call_later runs once after the delay; cancel prevents it", function()
    local log = {}
    m.call_later(0.01, function(x) log[#log + 1] = x end, "later")
    local h = m.call_later(0.005, function() log[#log + 1] = "cancelled" end)
    assert.is_true(h:cancel())
    assert.is_true(h:cancelled())
    assert.is_false(h:cancel())
    m.sleep(0.03)
    assert.same({ "later" }, log)
  end)

  it("call_every repeats until cancelled, also from inside itself", function()
    local n = 0
    local h
    h = m.call_every(0.002, function()
      n = n + 1
      if n == 3 then h:cancel() end
    end)
    while not h:cancelled() do m.sleep(0.002) end
    m.sleep(0.01)
    assert.equal(3, n)
  end)

  it("a cancelled call_soon never runs", function()
    local ran = false
    local h = m.call_soon(function() ran = true end)
    assert.is_true(h:cancel())
    m.yield()
    m.yield()
    assert.is_false(ran)
  end)

  it("leaves no task or handle behind", U.assert_clean)
end)
