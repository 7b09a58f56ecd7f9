-- The I/O benchmarks, each implementation in a fresh process, medians of
-- REPS runs, ratios against baselines measured in the same run:
--  * plaintext HTTP: wrk -t1 -c100 against moonlet's HTTP server
--    (bench/servers/hello_http.lua), examples/hello_server.lua on raw
--    streams, luv and cqueues servers written the same way, nginx, Go's
--    net/http and node's http (bench/servers/). wrk
--    saturates before the servers on 2 cores, so the figure that compares
--    the servers is their CPU time per request (from /proc/PID/stat);
--    requests/s is reported too. Server and wrk are pinned to different
--    cores when taskset is available.
--  * TCP echo: 100 connections x TRIPS round trips in one process.
-- The implementations take turns: each repetition runs every one once.
--   lua5.4 bench/io.lua [REPS [SECONDS [TRIPS]]]
-- ECHO=0 leaves out the TCP echo; BASELINE_TREE=DIR adds moonlet's HTTP
-- server from another checkout (a git worktree of an earlier commit, built
-- there), for an A/B in the same run.
package.path = "./bench/?.lua;" .. package.path
local D = require "driver"
local median, sh, pin = D.median, D.sh, D.pin
local REPS = tonumber(arg[1]) or 5
local SECONDS = tonumber(arg[2]) or 5
local TRIPS = tonumber(arg[3]) or 10000
local ENV = "LUA_PATH='./lua/?.lua;./lua/?/init.lua;;' LUA_CPATH='./" ..
            (os.getenv("MOONLET_BUILD") or "build") .. "/?.so;;'"
local CLK_TCK = 100

