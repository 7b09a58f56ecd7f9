-- An echo server and a fan-out of clients in one program: every client
-- connects, sends its lines, checks each echo, and the server counts what
-- it served. Usage: lua5.4 examples/echo_server.lua [clients] [lines]
local m = require "moonlet"

local clients = tonumber(arg[1]) or 50
local lines = tonumber(arg[2]) or 20

m.run(function()
  local served, bytes = 0, 0
  local srv = assert(m.tcp.listen("127.0.0.1", 0, function(s)
    for line in s:lines("L") do
      bytes = bytes + #line
      assert(s:write(line))
    end
    served = served + 1
  end))
  local host, port = srv:address()
  print(("echo server on %s:%d"):format(host, port))

  local t0 = m.now()
  local results = m.gather((function()
    local fns = {}
    for c = 1, clients do
      fns[c] = function()
        local s = assert(m.tcp.connect(host, port))
        for i = 1, lines do
          s:write(("client %d line %d\n"):format(c, i))
          local echo = s:read("l")
          assert(echo == ("client %d line %d"):format(c, i), "wrong echo: " .. tostring(echo))
        end
        s:close()
        return lines
      end
    end
    return fns
  end)())
  local total = 0
  for _, n in ipairs(results) do total = total + n end
  m.sleep(0.01) -- let the last handlers see their clients go
  print(("%d clients, %d round trips checked in %.3f s"):format(clients, total, m.now() - t0))
  print(("server: %d connections served, %d bytes echoed"):format(served, bytes))
  srv:close()
end)
