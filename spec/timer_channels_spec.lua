-- after and ticker: channels fed by timers.
local m = require "moonlet"
local U = require "support.util"

describe("after", function()
  it("delivers the time once, after the delay", function()
    local t0 = m.now()
    local ch = m.after(0.01)
    local at, ok = ch:recv()
    assert.is_true(ok)
    assert.is_true(at >= t0)
    assert.same({ nil, nil }, { ch:try_recv() })
    assert.equal(0, #ch)
  end)

  it("stop prevents a delivery that has not happened", function()
    local ch = m.after(0.005)
    ch:stop()
    m.sleep(0.02)
    assert.same({ nil, nil }, { ch:try_recv() })
  end)
end)

describe("ticker", function()
  it("delivers every interval until stopped, dropping ticks a slow reader misses", function()
    local ch = m.ticker(0.002)
    local times = {}
    for i = 1, 3 do times[i] = ch:recv() end
    assert.is_true(times[1] < times[2] and times[2] < times[3])
    m.sleep(0.02) -- several intervals pass; the channel holds one tick
    assert.equal(1, #ch)
    ch:stop()
    ch:try_recv()
    m.sleep(0.01)
    assert.same({ nil, nil }, { ch:try_recv() }, "no ticks after stop")
  end)

  it("works with a for loop in a task and stops from outside", function()
    local ch = m.ticker(0.001)
    local n = 0
    local t = m.spawn(function()
      for _ in ch:iter() do
        n = n + 1
        if n == 5 then break end
      end
    end)
    t:await()
    ch:stop()
    assert.equal(5, n)
  end)

  it("rejects a bad interval; stop on a plain channel says why", function()
    assert.has_error(function() m.ticker(0) end, "bad argument #1 to 'ticker' (positive number expected, got 0)")
    assert.has_error(function() m.ticker("1") end)
    assert.has_error(function() m.channel():stop() end, "this channel is not fed by a timer")
  end)

  it("leaves no task or handle behind", U.assert_clean)
end)
