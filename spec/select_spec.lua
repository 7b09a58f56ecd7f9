-- select: ready cases, fairness, default, timeout, waking, cancellation,
-- closed channels, nothing lost or left behind.
local m = require "moonlet"
local U = require "support.util"

describe("select", function()
  it("takes a ready case and returns its index, value and ok", function()
    local a, b = m.channel(), m.channel(1)
    b:send("x")
    assert.same({ 2, "x", true }, { m.select({ { a, "recv" }, { b, "recv" } }) })
    local c = m.channel(1)
    assert.same({ 1 }, { m.select({ { c, "send", "v" } }) })
    assert.equal("v", c:recv())
  end)

  it("chooses uniformly at random among ready cases over 1000 rounds", function()
    local a, b = m.channel(1), m.channel(1)
    local count = { 0, 0 }
    for _ = 1, 1000 do
      if #a == 0 then a:send(1) end
      if #b == 0 then b:send(2) end
      local i = m.select({ { a, "recv" }, { b, "recv" } })
      count[i] = count[i] + 1
    end
    -- Binomial(1000, 1/2): beyond +-150 is over 9 standard deviations.
    assert.is_true(count[1] > 350 and count[2] > 350, count[1] .. " vs " .. count[2])
  end)

  it("returns nothing at once with default when no case is ready", function()
    local a = m.channel()
    assert.equal(0, select("#", m.select({ { a, "recv" } }, { default = true })))
  end)

  it("returns nil, msg, \"ETIMEDOUT\" after the timeout, leaving the channels untouched", function()
    local a, b = m.channel(), m.channel()
    assert.same({ nil, "ETIMEDOUT: timed out", "ETIMEDOUT" },
                { m.select({ { a, "recv" }, { b, "send", "offer" } }, { timeout = 0.005 }) })
    assert.is_false(a:try_send(1), "no receiver left waiting on a")
    assert.same({ nil, nil }, { b:try_recv() }, "the offered value was withdrawn")
  end)

  it("wakes on the first case served and unhooks the others", function()
    local a, b = m.channel(), m.channel()
    local t = m.spawn(function() return m.select({ { a, "recv" }, { b, "recv" } }) end)
    m.yield()
    b:send("to b")
    assert.same({ 2, "to b", true }, { t:await() })
    assert.is_false(a:try_send("nobody"), "the a case was unhooked")
  end)

  it("delivers a send case to a receiver and withdraws the other offers", function()
    local a, b = m.channel(), m.channel()
    local t = m.spawn(function() return m.select({ { a, "send", "A" }, { b, "send", "B" } }) end)
    m.yield()
    assert.equal("B", b:recv())
    assert.same({ 2 }, { t:await() })
    assert.same({ nil, nil }, { a:try_recv() })
  end)

  it("reports a closed channel: recv gives nil, false; send raises", function()
    local a = m.channel()
    a:close()
    assert.same({ 1, nil, false }, { m.select({ { a, "recv" } }) })
    assert.has_error(function() m.select({ { a, "send", 1 } }) end, "send on a closed channel")
    local b = m.channel()
    local t = m.spawn(function() return m.select({ { b, "recv" } }) end)
    m.yield()
    b:close()
    assert.same({ 1, nil, false }, { t:await() })
  end)

  it("a cancelled select unhooks every case and withdraws its offers", function()
    local a, b = m.channel(), m.channel()
    local t = m.spawn(function() return m.select({ { a, "recv" }, { b, "send", "offer" } }, { timeout = 10 }) end)
    m.yield()
    t:cancel()
    local ok, err = pcall(t.await, t)
    assert.is_false(ok)
    assert.equal("cancelled", err.kind)
    assert.is_false(a:try_send(1))
    assert.same({ nil, nil }, { b:try_recv() })
    assert.equal(0, m.stats().sleeping)
  end)

  it("blocks inside a sort comparator and from the main chunk", function()
    local a = m.channel()
    local t = m.spawn(function()
      local l = { 2, 1 }
      table.sort(l, function(x, y)
        local _, v = m.select({ { a, "recv" } })
        return (x < y) == v
      end)
      return table.concat(l, ",")
    end)
    for _ = 1, 20 do
      if t:done() then break end
      m.select({ { a, "send", true } }, { timeout = 0.05 })
    end
    assert.equal("1,2", t:await())
  end)

  it("allows the same channel in several cases", function()
    local a = m.channel(2)
    a:send(1)
    local i, v = m.select({ { a, "recv" }, { a, "recv" } })
    assert.is_true(i == 1 or i == 2)
    assert.equal(1, v)
  end)

  it("rejects bad cases and options", function()
    local a = m.channel()
    assert.has_error(function() m.select(42) end)
    assert.has_error(function() m.select({ 1 }) end, "bad case #1 to 'select' (table expected)")
    assert.has_error(function() m.select({ { {}, "recv" } }) end, "bad case #1 to 'select' (channel expected)")
    assert.has_error(function() m.select({ { a, "peek" } }) end, 'bad case #1 to \'select\' ("recv" or "send" expected)')
    assert.has_error(function() m.select({ { a, "recv" } }, { timeout = "soon" }) end)
    assert.has_error(function() m.select({ { a, "recv" } }, 5) end)
  end)

  it("leaves no task or handle behind", U.assert_clean)
end)
