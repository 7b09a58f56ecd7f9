-- Task dumps: every field of m.tasks_info() for tasks in each state and
-- waiting on each kind of thing, in both switching modes (a task suspended
-- inside a table.sort comparator is native in both); m.dump's text and
-- m.dump_on with a real signal.
local m = require "moonlet"
local U = require "support.util"

teardown(U.assert_clean)

local LOCAL = "127.0.0.1"

-- The info table of the task named name.
local function info(name)
  for _, i in ipairs(m.tasks_info()) do
    if i.name == name then return i end
  end
  error("no task named " .. name)
end

describe("m.tasks_info", function()
  it("describes every unfinished task: status, since, switch, waiting, traceback", function()
    local was = m.debug()
    m.debug(false)
    local ch = m.channel(2)
    ch:send("x")
    local lock = m.lock()
    lock:acquire()
    local q = m.queue()
    local srv = assert(m.tcp.listen(LOCAL, 0)) -- nobody connects: its acceptor waits
    local hold = m.event()
    local talker = assert(m.tcp.listen(LOCAL, 0, function() hold:wait() end))
    local _, port = talker:address()
    local tasks = {
      m.spawn(function() m.sleep(5) end):set_name("sleeper"),
      m.spawn(function() ch:send("y"); ch:send("z") end):set_name("sender"),
      m.spawn(function() lock:acquire() end):set_name("locker"),
      m.spawn(function() q:get() end):set_name("getter"),
      m.spawn(function() srv:accept() end):set_name("acceptor"),
      m.spawn(function() table.sort({ 3, 2, 1 }, function(a, b) m.sleep(5); return a < b end) end)
        :set_name("sorter"),
      m.spawn(function() hold:wait() end):set_name("waiter"),
    }
    tasks[#tasks + 1] = m.spawn(function() return tasks[1]:await() end):set_name("awaiter")
    local c = assert(m.tcp.connect(LOCAL, port))
    tasks[#tasks + 1] = m.spawn(function() c:read("l") end):set_name("reader")
    finally(function()
      m.debug(was)
      for _, t in ipairs(tasks) do t:cancel() end
      for _, t in ipairs(tasks) do pcall(t.await, t) end
      hold:set()
      c:close()
      srv:close()
      talker:close()
    end)
    m.sleep(0.02)
    local fresh = m.spawn(function() end):set_name("fresh")

    local i = info("sleeper")
    assert.equal("suspended", i.status)
    assert.equal(tasks[1]:name(), i.name)
    assert.is_number(i.id)
    assert.is_true(i.since >= 0)
    assert.equal(U.native_forced and "native" or "fast", i.switch)
    assert.equal("sleep", i.waiting.kind)
    assert.is_true(i.waiting.timeout_in > 4 and i.waiting.timeout_in <= 5)
    assert.matches("diag_spec.lua:%d+", i.traceback)
    assert.is_nil(i.spawned) -- not in debug mode

    i = info("sender")
    assert.equal("channel send", i.waiting.kind)
    assert.same({ 2, 2 }, { i.waiting.capacity, i.waiting.buffered })
    assert.equal("lock acquire", info("locker").waiting.kind)
    assert.equal("queue get", info("getter").waiting.kind)
    assert.equal("event wait", info("waiter").waiting.kind)
    i = info("acceptor")
    assert.equal("accept", i.waiting.kind)
    assert.is_number(i.waiting.fd)
    i = info("reader")
    assert.equal("read", i.waiting.kind)
    assert.equal(LOCAL .. ":" .. port, i.waiting.peer)
    i = info("awaiter")
    assert.equal("await", i.waiting.kind)
    assert.equal(info("sleeper").id, i.waiting.task)
    i = info("sorter")
    assert.equal("native", i.switch) -- inside a C function: native in both modes
    assert.equal("sleep", i.waiting.kind)
    assert.matches("table.sort", i.traceback)
    i = info("fresh")
    assert.equal("new", i.status)
    assert.matches("not started", i.traceback)
    assert.is_nil(i.waiting)
    i = m.spawn(function() return info("self") end):set_name("self"):await()
    assert.equal("running", i.status)
    assert.matches("diag_spec.lua", i.traceback)
    fresh:await()
  end)

  it("in debug mode, where each task was spawned and by which task", function()
    local was = m.debug()
    m.debug(true)
    local line = debug.getinfo(1, "l").currentline + 1
    local parent = m.spawn(function() return m.spawn(function() m.sleep(1) end):set_name("child") end)
      :set_name("parent")
    local child = parent:await()
    m.debug(was)
    assert.equal(("spec/diag_spec.lua:%d in task 'parent'"):format(line), info("child").spawned)
    child:cancel()
    pcall(child.await, child)
  end)

  it("dump writes the same as text; dump_on dumps on a real signal", function()
    local t = m.spawn(function() m.sleep(1) end):set_name("dumped")
    m.yield()
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    local text = m.dump(f)
    f:close()
    assert.matches("task %d+ 'dumped': suspended for [%d.]+ s %(%a+ switch%)\n  waiting on: sleep %(", text)
    local ff = assert(io.open(path))
    assert.equal(text, ff:read("a"))
    ff:close()

    f = assert(io.open(path, "w"))
    local w = assert(m.dump_on("USR1", f))
    local stat = assert(io.open("/proc/self/stat"))
    local pid = stat:read("n")
    stat:close()
    assert(os.execute("kill -USR1 " .. pid))
    for _ = 1, 100 do
      if f:seek("end") > 0 then break end
      m.sleep(0.01)
    end
    w:close()
    f:close()
    ff = assert(io.open(path))
    assert.matches("'dumped': suspended", ff:read("a"))
    ff:close()
    os.remove(path)
    t:cancel()
    pcall(t.await, t)
    assert.has_error(function() m.dump(42) end, "bad argument #1 to 'dump' (file expected)")
  end)
end)
