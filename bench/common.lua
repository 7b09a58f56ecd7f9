-- Shared by the benchmark scripts: paths, clock, RSS, result line.
package.path = "./lua/?.lua;./lua/?/init.lua;" .. package.path
package.cpath = "./" .. (os.getenv("MOONLET_BUILD") or "build") .. "/?.so;" .. package.cpath

local B = {}

local ok, luv = pcall(require, "luv")
B.clock = ok and function() return luv.hrtime() / 1e9 end or os.clock

function B.rss_kb()
  local f = assert(io.open("/proc/self/status"))
  local s = f:read("a")
  f:close()
  return tonumber(s:match("VmRSS:%s*(%d+) kB"))
end

--- Prints the line bench/run.sh reads: RESULT <name> <value>.
function B.result(name, value)
  io.write(("RESULT %s %.6g\n"):format(name, value))
  io.flush()
end

--- Leaves at once: the benchmarks do not wait for sleepers to wake.
function B.exit() os.exit(0, false) end

return B
