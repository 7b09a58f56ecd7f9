-- A line-command server in its own process, for comparing LuaSocket and
-- moonlet.socket clients (a blocking client would stall an in-process
-- server). Prints its port, then serves until it is killed.
--   echo X     -> X\n          partial    -> "abc" (no newline)
--   bulk N     -> N bytes, then closes the connection
local m = require "moonlet"
local srv = assert(m.tcp.listen("127.0.0.1", 0, function(s)
  for line in s:lines() do
    local cmd, arg = line:match("^(%S+)%s*(.*)$")
    if cmd == "echo" then
      s:write(arg, "\n")
    elseif cmd == "partial" then
      s:write("abc")
    elseif cmd == "bulk" then
      s:write(("b"):rep(tonumber(arg)))
      return
    end
  end
end))
local _, port = srv:address()
io.stdout:write(port, "\n")
io.stdout:flush()
m.sleep(3600)
