-- Issue 16.2: every timeout is measured from the moment of the call, never
-- from the start of the loop's turn, so CPU work done before it is armed
-- cannot make it fire early. Elapsed times come from the OS monotonic clock
-- (m.now); only lower bounds are asserted (the machine may be slow, never
-- early), with 2 ms for libuv's millisecond clock.
local m = require "moonlet"
local U = require "support.util"

local SLACK = 0.002

local function busy(s)
  local t = m.now()
  while m.now() - t < s do end
end

-- The seconds fn takes, run right after busy(cpu).
local function after_cpu(cpu, fn)
  m.sleep(0.001) -- a fresh turn: the loop's cached time is current here
  busy(cpu)
  local t = m.now()
  fn()
  return m.now() - t
end

local function at_least(want, got)
  assert(got >= want - SLACK, ("returned after %.4f s, wanted %.3f"):format(got, want))
end

describe("timeouts after CPU work", function()
  teardown(U.assert_clean)

  it("sleep", function()
    at_least(0.2, after_cpu(0.15, function() m.sleep(0.2) end))
  end)

  it("sleep in a task after another task computed", function()
    local took
    local a = m.spawn(function() busy(0.1) end)
    local b = m.spawn(function()
      local t = m.now()
      m.sleep(0.2)
      took = m.now() - t
    end)
    a:await()
    b:await()
    at_least(0.2, took)
  end)

  it("wait_for and timeout", function()
    at_least(0.3, after_cpu(0.4, function()
      assert.is_false(pcall(m.wait_for, function() m.sleep(5) end, 0.3))
    end))
    at_least(0.1, after_cpu(0.15, function()
      assert.is_false(pcall(m.timeout, 0.1, m.sleep, 5))
    end))
  end)

  it("call_later, call_every and after", function()
    at_least(0.15, after_cpu(0.1, function()
      local f = m.future()
      m.call_later(0.15, function() f:set_result(true) end)
      f:await()
    end))
    at_least(0.1, after_cpu(0.1, function()
      local f = m.future()
      local h
      h = m.call_every(0.1, function() h:cancel(); f:set_result(true) end)
      f:await()
    end))
    at_least(0.15, after_cpu(0.1, function() m.after(0.15):recv() end))
  end)

  it("select, channels and sync primitives", function()
    at_least(0.15, after_cpu(0.1, function()
      assert.is_nil(m.select({ { m.channel(), "recv" } }, { timeout = 0.15 }))
    end))
    at_least(0.1, after_cpu(0.1, function() assert.is_nil(m.event():wait(0.1)) end))
    at_least(0.1, after_cpu(0.1, function() assert.is_nil(m.queue():get(0.1)) end))
    at_least(0.1, after_cpu(0.1, function()
      local l = m.lock()
      l:acquire()
      local t = m.spawn(function() return l:acquire(0.1) end)
      assert.is_nil(t:await())
      l:release()
    end))
  end)

  it("I/O deadlines", function()
    local srv = assert(m.tcp.listen("127.0.0.1", 0, function(s) s:read("a") end))
    local _, port = srv:address()
    local c = assert(m.tcp.connect("127.0.0.1", port))
    c:set_timeout(0.1)
    at_least(0.1, after_cpu(0.1, function()
      local v, _, code = c:read()
      assert.is_nil(v)
      assert.equal("ETIMEDOUT", code)
    end))
    c:close()
    srv:close()
  end)
end)
