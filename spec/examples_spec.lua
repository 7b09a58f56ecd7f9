-- Every example runs and shows what it is meant to show.
local U = require "support.util"
teardown(U.assert_clean) -- the leak check every spec file ends with

local function run(name, args)
  local f = assert(io.open("examples/" .. name .. ".lua"))
  local code = f:read("a")
  f:close()
  local status, out, err = U.run_script(code, nil, args)
  assert.equal(0, status, err)
  assert.equal("", err)
  return out
end

describe("examples", function()
  it("producer_consumer: the consumer iterates until the producer closes", function()
    local out = run("producer_consumer")
    for i = 1, 6 do assert.matches("consumer: got line " .. i .. "\n", out, 1, true) end
    assert.matches("producer: closed the channel\n.*consumer: done after 6 lines\n$", out)
    -- The producer ran ahead of the slow consumer, up to the buffer.
    assert.matches("producer: sent line 5 %(4 buffered%)", out)
  end)

  it("worker_pool: every job done once, by several workers", function()
    local out = run("worker_pool")
    assert.matches("sum of squares 1..10 = 385", out, 1, true)
    local total, busy = 0, 0
    for n in out:gmatch("worker %d did (%d+) jobs") do
      total = total + tonumber(n)
      if tonumber(n) > 0 then busy = busy + 1 end
    end
    assert.equal(10, total)
    assert.is_true(busy >= 2)
  end)

  it("fan_in: merges both sources completely, ignoring the stuck one", function()
    local out = run("fan_in")
    for i = 1, 5 do assert.matches("got fast #" .. i .. "\n", out, 1, true) end
    for i = 1, 3 do assert.matches("got slow #" .. i .. "\n", out, 1, true) end
    assert.matches("fast source finished", out, 1, true)
    assert.matches("slow source finished", out, 1, true)
    assert.matches("received 8 messages\n$", out)
  end)

  it("queue_join: a put hands its item to a waiting getter, who runs on the next turn", function()
    local out = run("queue_join")
    assert.equal(table.concat({
      "worker 1: waiting", "worker 2: waiting",
      "main: put a", "main: put b", "main: put c (no one waits: it is stored)",
      "main: join",
      "worker 1: got a", "worker 2: got b",
      "worker 1: waiting", "worker 1: got c",
      "worker 2: waiting", "worker 1: waiting",
      "main: every item is done", "",
    }, "\n"), out)
  end)
  it("echo_server: every client's echoes checked, every connection served", function()
    local out = run("echo_server", "20 10")
    assert.matches("20 clients, 200 round trips checked", out, 1, true)
    assert.matches("server: 20 connections served", out, 1, true)
  end)

  it("port_scanner: finds the listeners it opened; finds ours given a range", function()
    local out = run("port_scanner")
    -- its own listeners found (other processes may listen nearby too)
    local _, ours = out:gsub(" open %(ours%)\n", "")
    assert.is_true(ours >= 1 and ours <= 3, out)
    assert.matches("scanned 16 ports in [%d.]+ s: %d+ open", out)
    local m = require "moonlet"
    local srv = assert(m.tcp.listen("127.0.0.1", 0, function() end))
    local _, port = srv:address()
    -- the child scans while this process, blocked in popen, cannot accept:
    -- the kernel's backlog completes the handshake all the same
    out = run("port_scanner", ("127.0.0.1 %d-%d 10 1"):format(port, port + 1))
    srv:close()
    assert.matches("127.0.0.1:" .. port .. " open\n", out, 1, true)
    assert.matches("scanned 2 ports", out, 1, true)
  end)

  it("tail_and_grep: a process's lines through a channel, filtered", function()
    local out = run("tail_and_grep")
    assert.matches("3 of 10 lines matched \"ERROR\"; the command exited with 0", out, 1, true)
    out = run("tail_and_grep", "b printf 'a\\nb\\nab\\n'")
    assert.equal("b\nab\n2 of 3 lines matched \"b\"; the command exited with 0\n", out)
  end)

  it("hello_server: answers keep-alive HTTP requests on one connection", function()
    local m = require "moonlet"
    local p = assert(m.process.spawn { "lua5.4", "examples/hello_server.lua", "0",
      stdout = "pipe", env = (function()
        local env = m.process.environ()
        env.LUA_PATH = "./lua/?.lua;./lua/?/init.lua;;"
        env.LUA_CPATH = "./" .. U.build .. "/?.so;;"
        return env
      end)() })
    p.stdout:set_timeout(10) -- a broken server fails the spec, never hangs it
    local port = tonumber(p.stdout:read("l"):match(":(%d+)/$"))
    local c = assert(m.tcp.connect("127.0.0.1", port))
    c:set_timeout(10)
    for _ = 1, 3 do
      c:write("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
      assert.equal("HTTP/1.1 200 OK\r", c:read("l"))
      repeat local h = c:read("l") until h == "\r"
      assert.equal("Hello, World!", c:read(13))
    end
    c:write("GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert.matches("Hello, World!$", c:read("a"))
    c:close()
    p:kill()
    assert.equal("TERM", select(2, p:wait()))
    p:close()
  end)

  it("download: streams files to disk concurrently; failures do not stop the rest", function()
    local out = run("download")
    assert.matches("done  http://127.0.0.1:%d+/small.txt%s+600 bytes", out)
    assert.matches("done  http://127.0.0.1:%d+/large.bin%s+16777216 bytes", out)
    assert.matches("FAIL  http://127.0.0.1:%d+/missing.txt: HTTP 404 Not Found", out)
    assert.matches("FAIL  http://127.0.0.1:%d+/nobody.txt: .*%(COULDNT_CONNECT%)", out)
    assert.matches("3 of 5 downloaded, 16777831 bytes", out)
    -- the slow file finishes last although it was started third
    assert.matches("large.bin.*\n.*slow.txt", out)
  end)

  it("compare: runs the requests three ways and prints the table", function()
    local out = run("compare", "10 0.1")
    local seq = tonumber(out:match("sequential%s+([%d.]+)"))
    local procs = tonumber(out:match("10 worker processes%s+([%d.]+)"))
    local tasks = tonumber(out:match("10 moonlet tasks%s+([%d.]+)"))
    assert.is_true(seq >= 1.0, out)         -- 10 x 0.1 s, one after another
    assert.is_true(procs >= 0.1 and tasks >= 0.1, out) -- no way beats one delay
  end)
end)

describe("examples of diagnostics", function()
  local function run_err(name)
    local f = assert(io.open("examples/" .. name .. ".lua"))
    local code = f:read("a")
    f:close()
    local status, out, err = U.run_script(code)
    assert.equal(0, status, err)
    return out, err
  end

  it("diag_deadlock: the dump shows both tasks waiting on each other's channel", function()
    local out, err = run_err("diag_deadlock")
    assert.equal("", err)
    assert.matches("^false\tdeadlock: nothing left to run can end this wait\n", out)
    assert.matches("2 unfinished tasks", out)
    for _, name in ipairs({ "a", "b" }) do
      assert.matches("task %d+ '" .. name .. "': suspended for [%d.]+ s %(%a+ switch%)\n"
        .. "  waiting on: channel recv buffered=0 capacity=0\n"
        .. "  spawned at [^\n]*:%d+\n", out)
    end
  end)

  it("diag_hog: the watchdog names the computing task and the blocking call", function()
    local out, err = run_err("diag_hog")
    assert.matches("watchdog reports: 2", out)
    assert.matches("task 'checksum' has kept the loop from turning", err)
    assert.matches("task 'shell' has kept the loop from turning[^\n]*\nstack traceback:\n"
      .. "\t%[C%]: in function 'os.execute'\n\t[^\n]*:19:", err)
  end)

  it("diag_leak: tasks grouped by spawn site show where the leak is", function()
    local out, err = run_err("diag_leak")
    assert.equal("", err)
    assert.matches("50 tasks spawned at [^\n]*:10 waiting on channel recv\n", out)
    assert.matches("m.stats%(%).tasks = 50", out)
  end)
end)

