-- idle memory: N tasks each sleeping 2-10 s on a timer. Prints bytes per
-- task: (RSS once all are asleep - RSS before) / N.
--   lua5.4 bench/idle.lua moonlet|raw|luv|cqueues [N]
local B = dofile("bench/common.lua")
local impl, N = arg[1], tonumber(arg[2]) or 100000

local function report(base)
  collectgarbage()
  B.result("bytes_per_task", (B.rss_kb() - base) * 1024 / N)
  B.exit()
end

if impl == "moonlet" then
  local m = require "moonlet"
  collectgarbage()
  local base = B.rss_kb()
  local asleep = 0
  local all = m.future()
  local function task(s)
    asleep = asleep + 1
    if asleep == N then all:set_result() end
    m.sleep(s)
  end
  for i = 1, N do m.spawn(task, 2 + i % 9) end
  all:await()
  report(base)

elseif impl == "raw" then
  -- Coroutines parked with their deadline, as a Lua scheduler keeps them.
  collectgarbage()
  local base = B.rss_kb()
  local sleeping = {} -- luacheck: ignore 241 (holds the coroutines: what is measured)
  local function task(s)
    coroutine.yield(s)
  end
  for i = 1, N do
    local co = coroutine.create(task)
    local _, s = coroutine.resume(co, 2 + i % 9)
    sleeping[i] = { co = co, deadline = os.time() + s }
  end
  report(base)

elseif impl == "luv" then
  local uv = require "luv"
  collectgarbage()
  local base = B.rss_kb()
  local asleep = 0
  local function task(s)
    local co = coroutine.running()
    local t = uv.new_timer()
    t:start(s * 1000, 0, function() t:close(); coroutine.resume(co) end)
    asleep = asleep + 1
    coroutine.yield()
  end
  for i = 1, N do coroutine.wrap(task)(2 + i % 9) end
  assert(asleep == N)
  report(base)

elseif impl == "cqueues" then
  local cqueues = require "cqueues"
  collectgarbage()
  local base = B.rss_kb()
  local cq = cqueues.new()
  local asleep = 0
  for i = 1, N do
    cq:wrap(function() asleep = asleep + 1; cqueues.sleep(2 + i % 9) end)
  end
  while asleep < N do assert(cq:step(0)) end
  report(base)
else
  error("unknown implementation " .. tostring(impl))
end