local function cpu_ticks(pid)
  local f = io.open("/proc/" .. pid .. "/stat")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  local fields = {}
  for x in s:match("%) (.*)"):gmatch("%S+") do fields[#fields + 1] = x end
  return tonumber(fields[12]) + tonumber(fields[13]) -- utime + stime
end

-- The realistic request's answer, as every server must give it.
local REALISTIC = '{"id":"42","items":"' .. ("x"):rep(1000) .. '"}'
local REALISTIC_CURL = "-H 'X-Request-Id: req-7f3a9c' -D - '%sapi/items?id=42&sort=name&page=3'"

-- One wrk run against a fresh server (a command that prints its URL):
-- requests/s, server CPU us/request. realistic: bench/servers/realistic.lua's
-- request instead of a bare GET /.
local function plaintext_once(server, realistic, env)
  -- the shell prints its pid, then becomes the server
  local p = assert(io.popen(("echo $$; exec env %s %s%s")
    :format(env or ENV, pin(1), server)))
  local pid = p:read("l")
  local url = assert(p:read("l"), "server did not start"):match("(http://%S+)")
  if realistic then -- warm, and check the answer
    local out = sh(("curl -s " .. REALISTIC_CURL):format(url))
    assert(out:sub(-#REALISTIC) == REALISTIC and out:lower():find("\nx%-request%-id: req%-7f3a9c\r")
      and out:lower():find("\ncache%-control: no%-store\r"), "wrong answer from " .. server .. ":\n" .. out)
  else
    local body = sh(("curl -s %s"):format(url))
    assert(body == "Hello, World!", "wrong answer from " .. server .. ": " .. body)
  end
  local before = cpu_ticks(pid)
  local out = sh(("%swrk -t1 -c100 -d%ds %s%s"):format(pin(0), SECONDS,
    realistic and "-s bench/servers/realistic.lua " or "", url))
  local after = cpu_ticks(pid)
  os.execute("kill " .. pid)
  p:close()
  local total = tonumber(out:match("(%d+) requests in"))
  assert(total and total > 0, "wrk failed:\n" .. out)
  assert(not out:find("Non%-2xx"), "bad responses:\n" .. out)
  local rps = tonumber(out:match("Requests/sec:%s*([%d.]+)"))
  return rps, (after - before) / CLK_TCK * 1e6 / total
end

local function report(title, unit, rows, higher)
  print(("\n### %s\n"):format(title))
  print(("| implementation | %s | moonlet vs this |"):format(unit))
  print("|---|---:|---:|")
  local base = rows[1][2]
  for i, r in ipairs(rows) do
    local ratio = higher and base / r[2] or r[2] / base
    print(("| %s | %s | %s |"):format(r[1], r[2] >= 100 and ("%.0f"):format(r[2]) or ("%.1f"):format(r[2]),
      i == 1 and "-" or ("%.2fx %s"):format(ratio, ratio >= 1 and "better" or "worse")))
  end
  io.stdout:flush()
end

print(("moonlet I/O benchmarks: median of %d runs each, %s\n"):format(REPS, os.date("!%Y-%m-%d %H:%M UTC")))

local servers = {
  { "moonlet m.http.listen (one header, res:finish)", "lua5.4 bench/servers/hello_http.lua 0", http = true },
  { "moonlet raw m.tcp streams (fast path)", "lua5.4 examples/hello_server.lua 0" },
  { "moonlet raw m.tcp streams (MOONLET_FORCE_NATIVE=1)", "lua5.4 examples/hello_server.lua 0", native = true },
  { "nginx (return 200, one process)", "sh bench/servers/hello_nginx.sh", http = true },
  { "Go net/http (GOMAXPROCS=1)", "./build/hello-go 0", http = true },
  { "node http", "node bench/servers/hello_node.js 0", http = true },
  { "luv (raw callbacks)", "lua5.4 bench/servers/hello_luv.lua 0" },
  { "cqueues", "lua5.4 bench/servers/hello_cqueues.lua 0" },
}
local tree = os.getenv("BASELINE_TREE")
if tree then
  table.insert(servers, 2, { "moonlet m.http.listen, " .. tree:match("[^/]+$"),
    "lua5.4 " .. tree .. "/bench/servers/hello_http.lua 0", http = true,
    env = ("LUA_PATH='%s/lua/?.lua;%s/lua/?/init.lua;;' LUA_CPATH='%s/build/?.so;;'"):format(tree, tree, tree) })
end
for _, s in ipairs(servers) do
  s.env = s.env or (s.native and "MOONLET_FORCE_NATIVE=1 " .. ENV or ENV)
  s.rps, s.cpu, s.real = {}, {}, {}
end
for _ = 1, REPS do
  for _, s in ipairs(servers) do
    local r, c = plaintext_once(s[2], false, s.env)
    s.rps[#s.rps + 1], s.cpu[#s.cpu + 1] = r, c
  end
end
local rps_rows, cpu_rows = {}, {}
for _, s in ipairs(servers) do
  rps_rows[#rps_rows + 1] = { s[1], median(s.rps) }
  cpu_rows[#cpu_rows + 1] = { s[1], median(s.cpu) }
end
report(("plaintext HTTP, wrk -t1 -c100 -d%ds: server CPU per request"):format(SECONDS),
  "server CPU µs/request", cpu_rows, false)
report("plaintext HTTP: throughput (bounded by wrk on 2 cores)", "requests/s", rps_rows, true)

-- The realistic workload, on the servers that answer it (HTTP servers).
for _ = 1, REPS do
  for _, s in ipairs(servers) do
    if s.http then
      local _, c = plaintext_once(s[2], true, s.env)
      s.real[#s.real + 1] = c
    end
  end
end
local real_rows = {}
for _, s in ipairs(servers) do
  if s.http then real_rows[#real_rows + 1] = { s[1], median(s.real) } end
end
report(("realistic request (a query, 10 header fields; 1 KB JSON, 3 fields), wrk -t1 -c100 -d%ds: server CPU")
  :format(SECONDS), "server CPU µs/request", real_rows, false)

if os.getenv("ECHO") == "0" then return end
local echo_rows = {}
for _, impl in ipairs({ { "moonlet (fast path)", "moonlet" },
                        { "moonlet (MOONLET_FORCE_NATIVE=1)", "moonlet", native = true },
                        { "luv (raw callbacks)", "luv" }, { "cqueues", "cqueues" } }) do
  local xs = {}
  for _ = 1, REPS do
    local out = sh(("%s %s lua5.4 bench/echo.lua %s 100 %d 2>&1")
      :format(impl.native and "MOONLET_FORCE_NATIVE=1" or "", ENV, impl[2], TRIPS))
    xs[#xs + 1] = tonumber((assert(out:match("RESULT echo (%S+)"), out)))
  end
  echo_rows[#echo_rows + 1] = { impl[1], median(xs) }
end
report(("TCP echo, 100 connections x %d round trips, one process"):format(TRIPS),
  "round trips/s", echo_rows, true)
