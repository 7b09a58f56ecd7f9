-- The crawl benchmark: 5,000 distinct URLs at concurrency 100 against a Go
-- net/http server (bench/crawl/server.go) that answers each after 20 ms
-- with a 2 KB page, so the ideal wall time is 1.0 s. The server runs on
-- core 1, each client on core 0 (Go with GOMAXPROCS=1); every client checks
-- every response and reports the wall and CPU (user+sys) time of its crawl.
-- Medians of REPS runs, one fresh process per run. bench/crawl/curl_floor.c
-- is the floor for any client built on libcurl, moonlet's included.
--   lua5.4 bench/crawl.lua [REPS [N [CONC]]]   (after make bench built Go)
-- CLIENTS=moonlet,Go,floor runs only the clients whose names contain one
-- of the words; BASELINE_TREE=DIR adds moonlet built in another checkout
-- (a git worktree of an earlier commit), for an A/B in the same run.
package.path = "./bench/?.lua;" .. package.path
local D = require "driver"
local median, sh, pin = D.median, D.sh, D.pin
local REPS = tonumber(arg[1]) or 5
local N = tonumber(arg[2]) or 5000
local CONC = tonumber(arg[3]) or 100
local BUILD = os.getenv("MOONLET_BUILD") or "build"

local LUA_HTTP_PATH = "/usr/share/lua/5.4/?.lua;/usr/share/lua/5.4/?/init.lua;" ..
                      "/usr/share/lua/5.1/?.lua;/usr/share/lua/5.1/?/init.lua;;"
local MOONLET_ENV = ("LUA_PATH='./lua/?.lua;./lua/?/init.lua;;' LUA_CPATH='./%s/?.so;;'"):format(BUILD)
local clients = {
  { name = "moonlet.http (libcurl)", cmd = "env " .. MOONLET_ENV .. " lua5.4 bench/crawl/moonlet.lua" },
  { name = "moonlet.http (MOONLET_FORCE_NATIVE=1)",
    cmd = "env MOONLET_FORCE_NATIVE=1 " .. MOONLET_ENV .. " lua5.4 bench/crawl/moonlet.lua" },
  { name = "Go net/http (GOMAXPROCS=1)", cmd = "env GOMAXPROCS=1 ./" .. BUILD .. "/crawl-client-go", base = true },
  -- The floor of any libcurl client: curl's multi interface in C, nothing above.
  { name = "libcurl in C (floor)", cmd = "./" .. BUILD .. "/curl-floor" },
  { name = "Python aiohttp", cmd = "/usr/bin/python3 bench/crawl/aiohttp_client.py" },
  { name = "lua-http on cqueues", cmd = "env LUA_PATH='" .. LUA_HTTP_PATH .. "' lua5.4 bench/crawl/luahttp.lua" },
}

local tree = os.getenv("BASELINE_TREE")
if tree then
  table.insert(clients, 2, { name = "moonlet.http, " .. tree:match("[^/]+$"),
    cmd = ("env LUA_PATH='%s/lua/?.lua;%s/lua/?/init.lua;;' LUA_CPATH='%s/build/?.so;;' "
      .. "lua5.4 %s/bench/crawl/moonlet.lua"):format(tree, tree, tree, tree) })
end
local only = os.getenv("CLIENTS")
if only then
  for i = #clients, 1, -1 do
    local keep = clients[i].base
    for word in only:gmatch("[^,]+") do keep = keep or clients[i].name:find(word, 1, true) end
    if not keep then table.remove(clients, i) end
  end
end

local p = assert(io.popen("echo $$; exec " .. pin(1) .. "./" .. BUILD .. "/crawl-server"))
local pid = p:read("l")
local url = assert(p:read("l"), "server did not start"):match("(http://%S+)")

-- GNU time gives what a user sees: the whole process's CPU (start-up,
-- loading, shutdown included) and its peak RSS.
local TIME = "/usr/bin/time -f 'PROCESS %U %S %M' "
local results = {}
for _, c in ipairs(clients) do results[c.name] = { wall = {}, cpu = {}, proc = {}, rss = {} } end
for _ = 1, REPS do
  for _, c in ipairs(clients) do
    local out = sh(("%s%s%s %s %d %d 2>&1"):format(pin(0), TIME, c.cmd, url, N, CONC))
    local ok, bad, wall, cpu = out:match("ok (%d+) bad (%d+) wall ([%d.]+) cpu ([%d.]+)")
    assert(ok and tonumber(bad) == 0 and tonumber(ok) == N, c.name .. " failed:\n" .. out)
    local user, sys, rss = out:match("PROCESS ([%d.]+) ([%d.]+) (%d+)")
    assert(user, "no figures from GNU time (Debian: time):\n" .. out)
    table.insert(results[c.name].wall, tonumber(wall))
    table.insert(results[c.name].cpu, tonumber(cpu))
    table.insert(results[c.name].proc, tonumber(user) + tonumber(sys))
    table.insert(results[c.name].rss, tonumber(rss))
  end
end
os.execute("kill " .. pid)
p:close()

local base, base_proc
for _, c in ipairs(clients) do
  if c.base then
    base = median(results[c.name].cpu) / N * 1e6
    base_proc = median(results[c.name].proc) / N * 1e6
  end
end
print(("\nCrawl: %d URLs, concurrency %d, 20 ms / 2 KB server (ideal %.2f s); medians of %d")
  :format(N, CONC, N / CONC * 0.02, REPS))
print("CPU us/req: the crawl's own, measured inside; process: the whole process's (GNU time)")
print(("%-40s %7s %8s %10s %6s %12s %6s %9s"):format("client", "wall s", "x ideal", "CPU us/req", "x Go",
  "process us", "x Go", "peak MB"))
for _, c in ipairs(clients) do
  local r = results[c.name]
  local wall = median(r.wall)
  local us, proc = median(r.cpu) / N * 1e6, median(r.proc) / N * 1e6
  print(("%-40s %7.3f %8.2f %10.1f %6.2f %12.1f %6.2f %9.1f"):format(c.name, wall, wall / (N / CONC * 0.02),
    us, us / base, proc, proc / base_proc, median(r.rss) / 1024))
end
