-- check-types.lua - checks that types/moonlet.lua annotates every public
-- name: each function of the moonlet table and its sub-tables, each method
-- of every kind of object the API hands out, and the data fields of the
-- objects that have them. Prints TAP: one line per kind, failing with the
-- names that have no annotation.
--   lua5.4 tools/check-types.lua [types/moonlet.lua [FIRST]]
-- FIRST numbers the first TAP line (1), for a caller that printed others.
local m = require "moonlet"
local path = arg[1] or "types/moonlet.lua"
local first = tonumber(arg[2]) or 1

-- What the file annotates: "owner.name" for functions declared with an
-- annotation comment right above them, and fields of ---@class blocks.
local annotated, class_of_var = {}, {}
do
  local prev, class = "", nil
  for line in io.lines(path) do
    local cls = line:match("^%-%-%-@class ([%w_.]+)")
    if cls then class = cls end
    local field = line:match("^%-%-%-@field ([%w_]+)")
    if field and class then annotated[class .. "." .. field] = true end
    local var = line:match("^local ([%w_]+) = {}")
    if var and class then class_of_var[var] = class end
    local tbl = line:match("^(moonlet%.[%w_]+) = {}")
    if tbl and class then class_of_var[tbl] = class end
    local owner, name = line:match("^function ([%w_.]+)[.:]([%w_]+)%(")
    if owner and prev:match("^%-%-%-") then
      annotated[(class_of_var[owner] or owner) .. "." .. name] = true
    end
    prev = line
  end
end

local n, failed = first - 1, 0
local function check(what, class, names)
  local missing = {}
  for _, name in ipairs(names) do
    if not annotated[class .. "." .. name] then missing[#missing + 1] = name end
  end
  n = n + 1
  if #missing == 0 then
    print(("ok %d - %s: %d names annotated as %s"):format(n, what, #names, class))
  else
    failed = failed + 1
    print(("not ok %d - %s: no annotation in %s for %s.%s"):format(n, what, path, class,
      table.concat(missing, ", " .. class .. ".")))
  end
end

local function public(t, only_functions)
  local names = {}
  for k, v in pairs(t) do
    if type(k) == "string" and k:sub(1, 1) ~= "_" and k ~= "__index"
      and (not only_functions or type(v) == "function") then
      names[#names + 1] = k
    end
  end
  table.sort(names)
  return names
end

-- The methods of an object: what its metatable's __index holds.
local function methods(obj)
  local mt = getmetatable(obj)
  local idx = mt and mt.__index
  return type(idx) == "table" and public(idx, true) or {}
end

-- The module and its sub-tables.
local subs = {
  fs = "moonlet.fslib", tcp = "moonlet.tcplib", pipe = "moonlet.pipelib",
  udp = "moonlet.udplib", dns = "moonlet.dnslib", process = "moonlet.processlib",
  signal = "moonlet.signallib", http = "moonlet.httplib", json = "moonlet.jsonlib",
  context = "moonlet.contextlib",
}
local top = {}
for _, k in ipairs(public(m)) do
  if not subs[k] then top[#top + 1] = k end
end
top[#top + 1] = "_VERSION"
check("moonlet", "moonlet", top)
for name, class in pairs(subs) do
  local names = public(m[name])
  -- functions are declared as moonlet.<name>.f, fields in the class
  local fns, fields = {}, {}
  for _, k in ipairs(names) do
    if type(m[name][k]) == "function" then fns[#fns + 1] = k else fields[#fields + 1] = k end
  end
  for _, k in ipairs(fns) do
    if annotated["moonlet." .. name .. "." .. k] then annotated[class .. "." .. k] = true end
  end
  check("moonlet." .. name, class, names)
end

-- Every kind of object, made for real.
m.run(function()
  local f = m.future()
  check("futures", "moonlet.Future", methods(f))
  local t = m.spawn(function() end)
  check("tasks", "moonlet.Task", methods(t))
  t:await()
  check("channels", "moonlet.Channel", methods(m.channel()))
  local h = m.call_soon(function() end)
  check("callback handles", "moonlet.Handle", methods(h))
  m.scope(function(s) check("scopes", "moonlet.Scope", methods(s)) end)
  check("locks", "moonlet.Lock", methods(m.lock()))
  check("semaphores", "moonlet.Semaphore", methods(m.semaphore()))
  check("events", "moonlet.Event", methods(m.event()))
  check("conditions", "moonlet.Condition", methods(m.condition()))
  check("waitgroups", "moonlet.Waitgroup", methods(m.waitgroup()))
  check("queues", "moonlet.Queue", methods(m.queue()))

  local srv = assert(m.tcp.listen("127.0.0.1", 0))
  check("servers", "moonlet.Server", methods(srv))
  local _, port = srv:address()
  local c = assert(m.tcp.connect("127.0.0.1", port))
  check("streams", "moonlet.Stream", methods(c))
  c:close()
  srv:close()
  local u = assert(m.udp.bind("127.0.0.1", 0))
  check("udp sockets", "moonlet.UDP", methods(u))
  u:close()
  local file = assert(m.fs.open(arg[0]))
  check("files", "moonlet.File", methods(file))
  file:close()
  local p = assert(m.process.spawn { "true", stdin = "pipe", stdout = "pipe", stderr = "pipe" })
  local pnames = methods(p)
  for _, k in ipairs(public(p)) do pnames[#pnames + 1] = k end
  check("processes", "moonlet.Process", pnames)
  p:wait()
  p:close()

  local client = m.http.client()
  check("http clients", "moonlet.http.Client", methods(client))
  local hs = m.http.Headers()
  check("http headers", "moonlet.http.Headers", methods(hs))
  local web = assert(m.http.listen("127.0.0.1", 0, function(req, res)
    local names = methods(req)
    for _, k in ipairs(public(req)) do names[#names + 1] = k end
    check("http server requests", "moonlet.http.Request", names)
    local rnames = methods(res)
    for _, k in ipairs(public(res)) do rnames[#rnames + 1] = k end
    check("http server responses", "moonlet.http.ServerResponse", rnames)
    res:finish("ok")
  end))
  local _, wport = web:address()
  local r = assert(client:get(("http://127.0.0.1:%d/"):format(wport)))
  local rnames = methods(r)
  for _, k in ipairs({ "status", "reason", "headers", "body", "url", "ok", "ip", "http_version",
    "redirects", "elapsed" }) do rnames[#rnames + 1] = k end
  check("http responses", "moonlet.http.Response", rnames)
  client:close()
  web:close()
end)

os.exit(failed == 0 and 0 or 1)
