-- moonlet showcase: run with `make showcase`.
local m = require "moonlet"

local function title(s) print(("\n== %s "):format(s) .. ("="):rep(60 - #s)) end

m.run(function()
  title("1,000 tasks sleeping 200 ms each")
  local t0 = m.now()
  for _ = 1, 5 do m.sleep(0.2) end
  local seq = m.now() - t0
  t0 = m.now()
  local tasks = {}
  for i = 1, 1000 do tasks[i] = m.spawn(function() m.sleep(0.2); return i end) end
  local sum = 0
  for _, t in ipairs(tasks) do sum = sum + t:await() end
  local conc = m.now() - t0
  print(("sequential: 5 sleeps took %.2f s, so 1,000 would take about %.0f s"):format(seq, seq * 200))
  print(("concurrent: 1,000 sleeps took %.2f s (checksum %d)"):format(conc, sum))

  title("tasks suspending inside table.sort comparators")
  -- Each comparison "asks a slow service"; three sorts share the time.
  local log = {}
  local sorters = {}
  for _, name in ipairs({ "A", "B", "C" }) do
    sorters[#sorters + 1] = m.spawn(function()
      local list = { 5, 2, 4, 1, 3 }
      table.sort(list, function(a, b)
        m.sleep(0.01)
        log[#log + 1] = name
        return a < b
      end)
      return name .. ": " .. table.concat(list, " ")
    end)
  end
  for _, t in ipairs(sorters) do print(t:await()) end
  print("comparisons ran interleaved: " .. table.concat(log, "", 1, math.min(#log, 24)) .. "...")

  title("cancelling a task runs its cleanup")
  local worker = m.spawn(function()
    local _ <close> = setmetatable({}, { __close = function(_, err)
      print(("  cleanup ran (%s)"):format(err and tostring(err) or "normal exit"))
    end })
    print("  worker: starting a long job")
    m.sleep(60)
    print("  worker: never printed")
  end)
  m.sleep(0.05)
  print("main: cancelling the worker")
  worker:cancel("user pressed stop")
  local ok, err = pcall(worker.await, worker)
  print(("main: worker ended: ok=%s, %s, status=%s"):format(tostring(ok), tostring(err), worker:status()))

  title("switching statistics")
  local s = m.stats()
  print(("fast switches %d, native switches %d, slices copied %d (%d bytes), backend %s")
    :format(s.fast_switches, s.native_switches, s.slices_copied, s.bytes_copied, s.switch_backend))
end)
