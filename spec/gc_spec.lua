-- The collector runs while tasks are natively suspended: their Lua stacks
-- may shrink and objects move between generations; nothing may break.
local m = require "moonlet"
local testmod = require "moonlet_testmod"
local U = require "support.util"

local function stress(mode)
  local old = collectgarbage(mode)
  local stop = false
  local collector = m.spawn(function()
    local i = 0
    while not stop do
      i = i + 1
      if i % 2 == 0 then collectgarbage() else collectgarbage("step", 10) end
      m.yield()
    end
  end)
  local n = 1000
  local tasks = {}
  for i = 1, n do
    tasks[i] = m.spawn(function()
      local garbage = {}
      local l = { i + 3, i + 1, i + 2 }
      table.sort(l, function(a, b)
        garbage[#garbage + 1] = { a, b, tostring(a) .. "x" } -- allocate while suspended
        m.yield()
        return a < b
      end)
      local s = testmod.call(function() m.yield(); return ("v%d"):format(i) end)
      return l[1] + l[2] + l[3], s
    end)
  end
  for i, t in ipairs(tasks) do
    local sum, s = t:await()
    assert.equal(3 * i + 6, sum)
    assert.equal("v" .. i, s)
  end
  stop = true
  collector:await()
  collectgarbage(old == "generational" and "generational" or "incremental")
end

describe("garbage collection during native switches", function()
  it("is safe in incremental mode with 1000 tasks", function() stress("incremental") end)
  it("is safe in generational mode with 1000 tasks", function() stress("generational") end)
  it("leaves no task or handle behind", U.assert_clean)
end)
