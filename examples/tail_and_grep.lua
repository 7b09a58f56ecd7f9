-- A process's output piped through a channel: one task reads the child's
-- lines and sends them on; another filters them, like `cmd | grep PATTERN`.
-- Usage: lua5.4 examples/tail_and_grep.lua PATTERN [command...]
-- Default: a small shell loop that writes log lines for a while.
local m = require "moonlet"

local pattern = arg[1] or "ERROR"
local cmd = { table.unpack(arg, 2) }
if #cmd == 0 then
  cmd = { "sh", "-c", [[
    for i in 1 2 3 4 5 6 7 8 9 10; do
      if [ $((i % 3)) -eq 0 ]; then echo "line $i ERROR disk is slow"; else echo "line $i INFO ok"; fi
      sleep 0.01
    done]] }
end

m.run(function()
  cmd.stdout = "pipe"
  local p = assert(m.process.spawn(cmd))
  local lines = m.channel(16)
  m.spawn(function() -- the "tail": child's lines onto the channel
    for line in p.stdout:lines() do lines:send(line) end
    lines:close()
  end)
  local matched, seen = 0, 0
  for line in lines:iter() do -- the "grep"
    seen = seen + 1
    if line:find(pattern) then
      matched = matched + 1
      print(line)
    end
  end
  local code = p:wait()
  p:close()
  print(("%d of %d lines matched %q; the command exited with %d"):format(matched, seen, pattern, code))
end)
