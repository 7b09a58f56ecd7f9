-- The blocked-loop watchdog, in child processes whose stderr the specs
-- read: a task computing without yielding, a blocking C call and a slow
-- callback are each reported once, with where they are; a busy program
-- whose steps are all short gets no report.
local m = require "moonlet"
local U = require "support.util"

teardown(U.assert_clean)

local function run(body, env)
  local status, out, err = U.run_script('local m = require "moonlet"\n' .. body, env)
  assert.equal(0, status, err)
  return out, err
end

describe("the watchdog", function()
  it("reports a task that computes without yielding, while it runs, with its line", function()
    local out, err = run([[
m.watchdog(0.05)
m.run(function()
  m.spawn(function()
    local stop = os.clock() + 0.3
    while os.clock() < stop do end -- line 6
  end):set_name("hog")
  m.sleep(0.01)
end)
print(m.stats().watchdog_incidents)
]])
    assert.is_true(tonumber(out) >= 1)
    local _, n = err:gsub("moonlet: watchdog: task 'hog'", "")
    assert.equal(1, n) -- once per incident
    assert.matches("moonlet: watchdog: task 'hog' has kept the loop from turning for [%d.]+ s "
      .. "%(threshold 0.050 s%)\nstack traceback:\n", err)
    assert.matches(":6: in function", err)
    assert.is_true(tonumber(err:match("turning for ([%d.]+) s")) >= 0.05)
  end)

  it("names the Lua line that made a blocking call, once the call returns", function()
    local _, err = run([[
m.watchdog(0.05)
m.run(function()
  m.spawn(function()
    os.execute("sleep 0.3") -- line 5
  end):set_name("blocker")
  m.sleep(0.01)
end)
]])
    assert.matches("task 'blocker' has kept the loop from turning for [%d.]+ s", err)
    assert.is_true(tonumber(err:match("turning for ([%d.]+) s")) >= 0.2)
    assert.matches("%[C%]: in function 'os.execute'\n\t[^\n]*:5: in function", err)
  end)

  it("reports a slow callback, and in debug mode without being asked", function()
    local _, err = run([[
m.debug(true)
assert(m.watchdog() == 0.1)
m.call_soon(function()
  local stop = os.clock() + 0.3
  while os.clock() < stop do end
end)
m.sleep(0.01)
]])
    assert.matches("moonlet: watchdog: a callback has kept the loop from turning", err)
    local _, err2 = run("m.sleep(0.01)", "MOONLET_DEBUG=1")
    assert.equal("", err2)
  end)

  it("stays silent while every step is short, however busy the loop", function()
    local out, err = run([[
m.watchdog(0.5) -- well above any preemption of a loaded machine
m.run(function()
  local a, b = m.channel(), m.channel()
  m.spawn(function() for i = 1, 20000 do a:send(i); b:recv() end end)
  for _ = 1, 20000 do a:recv(); b:send(true) end
  for _ = 1, 20 do m.sleep(0.005) end
end)
print(m.stats().watchdog_incidents)
]])
    assert.equal("0\n", out)
    assert.equal("", err)
  end)

  it("is on by default (0.5 s): an unpatched LuaSocket call that blocks the loop is named", function()
    local out, err = run([[
local socket = require "socket" -- LuaSocket itself, not patched
print(m.watchdog())
m.run(function()
  m.spawn(function()
    socket.sleep(1.2) -- line 6: blocks the whole loop
  end):set_name("fetch")
  m.sleep(0.01)
end)
]], "MOONLET_WATCHDOG=")
    assert.equal("0.5\n", out)
    assert.matches("moonlet: watchdog: task 'fetch' has kept the loop from turning for [%d.]+ s "
      .. "%(threshold 0.500 s%)\nstack traceback:\n", err)
    assert.matches(":6: in function", err)
    out = run("print(m.watchdog())", "MOONLET_WATCHDOG=0")
    assert.equal("false\n", out) -- turned off
  end)

  it("is set, changed and stopped with m.watchdog; misuse raises", function()
    local was = m.watchdog()
    assert.equal(0.5, m.watchdog(0.5))
    assert.equal(0.25, m.watchdog(0.25))
    assert.is_false(m.watchdog(false))
    assert.is_false(m.watchdog())
    assert.has_error(function() m.watchdog(0) end,
      "bad argument #1 to 'watchdog' (seconds in (0, 86400) expected)")
    assert.has_error(function() m.watchdog("x") end,
      "bad argument #1 to 'watchdog' (number expected, got string)")
    if was then m.watchdog(was) end
  end)
end)
