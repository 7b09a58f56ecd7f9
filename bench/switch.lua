-- switch: two tasks pass a value back and forth; N one-way handoffs.
-- Prints ns per one-way handoff.
--   lua5.4 bench/switch.lua moonlet|moonlet-channel|raw|raw-sched|luv|cqueues [N]
local B = dofile("bench/common.lua")
local impl, N = arg[1], tonumber(arg[2]) or 1000000

if impl == "moonlet" then
  -- Through futures: each side resolves the other's future and awaits its own.
  local m = require "moonlet"
  m.run(function()
    local to_a, to_b
    local b = m.spawn(function()
      to_b = m.future()
      for _ = 1, N / 2 do
        local v = to_b:await()
        to_b = m.future()
        to_a:set_result(v + 1)
      end
    end)
    m.yield()
    local t0 = B.clock()
    local a = m.spawn(function()
      local v = 0
      for _ = 1, N / 2 do
        to_a = m.future()
        to_b:set_result(v)
        v = to_a:await()
      end
      return v
    end)
    assert(a:await() == N / 2)
    b:await()
    B.result("ns_per_handoff", (B.clock() - t0) / N * 1e9)
  end)

elseif impl == "moonlet-channel" then
  -- Unbuffered channels, as Go's ping-pong: no allocation per handoff.
  local m = require "moonlet"
  m.run(function()
    local ping, pong = m.channel(), m.channel()
    local b = m.spawn(function()
      for _ = 1, N / 2 do pong:send(ping:recv() + 1) end
    end)
    local t0 = B.clock()
    local v = 0
    for _ = 1, N / 2 do
      ping:send(v)
      v = pong:recv()
    end
    assert(v == N / 2)
    B.result("ns_per_handoff", (B.clock() - t0) / N * 1e9)
    b:await()
  end)

elseif impl == "raw" then
  -- A resume and a yield: two one-way handoffs.
  local co = coroutine.wrap(function(v)
    while true do v = coroutine.yield(v + 1) end
  end)
  local t0 = B.clock()
  local v = 0
  for _ = 1, N / 2 do v = co(v) end
  assert(v == N / 2)
  B.result("ns_per_handoff", (B.clock() - t0) / N * 1e9)

elseif impl == "raw-sched" then
  -- Two coroutines resumed in turn by a loop: each one-way handoff is a
  -- yield out of one and a resume into the other, the least any scheduler
  -- between tasks does (raw counts each of those as a handoff).
  local box = 0
  local function side()
    while true do
      box = box + 1
      coroutine.yield()
    end
  end
  local a, b = coroutine.create(side), coroutine.create(side)
  local resume = coroutine.resume
  local t0 = B.clock()
  for _ = 1, N / 2 do
    resume(a)
    resume(b)
  end
  assert(box == N)
  B.result("ns_per_handoff", (B.clock() - t0) / N * 1e9)

elseif impl == "luv" then
  -- Two coroutines; each hands off by queueing the other for the idle
  -- callback that resumes ready coroutines.
  local uv = require "luv"
  local ready = {}
  local idle = uv.new_idle()
  local box = 0
  local a, b
  a = coroutine.create(function()
    for _ = 1, N / 2 do
      box = box + 1
      ready[#ready + 1] = b
      coroutine.yield()
    end
    idle:stop()
  end)
  b = coroutine.create(function()
    while true do
      box = box + 1
      ready[#ready + 1] = a
      coroutine.yield()
    end
  end)
  ready[1] = a
  local t0 = B.clock()
  idle:start(function()
    local batch = ready
    ready = {}
    for i = 1, #batch do coroutine.resume(batch[i]) end
  end)
  uv.run()
  B.result("ns_per_handoff", (B.clock() - t0) / N * 1e9)

elseif impl == "cqueues" then
  -- Condition variables: signal the other side, wait on our own.
  local cqueues = require "cqueues"
  local condition = require "cqueues.condition"
  local cq = cqueues.new()
  local ca, cb = condition.new(), condition.new()
  local turn, v, t0 = "a", 0, nil
  cq:wrap(function()
    t0 = B.clock()
    for _ = 1, N / 2 do
      while turn ~= "a" do ca:wait() end
      v = v + 1
      turn = "b"
      cb:signal()
    end
  end)
  cq:wrap(function()
    for _ = 1, N / 2 do
      while turn ~= "b" do cb:wait() end
      turn = "a"
      ca:signal()
    end
  end)
  assert(cq:loop())
  B.result("ns_per_handoff", (B.clock() - t0) / N * 1e9)
else
  error("unknown implementation " .. tostring(impl))
end
