-- Every example runs and shows what it is meant to show.
local U = require "support.util"

local function run(name)
  local f = assert(io.open("examples/" .. name .. ".lua"))
  local code = f:read("a")
  f:close()
  local status, out, err = U.run_script(code)
  assert.equal(0, status, err)
  assert.equal("", err)
  return out
end

describe("examples", function()
  it("producer_consumer: the consumer iterates until the producer closes", function()
    local out = run("producer_consumer")
    for i = 1, 6 do assert.matches("consumer: got line " .. i .. "\n", out, 1, true) end
    assert.matches("producer: closed the channel\n.*consumer: done after 6 lines\n$", out)
    -- The producer ran ahead of the slow consumer, up to the buffer.
    assert.matches("producer: sent line 5 %(4 buffered%)", out)
  end)

  it("worker_pool: every job done once, by several workers", function()
    local out = run("worker_pool")
    assert.matches("sum of squares 1..10 = 385", out, 1, true)
    local total, busy = 0, 0
    for n in out:gmatch("worker %d did (%d+) jobs") do
      total = total + tonumber(n)
      if tonumber(n) > 0 then busy = busy + 1 end
    end
    assert.equal(10, total)
    assert.is_true(busy >= 2)
  end)

  it("fan_in: merges both sources completely, ignoring the stuck one", function()
    local out = run("fan_in")
    for i = 1, 5 do assert.matches("got fast #" .. i .. "\n", out, 1, true) end
    for i = 1, 3 do assert.matches("got slow #" .. i .. "\n", out, 1, true) end
    assert.matches("fast source finished", out, 1, true)
    assert.matches("slow source finished", out, 1, true)
    assert.matches("received 8 messages\n$", out)
  end)

  it("queue_join: a put hands its item to a waiting getter, who runs on the next turn", function()
    local out = run("queue_join")
    assert.equal(table.concat({
      "worker 1: waiting", "worker 2: waiting",
      "main: put a", "main: put b", "main: put c (no one waits: it is stored)",
      "main: join",
      "worker 1: got a", "worker 2: got b",
      "worker 1: waiting", "worker 1: got c",
      "worker 2: waiting", "worker 1: waiting",
      "main: every item is done", "",
    }, "\n"), out)
  end)
end)
