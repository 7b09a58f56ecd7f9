-- A program that deadlocks, and the task dump that shows why: two workers
-- each wait for the other to send first. With nothing left that could
-- wake them, the main chunk's await raises "deadlock"; the dump says who
-- waits on what, and where.
local m = require "moonlet"
m.debug(true) -- record spawn sites

local to_a, to_b = m.channel(), m.channel()
local a = m.spawn(function()
  local v = to_a:recv() -- waits for b ...
  to_b:send(v)
end):set_name("a")
local b = m.spawn(function()
  local v = to_b:recv() -- ... which waits for a
  to_a:send(v)
end):set_name("b")

local ok, err = pcall(a.await, a)
print(ok, err)
m.dump(io.stdout)
a:cancel()
b:cancel()
