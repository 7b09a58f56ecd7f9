-- queue, lifo_queue, priority_queue.
local m = require "moonlet"
local U = require "support.util"

describe("queue", function()
  it("is FIFO, and a put hands the item straight to a waiting getter", function()
    local q = m.queue()
    local log = {}
    local g = m.spawn(function()
      log[#log + 1] = "get"
      local v = q:get()
      log[#log + 1] = "got " .. v
    end)
    m.yield()
    q:put("a")
    log[#log + 1] = "put"
    assert.equal(0, q:size(), "handed over, not stored")
    g:await()
    assert.same({ "get", "put", "got a" }, log)
    q:put(1); q:put(2); q:put(3)
    assert.same({ 1, 2, 3 }, { q:get(), q:get(), q:get() })
  end)

  it("bounded: put waits for room, FIFO among putters", function()
    local q = m.queue(1)
    q:put("x")
    assert.is_true(q:full())
    local order = {}
    local ps = {}
    for i = 1, 3 do ps[i] = m.spawn(function() q:put(i); order[#order + 1] = i end) end
    m.yield()
    local got = {}
    for _ = 1, 4 do got[#got + 1] = q:get() end
    for _, p in ipairs(ps) do p:await() end
    assert.same({ "x", 1, 2, 3 }, got)
    assert.same({ 1, 2, 3 }, order)
  end)

  it("try_put, try_get and timeouts", function()
    local q = m.queue(1)
    assert.same({ nil, nil }, { q:try_get() })
    assert.is_true(q:try_put("a"))
    assert.is_false(q:try_put("b"))
    assert.same({ nil, "ETIMEDOUT: timed out", "ETIMEDOUT" }, { q:put("b", 0.002) })
    assert.same({ "a", true }, { q:try_get() })
    assert.same({ nil, "ETIMEDOUT: timed out", "ETIMEDOUT" }, { q:get(0.002) })
  end)

  it("task_done and join", function()
    local q = m.queue()
    local done = {}
    for i = 1, 3 do q:put(i) end
    local worker = m.spawn(function()
      while true do
        local v = q:get()
        if v == nil then return end
        m.sleep(0.001)
        done[#done + 1] = v
        q:task_done()
      end
    end)
    assert.is_true(q:join())
    assert.same({ 1, 2, 3 }, done)
    assert.has_error(function() q:task_done() end, "task_done called more times than items were put")
    q:close()
    worker:await()
  end)

  it("close: put raises, getters drain then get nil, msg, \"ECLOSED\"", function()
    local q = m.queue()
    q:put("last")
    local waiting = m.queue()
    local g = m.spawn(function() return waiting:get() end)
    m.yield()
    q:close()
    waiting:close()
    assert.is_true(q:closed())
    assert.has_error(function() q:put(1) end, "put on a closed queue")
    assert.equal("last", q:get())
    assert.same({ nil, "ECLOSED: the queue is closed", "ECLOSED" }, { q:get() })
    assert.same({ nil, "ECLOSED: the queue is closed", "ECLOSED" }, { g:await() })
    assert.has_error(function() q:close() end, "close of a closed queue")
  end)

  it("an item handed to a cancelled getter goes to the next one", function()
    local q = m.queue()
    local a = m.spawn(function() return q:get() end)
    local b = m.spawn(function() return q:get() end)
    m.yield()
    a:cancel()   -- woken to be cancelled, not yet run ...
    q:put("item") -- ... when the item reaches it
    assert.has_error(function() a:await() end)
    assert.equal("item", b:await())
  end)

  it("carries nil", function()
    local q = m.queue()
    q:put(nil)
    local v, ok = q:try_get()
    assert.is_nil(v)
    assert.is_true(ok)
  end)
end)

describe("lifo_queue and priority_queue", function()
  it("lifo gives the newest first", function()
    local q = m.lifo_queue()
    for i = 1, 3 do q:put(i) end
    assert.same({ 3, 2, 1 }, { q:get(), q:get(), q:get() })
  end)

  it("priority gives the smallest first, equal ones in arrival order", function()
    local q = m.priority_queue()
    for _, v in ipairs({ 5, 1, 4, 1, 3 }) do q:put(v) end
    assert.same({ 1, 1, 3, 4, 5 }, { q:get(), q:get(), q:get(), q:get(), q:get() })
    local jobs = m.priority_queue(0, function(a, b) return a.pri < b.pri end)
    jobs:put({ pri = 2, name = "b1" })
    jobs:put({ pri = 1, name = "a" })
    jobs:put({ pri = 2, name = "b2" })
    assert.same({ "a", "b1", "b2" }, { jobs:get().name, jobs:get().name, jobs:get().name })
  end)

  it("reject bad arguments", function()
    assert.has_error(function() m.queue(-1) end)
    assert.has_error(function() m.queue(1.5) end)
    assert.has_error(function() m.priority_queue(0, 42) end)
    assert.has_error(function() m.queue():get(-1) end)
  end)

  it("leaves no task or handle behind", U.assert_clean)
end)
