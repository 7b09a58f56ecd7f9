-- A foreman hands jobs to N workers over a channel and collects the results
-- over another; a waitgroup tells when every worker has finished.
local m = require "moonlet"

local function work(n)
  m.sleep(0.001 * (n % 3)) -- jobs take different times
  return n * n
end

m.run(function()
  local jobs, results = m.channel(), m.channel(10)
  local wg = m.waitgroup()

  for w = 1, 3 do
    wg:add()
    m.spawn(function()
      for n in jobs:iter() do results:send({ worker = w, job = n, value = work(n) }) end
      wg:done()
    end)
  end

  m.spawn(function()
    for n = 1, 10 do jobs:send(n) end
    jobs:close() -- workers leave their loops once the jobs are drained
  end)

  m.spawn(function()
    wg:wait()
    results:close()
  end)

  local sum, by_worker = 0, {}
  for r in results:iter() do
    sum = sum + r.value
    by_worker[r.worker] = (by_worker[r.worker] or 0) + 1
  end
  print(("sum of squares 1..10 = %d"):format(sum))
  for w = 1, 3 do print(("worker %d did %d jobs"):format(w, by_worker[w] or 0)) end
end)
