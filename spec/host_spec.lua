-- The example C host (examples/host/health.c, built by make into build/)
-- runs its Lua checks concurrently inside its own libuv loop, blocks from C
-- (host.wait_slot), gets a checksum from a worker thread, and closes its
-- loop cleanly after moonlet_close.
local m = require "moonlet"
local U = require "support.util"
teardown(U.assert_clean) -- the leak check every spec file ends with

describe("examples/host (embedding)", function()
  it("runs the checks of checks.lua and prints the status table", function()
    local exe = "./" .. U.build .. "/host-health"
    local out, err, code = m.process.run({ exe, "examples/host/checks.lua" }, { timeout = 60 })
    assert.equal(0, code, err)
    local rows = {}
    for name, status in out:gmatch("\n(%S[^\n]-)%s%s+(%u+)%s+[%d.]+%s") do rows[name] = status end
    assert.same({
      ["tcp echo"] = "OK", ["http /health"] = "OK", ["http /status"] = "FAIL",
      ["process uname"] = "OK", ["checksum thread"] = "OK",
      ["slow dependency"] = "FAIL", ["closed port"] = "FAIL",
    }, rows)
    assert.matches("fnv1a%(hello%) = 4f9f2cab", out)
    assert.matches("timeout: timed out after 0.2 s", out)
    assert.matches("7 checks, 3 failed; host timer ticked %d+ times meanwhile; loop closed: yes", out)
  end)
end)
