-- Smoke spec run against a luarocks-installed copy (tools/check-rock.sh).
describe("the installed moonlet", function()
  local tree = os.getenv("MOONLET_ROCK_TREE")

  it("is loaded from the luarocks tree", function()
    assert.truthy(tree)
    local core = package.searchpath("moonlet.core", package.cpath)
    local lua = package.searchpath("moonlet", package.path)
    assert.equal(tree, core:sub(1, #tree))
    assert.equal(tree, lua:sub(1, #tree))
  end)

  it("runs tasks that block inside a sort comparator", function()
    local m = require "moonlet"
    local r = m.run(function()
      local t = m.spawn(function()
        local l = { 3, 1, 2 }
        table.sort(l, function(a, b) m.sleep(0.001); return a < b end)
        return table.concat(l, " ")
      end)
      return t:await()
    end)
    assert.equal("1 2 3", r)
  end)
end)
