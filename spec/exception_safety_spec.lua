-- Issue 16.7: a user callback that raises in the middle of a primitive's
-- update (a comparison, __lt, a <close> handler, a done-callback, the body
-- of a channel loop) leaves the primitive as it was and working.
local m = require "moonlet"
local U = require "support.util"

-- A comparison that raises while armed.
local function touchy()
  local armed = false
  local function less(a, b)
    if armed then error("comparison failed", 0) end
    return a < b
  end
  return less, function(on) armed = on end
end

local function drain(q)
  local out = {}
  while not q:empty() do out[#out + 1] = q:get() end
  return out
end

describe("exception safety", function()
  teardown(U.assert_clean)

  it("priority_queue: a comparison raising in put keeps no phantom item", function()
    local less, arm = touchy()
    local q = m.priority_queue(0, less)
    q:put(5)
    arm(true)
    assert.has_error(function() q:put(3) end, "comparison failed")
    assert.has_error(function() q:try_put(1) end, "comparison failed")
    arm(false)
    assert.equal(1, q:size())
    assert.same({ 5 }, drain(q))
    q:task_done()
    assert.is_true(q:join(1)) -- nothing unfinished is left behind
  end)

  it("priority_queue: a comparison raising in get leaves every item in place", function()
    local less, arm = touchy()
    local q = m.priority_queue(0, less)
    for _, v in ipairs({ 4, 1, 3, 2, 5 }) do q:put(v) end
    arm(true)
    assert.has_error(function() q:get() end, "comparison failed")
    assert.has_error(function() q:try_get() end, "comparison failed")
    arm(false)
    assert.equal(5, q:size())
    assert.same({ 1, 2, 3, 4, 5 }, drain(q))
  end)

  it("priority_queue: __lt raising on some items, at random, never corrupts the order", function()
    local mt = {}
    mt.__lt = function(a, b)
      if a.bad or b.bad then error("no order for bad items", 0) end
      return a.k < b.k
    end
    math.randomseed(16)
    local q = m.priority_queue()
    local model = {}
    for _ = 1, 2000 do
      if math.random() < 0.6 then
        local item = setmetatable({ k = math.random(100), bad = math.random() < 0.2 }, mt)
        if pcall(q.put, q, item) then model[#model + 1] = item.k end
      elseif #model > 0 then
        local v = q:get()
        table.sort(model)
        assert.equal(table.remove(model, 1), v.k)
      end
      assert.equal(#model, q:size())
    end
  end)

  it("priority_queue: a putter woken from a full queue whose item cannot be compared passes its slot on", function()
    local q = m.priority_queue(2, function(a, b)
      if a == 0 or b == 0 then error("comparison failed", 0) end
      return a < b
    end)
    q:put(1)
    q:put(2)
    local bad = m.spawn(function() return pcall(q.put, q, 0) end)
    local good = m.spawn(function() return q:put(3) end)
    m.sleep(0.01)
    assert.equal(1, q:get()) -- room for one: the first putter's, which fails
    local ok, err = bad:await()
    assert.is_false(ok)
    assert.equal("comparison failed", err)
    assert.is_true(good:await())
    assert.same({ 2, 3 }, drain(q))
  end)

  it("lock, semaphore, condition: a block that raises releases through <close>", function()
    local l, s, c = m.lock(), m.semaphore(1), m.condition()
    for _ = 1, 3 do
      assert.is_false(pcall(function()
        local _ <close> = l:acquire()
        local _ <close> = s:acquire()
        local _ <close> = c:acquire()
        error("in the middle")
      end))
    end
    assert.is_false(l:locked())
    assert.equal(1, s:value())
    assert.is_false(c:locked())
    -- and a waiter queued behind a failing holder gets its turn
    local holder = m.spawn(function()
      local _ <close> = l:acquire()
      m.sleep(0.01)
      error("holder failed", 0)
    end)
    local waiter = m.spawn(function() return l:acquire(1) == l end)
    assert.is_true(waiter:await())
    l:release()
    assert.is_false(pcall(holder.await, holder))
  end)

  it("futures: a done-callback that raises does not stop the others or the awaiters", function()
    local reported = {}
    m.on_error(function(e) reported[#reported + 1] = tostring(e) end)
    local f = m.future()
    local seen = {}
    f:on_done(function() seen[#seen + 1] = 1 end)
    f:on_done(function() error("callback failed", 0) end)
    f:on_done(function() seen[#seen + 1] = 3 end)
    local waiter = m.spawn(function() return f:await() end)
    m.yield()
    f:set_result("v")
    assert.equal("v", waiter:await())
    m.yield()
    m.on_error(nil)
    assert.same({ 1, 3 }, seen)
    assert.equal(1, #reported)
    assert.matches("callback failed", reported[1])
  end)

  it("channels: a loop body that raises mid-iteration loses nothing", function()
    local ch = m.channel(4)
    for i = 1, 4 do ch:send(i) end
    assert.is_false(pcall(function()
      for v in ch:iter() do if v == 2 then error("stop") end end
    end))
    assert.equal(2, #ch)
    assert.equal(3, ch:recv())
    assert.equal(4, ch:recv())
    ch:close()
  end)
end)
