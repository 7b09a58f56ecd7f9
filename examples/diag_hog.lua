-- A program that hogs the loop, and the watchdog report that finds it: a
-- ticker should tick every 50 ms, but one task computes for half a second
-- without yielding, and another makes a blocking call. The watchdog
-- (m.watchdog, or debug mode) names each, with its traceback.
local m = require "moonlet"
m.watchdog(0.1)

m.run(function()
  local ticks = 0
  local ticker = m.spawn(function()
    for _ = 1, 10 do m.sleep(0.05); ticks = ticks + 1 end
  end):set_name("ticker")
  m.spawn(function()
    local n = 0
    local stop = os.clock() + 0.5
    while os.clock() < stop do n = n + 1 end -- never yields
  end):set_name("checksum")
  m.spawn(function()
    os.execute("sleep 0.3") -- blocks the whole process, not just this task
  end):set_name("shell")
  ticker:await()
  print(("ticks: %d, watchdog reports: %d, worst timer lag: %.2f s"):format(
    ticks, m.stats().watchdog_incidents, m.stats().lag_max))
end)
