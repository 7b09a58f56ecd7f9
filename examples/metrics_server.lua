-- Metrics in Prometheus' text format from m.stats(), served by
-- m.http.listen at /metrics, for an operator's dashboards.
-- Usage: lua5.4 examples/metrics_server.lua [port]   serves until stopped
--        lua5.4 examples/metrics_server.lua --self-test  runs some work,
--        scrapes its own /metrics once and prints it
local m = require "moonlet"

-- name, help, type, and how to read it from a stats table
local METRICS = {
  { "moonlet_tasks", "Unfinished tasks.", "gauge", function(s) return s.tasks end },
  { "moonlet_tasks_spawned_total", "Tasks spawned.", "counter", function(s) return s.spawned end },
  { "moonlet_tasks_failed_total", "Tasks that ended with an error.", "counter", function(s) return s.failed end },
  { "moonlet_switches_total{path=\"fast\"}", "Task suspensions by path.", "counter",
    function(s) return s.fast_switches end },
  { "moonlet_switches_total{path=\"native\"}", nil, nil, function(s) return s.native_switches end },
  { "moonlet_run_queue", "Runnables ready to run.", "gauge", function(s) return s.ready end },
  { "moonlet_loop_iterations_total", "Loop turns.", "counter", function(s) return s.iterations end },
  { "moonlet_loop_lag_seconds{quantile=\"0.5\"}", "How late timers fire.", "summary",
    function(s) return s.lag_p50 end },
  { "moonlet_loop_lag_seconds{quantile=\"0.99\"}", nil, nil, function(s) return s.lag_p99 end },
  { "moonlet_loop_lag_max_seconds", "Latest timers' worst lateness.", "gauge", function(s) return s.lag_max end },
  { "moonlet_pool_jobs{state=\"queued\"}", "Thread-pool jobs.", "gauge", function(s) return s.jobs_queued end },
  { "moonlet_pool_jobs{state=\"running\"}", nil, nil, function(s) return s.jobs_running end },
  { "moonlet_requests", "Operations in flight in libuv or the pool.", "gauge", function(s) return s.requests end },
  { "moonlet_io_bytes_total{direction=\"in\"}", "Bytes through streams and sockets.", "counter",
    function(s) return s.bytes_in end },
  { "moonlet_io_bytes_total{direction=\"out\"}", nil, nil, function(s) return s.bytes_out end },
}

local function exposition()
  local s, out = m.stats(), {}
  for _, metric in ipairs(METRICS) do
    local name, help, kind, read = metric[1], metric[2], metric[3], metric[4]
    local base = name:match("^[%w_]+")
    if help then
      out[#out + 1] = ("# HELP %s %s"):format(base, help)
      out[#out + 1] = ("# TYPE %s %s"):format(base, kind)
    end
    out[#out + 1] = ("%s %s"):format(name, tostring(read(s)))
  end
  out[#out + 1] = "# HELP moonlet_open Open I/O objects by kind."
  out[#out + 1] = "# TYPE moonlet_open gauge"
  local kinds = {}
  for kind in pairs(s.open) do kinds[#kinds + 1] = kind end
  table.sort(kinds)
  for _, kind in ipairs(kinds) do
    out[#out + 1] = ('moonlet_open{kind="%s"} %d'):format(kind, s.open[kind])
  end
  return table.concat(out, "\n") .. "\n"
end

local function serve(port)
  return assert(m.http.listen("127.0.0.1", port, function(req, res)
    if req.path ~= "/metrics" then return res:set(404):finish("not found\n") end
    res:set(200, { ["Content-Type"] = "text/plain; version=0.0.4" }):finish(exposition())
  end))
end

if arg[1] == "--self-test" then
  m.run(function()
    local srv = serve(0)
    local _, port = srv:address()
    -- Some work to count: tasks, one of them failing, sleeps, a pool job.
    local tasks = {}
    for i = 1, 10 do tasks[i] = m.spawn(function() m.sleep(0.001 * i) end) end
    local bad = m.spawn(function() error("expected failure", 0) end)
    pcall(bad.await, bad)
    m.gather(tasks)
    m.fs.write_file(os.tmpname(), "x")
    local r = assert(m.http.get(("http://127.0.0.1:%d/metrics"):format(port)))
    io.write(r.body)
    srv:close()
    m.http.close()
  end)
else
  local srv = serve(tonumber(arg[1]) or 9100)
  print(("metrics at http://127.0.0.1:%d/metrics"):format(select(2, srv:address())))
  srv:serve_forever()
end
