-- Shared by the scripts that drive benchmark processes (run.lua, io.lua,
-- crawl.lua): medians, shell commands, CPU pinning.
local D = {}

--- The median of xs (sorted in place), nil when empty.
function D.median(xs)
  table.sort(xs)
  local n = #xs
  if n == 0 then return nil end
  if n % 2 == 1 then return xs[(n + 1) / 2] end
  return (xs[n / 2] + xs[n / 2 + 1]) / 2
end

--- Runs cmd and returns its standard output.
function D.sh(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  p:close()
  return out
end

--- A command prefix that runs on the given core ("" without taskset).
local has_taskset = D.sh("command -v taskset") ~= ""
function D.pin(cpu)
  return has_taskset and ("taskset -c " .. cpu .. " ") or ""
end

return D
