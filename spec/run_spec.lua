-- moonlet.run: the main task, leftovers, errors, deadlock.
local m = require "moonlet"
local U = require "support.util"

describe("run", function()
  it("returns the main task's results", function()
    local a, b, c = m.run(function(x) m.sleep(0.001); return x, nil, "z" end, "a")
    assert.same({ "a", nil, "z" }, { a, b, c })
  end)

  it("raises the main task's error, the same value", function()
    local e = { why = "broken" }
    local ok, err = pcall(m.run, function() m.yield(); error(e) end)
    assert.is_false(ok)
    assert.equal(e, err)
  end)

  it("cancels what the main task left running and waits for its cleanup", function()
    local log = {}
    m.run(function()
      m.spawn(function()
        local _ <close> = setmetatable({}, { __close = function() log[#log + 1] = "cleaned" end })
        m.sleep(100)
      end)
      m.yield()
      log[#log + 1] = "main returns"
    end)
    assert.same({ "main returns", "cleaned" }, log)
    assert.equal(0, m.stats().tasks)
  end)

  it("reports a deadlock and still cleans up", function()
    local cleaned = false
    local ok, err = pcall(m.run, function()
      local _ <close> = setmetatable({}, { __close = function() cleaned = true end })
      m.future():await()
    end)
    assert.is_false(ok)
    assert.matches("deadlock", err)
    assert.is_true(cleaned)
  end)

  it("cannot be nested inside a task or a callback", function()
    local t = m.spawn(function() return pcall(m.run, function() end) end)
    local ok, err = t:await()
    assert.is_false(ok)
    assert.matches("cannot be called from inside a task or callback", err)
    assert.has_error(function() m.run(42) end, "bad argument #1 to 'run' (function expected, got number)")
  end)

  it("needs no run at all for a script: blocking drives the loop", function()
    local code, out = U.run_script([[
      local m = require "moonlet"
      local t = m.spawn(function() m.sleep(0.01); return "from task" end)
      print(t:await())
    ]])
    assert.equal(0, code)
    assert.equal("from task\n", out)
  end)

  it("lets a task end the program with os.exit(code, true)", function()
    local code, out, err = U.run_script([[
      local m = require "moonlet"
      m.spawn(function() m.sleep(10) end)
      m.run(function()
        table.sort({ 2, 1 }, function(a, b) m.yield(); return a < b end)
        print("exiting from a task")
        os.exit(3, true)
      end)
    ]])
    assert.equal(3, code)
    assert.equal("exiting from a task\n", out)
    assert.equal("", err)
  end)

  it("leaves no task or handle behind", U.assert_clean)
end)
