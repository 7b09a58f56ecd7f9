-- throughput: 4 producers and 4 consumers pass N values through one
-- buffered channel (capacity 1024). Prints values/s.
--   lua5.4 bench/throughput.lua moonlet [N]
local B = dofile("bench/common.lua")
local impl, N = arg[1], tonumber(arg[2]) or 10000000
assert(impl == "moonlet", "only moonlet has channels here; Go's is in bench/go")

local m = require "moonlet"
m.run(function()
  local ch = m.channel(1024)
  local per = N // 4
  local t0 = B.clock()
  local producers, consumers = {}, {}
  for p = 1, 4 do
    producers[p] = m.spawn(function()
      for i = 1, per do ch:send(i) end
    end)
  end
  local total = 0
  for c = 1, 4 do
    consumers[c] = m.spawn(function()
      local n = 0
      for _ in ch:iter() do n = n + 1 end
      total = total + n
    end)
  end
  for _, p in ipairs(producers) do p:await() end
  ch:close()
  for _, c in ipairs(consumers) do c:await() end
  assert(total == per * 4)
  B.result("values_per_s", total / (B.clock() - t0))
end)
