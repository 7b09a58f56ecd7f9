-- The same N requests to a slow endpoint (each answer takes DELAY seconds)
-- three ways: one after another, one worker process per request, and one
-- moonlet task per request. Prints the timing table.
--   lua5.4 examples/compare.lua [N [DELAY]]
local m = require "moonlet"
local http = m.http

local N = tonumber(arg[1]) or 20
local DELAY = tonumber(arg[2]) or 0.2
local lua = arg[-1] or "lua5.4"

-- What a worker process runs: one request, its status on stdout.
local WORKER = [[
local m = require "moonlet"
local r, err = m.http.get(URL)
io.write(r and r.status or err)
]]

local function check(status, what)
  if tostring(status) ~= "200" then error(what .. " got " .. tostring(status), 0) end
end

local function sequential(url)
  local c = http.client()
  for i = 1, N do check(assert(c:get(url .. "?i=" .. i)).status, "sequential") end
  c:close()
end

local function processes(url)
  local env = m.process.environ()
  env.LUA_PATH = package.path
  env.LUA_CPATH = package.cpath
  local tasks = {}
  for i = 1, N do
    tasks[i] = m.spawn(function()
      local out, err = m.process.run({ lua, "-e", ("URL = %q"):format(url .. "?i=" .. i), "-e", WORKER },
                                      { env = env })
      check(out or err, "worker process")
    end)
  end
  m.gather(tasks)
end

local function tasks(url)
  local c = http.client()
  local list = {}
  for i = 1, N do
    list[i] = m.spawn(function() check(assert(c:get(url .. "?i=" .. i)).status, "task") end)
  end
  m.gather(list)
  c:close()
end

m.run(function()
  local srv = assert(http.listen("127.0.0.1", 0, function(_, res)
    m.sleep(DELAY)
    res:finish("slow answer\n")
  end))
  local url = ("http://%s:%d/slow"):format(srv:address())
  print(("%d requests, each answered after %.2f s:\n"):format(N, DELAY))
  print(("%-28s %9s %9s"):format("way", "seconds", "x ideal"))
  for _, way in ipairs({ { "sequential", sequential }, { N .. " worker processes", processes },
                         { N .. " moonlet tasks", tasks } }) do
    local t0 = m.now()
    way[2](url)
    local s = m.now() - t0
    print(("%-28s %9.3f %9.1f"):format(way[1], s, s / DELAY))
  end
  srv:close()
end)
