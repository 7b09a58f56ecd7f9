-- m.stats() under a known workload: task counts, failures, loop turns and
-- lag, bytes through sockets, pool jobs, open objects by kind; and the
-- Prometheus example that serves them.
local m = require "moonlet"
local U = require "support.util"
require "moonlet_testmod" -- test.sleep

teardown(U.assert_clean)

local LOCAL = "127.0.0.1"

describe("m.stats", function()
  it("counts tasks spawned, finished and failed", function()
    local before = m.stats()
    local tasks = {}
    for i = 1, 5 do tasks[i] = m.spawn(function() if i <= 2 then error("no", 0) end end) end
    for _, t in ipairs(tasks) do pcall(t.await, t) end
    local after = m.stats()
    assert.equal(5, after.spawned - before.spawned)
    assert.equal(5, after.finished - before.finished)
    assert.equal(2, after.failed - before.failed)
    assert.is_true(after.iterations > before.iterations)
  end)

  it("measures loop lag: how late timers fire after the loop was held", function()
    for _ = 1, 5 do m.sleep(0.001) end
    local s = m.stats()
    assert.is_true(s.lag_p50 >= 0 and s.lag_p50 <= s.lag_p99 and s.lag_p99 <= s.lag_max)
    -- A timer due in 10 ms while something computes for 60 ms fires late.
    local t = m.spawn(function() m.sleep(0.01) end)
    m.yield()
    local stop = os.clock() + 0.06
    while os.clock() < stop do end
    t:await()
    assert.is_true(m.stats().lag_max >= 0.04)
  end)

  it("counts bytes through streams and datagram sockets", function()
    local before = m.stats()
    local srv = assert(m.tcp.listen(LOCAL, 0, function(s) local d = assert(s:read(1000)); s:write(d) end))
    local _, port = srv:address()
    local c = assert(m.tcp.connect(LOCAL, port))
    c:write(("x"):rep(1000))
    assert.equal(1000, #c:read(1000))
    c:close()
    srv:close()
    local u = assert(m.udp.bind(LOCAL, 0))
    local _, uport = u:local_address()
    assert(u:send_to(("y"):rep(100), LOCAL, uport))
    assert.equal(100, #u:recv_from())
    u:close()
    local after = m.stats()
    assert.is_true(after.bytes_out - before.bytes_out >= 2100)
    assert.is_true(after.bytes_in - before.bytes_in >= 2100)
  end)

  it("counts pool jobs queued or running, and open objects by kind", function()
    local t = m.spawn(function() m.work("test.sleep", 0.1) end)
    m.sleep(0.02)
    local s = m.stats()
    assert.equal(1, s.jobs_queued + s.jobs_running)
    t:await()
    s = m.stats()
    assert.same({ 0, 0 }, { s.jobs_queued, s.jobs_running })
    local srv = assert(m.tcp.listen(LOCAL, 0))
    local u = assert(m.udp.bind(LOCAL, 0))
    s = m.stats()
    assert.equal(1, s.open.servers)
    assert.equal(1, s.open.udp)
    assert.equal(0, s.open.streams)
    srv:close()
    u:close()
    assert.equal(0, m.stats().open.servers)
  end)

  it("examples/metrics_server.lua serves them in Prometheus' text format", function()
    local f = assert(io.open("examples/metrics_server.lua"))
    local code = f:read("a")
    f:close()
    local status, out, err = U.run_script(code, nil, "--self-test")
    assert.equal(0, status, err)
    assert.matches("# TYPE moonlet_tasks_spawned_total counter\nmoonlet_tasks_spawned_total %d+\n", out)
    assert.matches("\nmoonlet_tasks_failed_total 1\n", out)
    assert.matches('\nmoonlet_loop_lag_seconds{quantile="0.99"} [%d.e-]+\n', out)
    assert.matches('\nmoonlet_open{kind="servers"} 1\n', out)
  end)
end)
