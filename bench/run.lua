-- Runs every benchmark REPS times per implementation (each run a fresh
-- process), and prints the medians with ratios against baselines measured
-- in the same run.   lua5.4 bench/run.lua [REPS [NAME...]]   (make bench)
-- NAMEs (spawn, switch, throughput, idle) pick some benchmarks only.
package.path = "./bench/?.lua;" .. package.path
local D = require "driver"
local median = D.median
local REPS = tonumber(arg[1] or os.getenv("REPS")) or 5
local GO = "./build/bench-go"

-- Outputs of each command's runs: benchmarks that print several results
-- (spawn: first round and warm rounds) run once for all of them.
local outputs = {}

-- Runs each of cmds not run yet REPS times, taking turns (one run of each,
-- then again), so that a noisy minute of the shared machine falls on every
-- implementation alike instead of on whichever ran then.
local function run_all(cmds)
  local todo = {}
  for _, cmd in ipairs(cmds) do
    if not outputs[cmd] then
      outputs[cmd] = {}
      todo[#todo + 1] = cmd
    end
  end
  for i = 1, REPS do
    for _, cmd in ipairs(todo) do
      local p = assert(io.popen(cmd .. " 2>&1"))
      outputs[cmd][i] = p:read("a")
      p:close()
    end
  end
end

local function measure(cmd, result)
  local xs = {}
  for _, out in ipairs(outputs[cmd]) do
    local v = out:match("RESULT " .. result .. " (%S+)")
    if not v then error("no " .. result .. " from: " .. cmd .. "\n" .. out) end
    xs[#xs + 1] = tonumber(v)
  end
  return median(xs)
end

local impls = {
  { "moonlet (fast path)", "lua5.4 bench/%s.lua moonlet %d" },
  { "moonlet (MOONLET_FORCE_NATIVE=1)", "MOONLET_FORCE_NATIVE=1 lua5.4 bench/%s.lua moonlet %d" },
  { "moonlet channels (fast path)", "lua5.4 bench/%s.lua moonlet-channel %d", only = "switch" },
  { "moonlet channels (MOONLET_FORCE_NATIVE=1)",
    "MOONLET_FORCE_NATIVE=1 lua5.4 bench/%s.lua moonlet-channel %d", only = "switch" },
  { "raw Lua coroutines", "lua5.4 bench/%s.lua raw %d", lua_baseline = true },
  { "raw Lua + a handle table per task (floor)", "lua5.4 bench/%s.lua raw-handles %d",
    lua_baseline = true, only = "spawn" },
  { "raw Lua, two coroutines resumed in turn (floor)", "lua5.4 bench/%s.lua raw-sched %d",
    lua_baseline = true, only = "switch" },
  { "luv", "lua5.4 bench/%s.lua luv %d", lua_baseline = true },
  { "cqueues", "lua5.4 bench/%s.lua cqueues %d", lua_baseline = true },
  { "Go (GOMAXPROCS=1)", "GOMAXPROCS=1 " .. GO .. " %s %d" },
}

local benches = {
  { name = "spawn", n = 200000, unit = "tasks/s", higher = true, result = "tasks_per_s",
    what = "200,000 tasks spawned back to back, each yields once; first round of a fresh process" },
  { name = "spawn", n = 200000, unit = "tasks/s", higher = true, result = "tasks_per_s_warm",
    what = "the same, warm: median of rounds 2-5 in the same process" },
  { name = "switch", n = 1000000, unit = "ns/handoff", higher = false,
    what = "1,000,000 one-way handoffs between two tasks (moonlet: through futures, and through unbuffered channels)" },
  { name = "throughput", n = 10000000, unit = "values/s", higher = true, channels_only = true,
    what = "4 producers and 4 consumers, 10,000,000 values through one buffered channel (capacity 1024)" },
  { name = "idle", n = 100000, unit = "bytes/task", higher = false,
    what = "100,000 tasks sleeping 2-10 s: RSS growth per task" },
  { name = "idle", n = 1000000, unit = "bytes/task", higher = false,
    what = "1,000,000 tasks sleeping 2-10 s: RSS growth per task" },
}

print(("moonlet benchmarks: median of %d runs each, %s"):format(REPS, os.date("!%Y-%m-%d %H:%M UTC")))
local only = {}
for i = 2, #arg do only[arg[i]] = true end

for _, b in ipairs(benches) do
  if next(only) and not only[b.name] then goto skip end
  print(("\n### %s: %s\n"):format(b.name, b.what))
  print(("| implementation | %s | moonlet (fast path) vs this |"):format(b.unit))
  print("|---|---:|---:|")
  local base, rows = nil, {}
  for _, impl in ipairs(impls) do
    if not (impl.only and impl.only ~= b.name)
        and not (b.channels_only and impl.lua_baseline) then
      rows[#rows + 1] = { impl = impl, cmd = impl[2]:format(b.name, b.n) }
    end
  end
  local cmds = {}
  for i, row in ipairs(rows) do cmds[i] = row.cmd end
  run_all(cmds)
  for _, row in ipairs(rows) do
    local impl = row.impl
    local v = measure(row.cmd, b.result or "%S+")
    base = base or v
    local ratio = b.higher and base / v or v / base
    -- ratio > 1: moonlet's fast path does better than this implementation.
    print(("| %s | %s | %s |"):format(impl[1],
      v >= 1000 and ("%.0f"):format(v) or ("%.1f"):format(v),
      impl == impls[1] and "-" or ("%.2fx %s"):format(ratio, ratio >= 1 and "better" or "worse")))
    io.stdout:flush()
  end
  ::skip::
end
