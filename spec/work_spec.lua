-- moonlet.work: C work functions on the thread pool, built in and added by
-- a C module through moonlet.h, while the loop keeps running.
local m = require "moonlet"
local U = require "support.util"
local testmod = require "moonlet_testmod" -- registers the test.* work functions

describe("moonlet.work", function()
  teardown(U.assert_clean)

  it("runs blocking C work while other tasks keep running", function()
    local ticks = U.with_ticker(function() m.work("test.sleep", 0.05) end)
    assert.is_true(ticks > 0)
    local r = m.gather({ function() m.work("test.sleep", 0.01); return 1 end,
                         function() m.work("test.sleep", 0.01); return 2 end })
    assert.same({ 1, 2, n = 2 }, r)
  end)

  it("computes a CRC-32 on the pool", function()
    assert.equal(0xCBF43926, m.work("crc32", "123456789"))
    assert.equal(0, m.work("crc32", ""))
    local part = m.work("crc32", "12345")
    assert.equal(0xCBF43926, m.work("crc32", "6789", part))
  end)

  it("carries nil, booleans, integers, floats and binary strings both ways", function()
    local r = table.pack(m.work("test.echo", nil, true, false, 42, 2.5, "a\0b"))
    assert.equal(6, r.n)
    assert.same({ nil, true, false, 42, 2.5, "a\0b" }, { table.unpack(r, 1, 6) })
    assert.equal("integer", math.type(r[4]))
    assert.equal("float", math.type(r[5]))
  end)

  it("runs work functions a C module registered", function()
    assert.is_table(testmod)
    local s, n = m.work("test.reverse", "moonlet")
    assert.equal("telnoom", s)
    assert.equal(7, n)
    -- A failing work function returns its failure, as I/O does.
    assert.same({ nil, "EWORK: work 'test.fail': it failed on purpose", "EWORK" },
                { m.work("test.fail") })
    assert.equal("tag from C", m.work("test.tagged")) -- the registration's user pointer
  end)

  it("raises on unknown names and values that cannot cross threads; returns failures", function()
    assert.has_error(function() m.work("nope") end)
    assert.has_error(function() m.work(42) end)
    assert.has_error(function() m.work("test.echo", {}) end)
    assert.has_error(function() m.work("test.echo", print) end)
    assert.same({ nil, "EWORK: work 'test.sleep': seconds expected", "EWORK" },
                { m.work("test.sleep", "x") })
    assert.equal("EWORK", select(3, m.work("test.echo", 1, 2, 3, 4, 5, 6, 7, 8, 9)))
  end)

  it("a cancelled caller leaves the work to finish alone", function()
    local t = m.spawn(function() return m.work("test.sleep", 0.05) end)
    m.yield()
    t:cancel()
    assert.is_false(pcall(t.await, t))
    assert.is_true(t:cancelled())
    assert.equal(1, m.stats().requests) -- the orphan runs on
    m.work("test.sleep", 0.1) -- the orphan ends meanwhile and is freed
    assert.equal(0, m.stats().requests)
  end)
end)
