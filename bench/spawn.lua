-- spawn: ROUNDS rounds in one process; in each, N tasks created back to back,
-- each yields once and finishes, and main waits on one counter that the last
-- task signals. Prints tasks/s of the first round (a fresh process) and the
-- median of the later ones (warm: the process has run tasks before, as a
-- server has).
--   lua5.4 bench/spawn.lua moonlet|raw|raw-handles|luv|cqueues [N] [ROUNDS]
local B = dofile("bench/common.lua")
package.path = "./bench/?.lua;" .. package.path
local median = require("driver").median
local impl, N = arg[1], tonumber(arg[2]) or 200000
local ROUNDS = tonumber(arg[3]) or 5

-- Calls round() ROUNDS times; round returns its seconds.
local function report(round)
  local rates = {}
  for r = 1, ROUNDS do rates[r] = N / round() end
  B.result("tasks_per_s", rates[1])
  B.result("tasks_per_s_warm", median({ table.unpack(rates, 2) }) or rates[1])
end

-- The least a Lua scheduler does: a FIFO of coroutines. queue holds N new
-- coroutines of task; drain resumes those queued when it began and queues
-- again the ones that are still suspended. One call per pass, so the
-- baselines pay no call per coroutine. With handles, each coroutine also
-- gets the small table a spawn that returns a task object would make.
local function fifo(task, handles)
  local queue = {}
  for i = 1, N do
    queue[i] = coroutine.create(task)
    if handles then handles[i] = { queue[i] } end
  end
  return queue, 1, N
end

local function drain(queue, head, tail)
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
  return head, tail
end

if impl == "moonlet" then
  local m = require "moonlet"
  m.run(function()
    report(function()
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
      return B.clock() - t0
    end)
  end)

elseif impl == "raw" or impl == "raw-handles" then
  -- raw-handles adds a handle table per coroutine, kept for the round: the
  -- floor for any scheduler whose spawn returns a task object (two
  -- collectable objects per task, where raw coroutines have one).
  report(function()
    local done = 0
    local function task()
      coroutine.yield()
      done = done + 1
    end
    local t0 = B.clock()
    local handles = impl == "raw-handles" and {} or nil
    local queue, head, tail = fifo(task, handles)
    while head <= tail do head, tail = drain(queue, head, tail) end
    assert(done == N and (not handles or #handles == N))
    return B.clock() - t0
  end)

elseif impl == "luv" then
  -- The FIFO drained from a libuv idle callback.
  local uv = require "luv"
  local idle = uv.new_idle()
  report(function()
    local done = 0
    local function task()
      coroutine.yield()
      done = done + 1
      if done == N then idle:stop() end
    end
    local t0 = B.clock()
    local queue, head, tail = fifo(task)
    idle:start(function() head, tail = drain(queue, head, tail) end)
    uv.run()
    assert(done == N)
    return B.clock() - t0
  end)

elseif impl == "cqueues" then
  local cqueues = require "cqueues"
  local cq = cqueues.new()
  report(function()
    local done = 0
    local function task()
      cqueues.sleep(0)
      done = done + 1
    end
    local t0 = B.clock()
    for _ = 1, N do cq:wrap(task) end
    assert(cq:loop())
    assert(done == N)
    return B.clock() - t0
  end)
else
  error("unknown implementation " .. tostring(impl))
end
