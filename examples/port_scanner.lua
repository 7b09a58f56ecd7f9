-- A TCP port scanner with bounded concurrency (a semaphore) and a connect
-- timeout per port. Usage:
--   lua5.4 examples/port_scanner.lua [host] [first-last] [concurrency] [timeout]
-- With no arguments it opens three listeners of its own on 127.0.0.1 and
-- scans the range around them, so it shows something on any machine.
local m = require "moonlet"

m.run(function()
  local host = arg[1] or "127.0.0.1"
  local first, last = (arg[2] or ""):match("^(%d+)%-(%d+)$")
  local concurrency = tonumber(arg[3]) or 100
  local timeout = tonumber(arg[4]) or 0.5
  local own = {}
  if not first then -- demo: a few listeners of our own, next to each other
    own[1] = assert(m.tcp.listen("127.0.0.1", 0, function() end))
    local _, base = own[1]:address()
    for p = base + 2, base + 4, 2 do
      own[#own + 1] = m.tcp.listen("127.0.0.1", p, function() end) -- nil if taken
    end
    first, last = math.max(1, base - 5), math.min(65535, base + 10)
  end
  first, last = tonumber(first), tonumber(last)

  local sem = m.semaphore(concurrency)
  local open, refused, timed_out = {}, 0, 0
  local t0 = m.now()
  local tasks = {}
  for port = first, last do
    tasks[#tasks + 1] = m.spawn(function()
      local _ <close> = sem:acquire()
      local s, _, code = m.tcp.connect(host, port, { timeout = timeout })
      if s then
        open[#open + 1] = port
        s:close()
      elseif code == "ETIMEDOUT" then
        timed_out = timed_out + 1
      else
        refused = refused + 1
      end
    end)
  end
  m.gather(tasks)
  table.sort(open)
  local ours = {}
  for _, s in ipairs(own) do ours[select(2, s:address())] = true end
  for _, p in ipairs(open) do print(("%s:%d open%s"):format(host, p, ours[p] and " (ours)" or "")) end
  print(("scanned %d ports in %.2f s: %d open, %d closed, %d filtered (timeout)")
    :format(last - first + 1, m.now() - t0, #open, refused, timed_out))
  for _, s in ipairs(own) do s:close() end
end)
