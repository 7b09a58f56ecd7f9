-- TCP echo: CONNS connections each doing TRIPS round trips of a 16-byte
-- message against an echo server in the same process.
--   lua5.4 bench/echo.lua moonlet|luv|cqueues CONNS TRIPS
-- Prints RESULT echo <round trips per second>.
local B = dofile("bench/common.lua")

local impl, CONNS, TRIPS = arg[1], tonumber(arg[2]) or 100, tonumber(arg[3]) or 10000
local MSG = "0123456789abcde\n"
local total = CONNS * TRIPS

local run = {}

function run.moonlet()
  local m = require "moonlet"
  local srv = assert(m.tcp.listen("127.0.0.1", 0, function(s)
    while true do
      local chunk = s:read()
      if not chunk or not s:write(chunk) then return end
    end
  end))
  local _, port = srv:address()
  local t0 = B.clock()
  local clients = {}
  for i = 1, CONNS do
    clients[i] = m.spawn(function()
      local c = assert(m.tcp.connect("127.0.0.1", port))
      for _ = 1, TRIPS do
        c:write(MSG)
        assert(c:read(#MSG))
      end
      c:close()
    end)
  end
  m.gather(clients)
  local dt = B.clock() - t0
  srv:close()
  return dt
end

function run.luv()
  local uv = require "luv"
  local server = uv.new_tcp()
  assert(server:bind("127.0.0.1", 0))
  server:listen(1024, function()
    local c = uv.new_tcp()
    server:accept(c)
    c:read_start(function(err, chunk)
      if err or not chunk then c:close(); return end
      c:write(chunk)
    end)
  end)
  local port = server:getsockname().port
  local t0, done = B.clock(), 0
  for _ = 1, CONNS do
    local c, left, got = uv.new_tcp(), TRIPS, 0
    c:connect("127.0.0.1", port, function(err)
      assert(not err, err)
      c:read_start(function(rerr, chunk)
        assert(not rerr, rerr)
        got = got + #chunk
        while got >= #MSG do
          got = got - #MSG
          left = left - 1
          if left == 0 then
            c:close()
            done = done + 1
            if done == CONNS then server:close() end
            return
          end
          c:write(MSG)
        end
      end)
      c:write(MSG)
    end)
  end
  uv.run()
  return B.clock() - t0
end

function run.cqueues()
  local cqueues = require "cqueues"
  local socket = require "cqueues.socket"
  local cq = cqueues.new()
  local srv = socket.listen { host = "127.0.0.1", port = 0 }
  srv:listen()
  local _, _, port = srv:localname()
  local open = CONNS
  cq:wrap(function()
    for c in srv:clients() do
      cq:wrap(function()
        c:setmode("b", "bn")
        while true do
          local chunk = c:read("-65536")
          if not chunk then break end
          c:write(chunk)
          c:flush()
        end
        c:close()
      end)
    end
  end)
  local t0 = B.clock()
  for _ = 1, CONNS do
    cq:wrap(function()
      local c = socket.connect("127.0.0.1", port)
      c:setmode("b", "bn")
      for _ = 1, TRIPS do
        c:write(MSG)
        c:flush()
        assert(c:read(#MSG))
      end
      c:close()
      open = open - 1
      if open == 0 then srv:close() end
    end)
  end
  local t1 = nil
  while not cq:empty() do
    assert(cq:step())
    if open == 0 and not t1 then t1 = B.clock() break end
  end
  return (t1 or B.clock()) - t0
end

local dt = assert(run[impl], "unknown implementation " .. tostring(impl))()
B.result("echo", total / dt)
B.exit()
