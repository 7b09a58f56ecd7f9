-- The shared stack: its size, the guard region, and how deep C can go.
local m = require "moonlet"
local U = require "support.util"

describe("the shared stack", function()
  it("holds Lua's whole C-call budget of nested gsub callbacks", function()
    local t = m.spawn(function()
      local depth = 0
      local function dive(s)
        depth = depth + 1
        if depth >= 190 then m.yield(); return "bottom" end
        return (s:gsub(".", dive))
      end
      local ok, r = pcall(dive, "x")
      return ok, r, depth
    end)
    local ok, r, depth = t:await()
    -- Either it reached the bottom, or Lua's own limit stopped it cleanly.
    if ok then
      assert.equal("bottom", r)
    else
      assert.matches("stack overflow", r)
    end
    assert.is_true(depth > 150)
  end)

  it("reports a hit on its guard by name instead of corrupting memory", function()
    if U.under_valgrind then return end -- Valgrind runs signal handlers its own way
    local code, _, err = U.run_script([[
      local m = require "moonlet"
      local testmod = require "moonlet_testmod"
      m.spawn(function() testmod.overflow() end)
      m.sleep(0.01)
    ]])
    assert.are_not.equal(0, code)
    assert.matches("moonlet: stack overflow on the shared stack or a C fiber's stack %(C recursion too deep%)", err)
  end)

  it("takes its size from MOONLET_STACK_SIZE, never below 512 KiB", function()
    local code, out = U.run_script([[
      print(require("moonlet").stats().stack_size)
    ]], "MOONLET_STACK_SIZE=2m")
    assert.equal(0, code)
    assert.equal(tostring(2 * 1024 * 1024), out:match("%d+"))
    code, out = U.run_script([[
      print(require("moonlet").stats().stack_size)
    ]], "MOONLET_STACK_SIZE=4096")
    assert.equal(0, code)
    assert.equal(tostring(512 * 1024), out:match("%d+"))
  end)

  it("leaves no task or handle behind", U.assert_clean)
end)
