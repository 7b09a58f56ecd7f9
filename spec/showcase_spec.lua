-- make showcase runs and shows what it promises.
local U = require "support.util"
teardown(U.assert_clean) -- the leak check every spec file ends with

describe("examples/showcase.lua", function()
  it("runs 1,000 sleepers at once, sorts with blocking comparators and cancels with cleanup", function()
    local f = assert(io.open("examples/showcase.lua"))
    local code = f:read("a")
    f:close()
    local status, out, err = U.run_script(code)
    assert.equal(0, status, err)
    assert.matches("concurrent: 1,000 sleeps took [%d.]+ s %(checksum 500500%)", out)
    assert.matches("A: 1 2 3 4 5\nB: 1 2 3 4 5\nC: 1 2 3 4 5", out)
    assert.matches("comparisons ran interleaved: ABCABC", out)
    assert.matches("cleanup ran %(cancelled: user pressed stop%)", out)
    assert.matches("worker ended: ok=false, cancelled: user pressed stop, status=cancelled", out)
    assert.equal("", err)
  end)
end)
