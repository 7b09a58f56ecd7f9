-- spawn: N tasks created back to back, each yields once and finishes; main
-- waits on one counter that the last task signals. Prints tasks/s.
--   lua5.4 bench/spawn.lua moonlet|raw|luv|cqueues [N]
local B = dofile("bench/common.lua")
local impl, N = arg[1], tonumber(arg[2]) or 200000

if impl == "moonlet" then
  local m = require "moonlet"
  m.run(function()
    local all = m.future()
    local done = 0
    local function task()
      m.yield()
      done = done + 1
      if done == N then all:set_result() end
    end
    local t0 = B.clock()
    for _ = 1, N do m.spawn(task) end
    all:await()
    B.result("tasks_per_s", N / (B.clock() - t0))
  end)

elseif impl == "raw" then
  -- The least a Lua scheduler does: a FIFO of coroutines.
  local queue, head, tail = {}, 1, 0
  local done, finished = 0, false
  local function task()
    coroutine.yield()
    done = done + 1
    if done == N then finished = true end
  end
  local t0 = B.clock()
  for _ = 1, N do
    tail = tail + 1
    queue[tail] = coroutine.create(task)
  end
  while head <= tail do
    local co = queue[head]
    queue[head] = nil
    head = head + 1
    coroutine.resume(co)
    if coroutine.status(co) == "suspended" then
      tail = tail + 1
      queue[tail] = co
    end
  end
  assert(finished)
  B.result("tasks_per_s", N / (B.clock() - t0))

elseif impl == "luv" then
  -- Coroutines resumed from a libuv idle callback that drains a FIFO.
  local uv = require "luv"
  local queue, head, tail = {}, 1, 0
  local done = 0
  local idle = uv.new_idle()
  local function task()
    coroutine.yield()
    done = done + 1
    if done == N then idle:stop() end
  end
  local t0 = B.clock()
  for _ = 1, N do
    tail = tail + 1
    queue[tail] = coroutine.create(task)
  end
  idle:start(function()
    local last = tail
    while head <= last do
      local co = queue[head]
      queue[head] = nil
      head = head + 1
      coroutine.resume(co)
      if coroutine.status(co) == "suspended" then
        tail = tail + 1
        queue[tail] = co
      end
    end
  end)
  uv.run()
  B.result("tasks_per_s", N / (B.clock() - t0))

elseif impl == "cqueues" then
  local cqueues = require "cqueues"
  local cq = cqueues.new()
  local done = 0
  local function task()
    cqueues.sleep(0)
    done = done + 1
  end
  local t0 = B.clock()
  for _ = 1, N do cq:wrap(task) end
  assert(cq:loop())
  assert(done == N)
  B.result("tasks_per_s", N / (B.clock() - t0))
else
  error("unknown implementation " .. tostring(impl))
end
