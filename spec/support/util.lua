-- Helpers shared by the specs.
local m = require "moonlet"
local core = require "moonlet.core"

local U = {}

U.native_forced = os.getenv("MOONLET_FORCE_NATIVE") == "1"
U.under_valgrind = os.getenv("MOONLET_UNDER_VALGRIND") == "1"
-- AddressSanitizer keeps freed memory in quarantine: RSS says nothing there
U.under_asan = os.getenv("MOONLET_UNDER_ASAN") == "1"
U.build = os.getenv("MOONLET_TEST_BUILD") or "build"

--- Runs fn(...) in a task while a ticker task counts turns. Returns the
-- number of ticks that happened before fn finished, then fn's results.
function U.with_ticker(fn, ...)
  local ticks, stop = 0, false
  local ticker = m.spawn(function()
    while not stop do ticks = ticks + 1; m.yield() end
  end)
  local t = m.spawn(fn, ...)
  local res = table.pack(pcall(t.await, t))
  local seen = ticks
  stop = true
  ticker:await()
  if not res[1] then error(res[2], 0) end
  return seen, table.unpack(res, 2, res.n)
end

--- Native switches performed while running fn(...).
function U.native_switches(fn, ...)
  local before = m.stats().native_switches
  fn(...)
  return m.stats().native_switches - before
end

--- Collects garbage (finalizers close what was dropped), then waits (up to
-- 5 s) until no task runs and libuv has no handle open and no request in
-- flight: closing is asynchronous (close callbacks, pool jobs a cancelled
-- caller left behind, which may still hold a descriptor).
function U.quiesce()
  collectgarbage()
  collectgarbage()
  for _ = 1, 500 do
    if m.stats().tasks == 0 and core._handles() == 0 and m.stats().requests == 0 then
      return
    end
    m.sleep(0.01)
  end
end

--- The leak check every spec file ends with: nothing left running, no
-- handle left open once the loop has run dry and garbage is collected.
function U.assert_clean()
  U.quiesce()
  local names = {}
  for _, t in ipairs(m.tasks()) do names[#names + 1] = t:name() .. " " .. t:status() end
  assert(#names == 0, "tasks left alive: " .. table.concat(names, ", "))
  assert(core._handles() == 0, core._handles() .. " libuv handles left open")
  assert(m.stats().requests == 0, m.stats().requests .. " requests left in flight")
end

--- Open file descriptors of this process (the pipe ls reads through is
-- one of them, every time).
function U.fd_count()
  local n = 0
  local stat = io.open("/proc/self/stat")
  local pid = stat:read("n")
  stat:close()
  local ls = io.popen("ls /proc/" .. pid .. "/fd")
  for _ in ls:lines() do n = n + 1 end
  ls:close()
  return n
end

--- The count of open descriptors once it is back to expected or below, or
-- after 5 s: a descriptor closes on the thread pool or on a later loop turn.
-- Below is no leak: something outside libuv that was open when the count
-- was taken may have closed since (libcurl's threaded resolver, for one,
-- lets a lookup thread with its socket pair outlive its transfer).
function U.settled_fd_count(expected)
  local n = U.fd_count()
  for _ = 1, 500 do
    if n <= expected then break end
    m.sleep(0.01)
    n = U.fd_count()
  end
  return n
end

--- For a describe block's setup and teardown: the first counts open
-- descriptors (after warmup, which opens what libuv keeps for good on first
-- use), the second checks that the count is back and nothing is left
-- running.
function U.descriptor_check(warmup)
  local before
  return function()
    if warmup then warmup() end
    U.quiesce() -- what the specs before opened may still be closing
    before = U.fd_count()
  end, function()
    U.assert_clean()
    local now = U.settled_fd_count(before)
    assert(now <= before, ("%d file descriptors open, %d before"):format(now, before))
  end
end

--- Resets this process's peak RSS, for peak_rss_kb to measure from now.
function U.reset_peak_rss()
  collectgarbage()
  local f = assert(io.open("/proc/self/clear_refs", "w"))
  f:write("5")
  f:close()
end

--- The peak RSS (VmHWM) in KiB.
function U.peak_rss_kb()
  local f = io.open("/proc/self/status")
  local kb = f:read("a"):match("VmHWM:%s*(%d+)")
  f:close()
  return tonumber(kb)
end

--- A TCP port on 127.0.0.1 that nothing listens on (just now).
function U.free_port()
  local l = assert(m.tcp.listen("127.0.0.1", 0))
  local _, port = l:address()
  l:close()
  return port
end

--- Runs a Lua script in a child lua5.4 with the build on its paths.
-- Returns exit status, stdout and stderr.
function U.run_script(code, env, args)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(code)
  f:close()
  local errpath = path .. ".err"
  local cmd = string.format(
    "%s LUA_PATH='./lua/?.lua;./lua/?/init.lua;./spec/?.lua;;' LUA_CPATH='./%s/?.so;;' lua5.4 %s %s 2>%s",
    env or "", U.build, path, args or "", errpath)
  local p = assert(io.popen(cmd, "r"))
  local out = p:read("a")
  local _, _, code_ = p:close()
  local ef = io.open(errpath, "r")
  local err = ef and ef:read("a") or ""
  if ef then ef:close() end
  os.remove(path)
  os.remove(errpath)
  return code_, out, err
end

return U
