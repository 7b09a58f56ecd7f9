-- moonlet.socket: LuaSocket on moonlet's loop. The real LuaSocket does the
-- system calls, always in non-blocking mode; where it would wait, the
-- calling task waits instead (m.wait_readable / m.wait_writable on the
-- socket's descriptor), so other tasks run. Method names, results and
-- error strings ("timeout", "closed", "connection refused", ...) are
-- LuaSocket's own, and settimeout's block and total timeouts behave as
-- LuaSocket defines them. m.patch() makes require "socket" return this.
local core = require "moonlet.core"

local S = {}

-- The real LuaSocket C module, loaded afresh so that a patched
-- package.loaded["socket.core"] never wraps itself.
local real do
  local path = package.searchpath("socket.core", package.cpath)
  if not path then error("moonlet.socket needs LuaSocket (Debian: lua-socket)", 2) end
  real = assert(package.loadlib(path, "luaopen_socket_core"))()
end

local Sock = {}   -- methods of every wrapped socket
local wrapped = setmetatable({}, { __mode = "k" }) -- real socket -> wrapper

local function wrap(s)
  if type(s) ~= "userdata" then return s end
  local w = wrapped[s]
  if not w then
    w = setmetatable({ _s = s, _block = nil, _total = nil }, Sock)
    wrapped[s] = w
  end
  s:settimeout(0)
  return w
end

-- Forwards what needs no waiting to the real socket.
Sock.__index = function(w, k)
  local f = Sock[k]
  if f then return f end
  local real_method = rawget(w, "_s")[k]
  if real_method == nil then return nil end
  return function(self, ...) return real_method(self._s, ...) end
end
Sock.__tostring = function(self) return tostring(self._s) end

--- LuaSocket's settimeout: mode "b" (each wait) or "t" (the whole call);
-- nil or a negative value: no timeout.
function Sock:settimeout(t, mode)
  if t ~= nil and t < 0 then t = nil end
  if mode and mode:sub(1, 1) == "t" then self._total = t else self._block = t end
  return 1
end

function Sock:gettimeout() return self._block or -1, self._total or -1 end

-- Waits until the socket is ready ("r" or "w"), within the block timeout
-- and what the total timeout leaves since t0: true, or nil, "timeout".
-- When the poll itself fails (the peer refused, the descriptor closed),
-- it returns true once: the next real call, which cannot block, reports
-- LuaSocket's own error; polled is set so that a second "timeout" ends.
local function wait(self, how, t0)
  local t = self._block
  if self._total then
    local left = self._total - (core.now() - t0)
    if not t or left < t then t = left end
  end
  if t and t <= 0 then return nil, "timeout" end
  local fd = self._s:getfd()
  if not fd or fd < 0 then return nil, "closed" end
  local ok, _, code = (how == "r" and core.wait_readable or core.wait_writable)(fd, t)
  if ok then return true end
  if code == "ETIMEDOUT" then return nil, "timeout" end
  if self._failed then return nil, "closed" end
  self._failed = true
  return true
end

function Sock:receive(pattern, prefix)
  local t0 = core.now()
  local given = prefix and #prefix or 0
  self._failed = nil
  while true do
    local data, err, partial = self._s:receive(pattern, prefix)
    -- "*a" reads until the peer closes: what came before is the result,
    -- as LuaSocket returns it when one blocking call saw it all.
    if err == "closed" and (pattern == "*a" or pattern == "a") and #partial > given then
      return partial
    end
    if data or err ~= "timeout" then return data, err, partial end
    prefix = partial -- LuaSocket counts a prefix towards a byte count
    local ok, werr = wait(self, "r", t0)
    if not ok then return nil, werr, partial end
  end
end

function Sock:send(data, i, j)
  local t0 = core.now()
  self._failed = nil
  i = i or 1
  while true do
    local last, err, sent = self._s:send(data, i, j)
    if last or err ~= "timeout" then return last, err, sent end
    if sent and sent >= i then i = sent + 1 end
    local ok, werr = wait(self, "w", t0)
    if not ok then return nil, werr, sent end
  end
end

-- Host names are looked up by moonlet (cooperatively), not by getaddrinfo
-- blocking in LuaSocket.
local function numeric(host, family)
  if host == "*" or host:match("^[%d.]+$") or host:find(":", 1, true) then return host end
  local ip, err = core.dns.lookup(host, { family = family == "inet6" and 6 or nil })
  if not ip then return nil, "host not found", err end
  return ip
end

function Sock:connect(host, port)
  local t0 = core.now()
  self._failed = nil
  local ip, err = numeric(host, self._s.getfamily and self._s:getfamily())
  if not ip then return nil, err end
  local ok
  ok, err = self._s:connect(ip, port)
  if ok then return ok end
  if err ~= "timeout" then return nil, err end
  ok, err = wait(self, "w", t0)
  if not ok then return nil, err end
  ok, err = self._s:connect(ip, port) -- the outcome of the connect in flight
  if ok or err == "already connected" then return 1 end
  return nil, err
end

function Sock:accept()
  local t0 = core.now()
  self._failed = nil
  while true do
    local c, err = self._s:accept()
    if c then return wrap(c) end
    if err ~= "timeout" then return nil, err end
    local ok, werr = wait(self, "r", t0)
    if not ok then return nil, werr end
  end
end

local function datagram(method, how)
  return function(self, ...)
    local t0 = core.now()
    self._failed = nil
    while true do
      local r = table.pack(self._s[method](self._s, ...))
      if r[1] or r[2] ~= "timeout" then return table.unpack(r, 1, r.n) end
      local ok, werr = wait(self, how, t0)
      if not ok then return nil, werr end
    end
  end
end
Sock.receivefrom = datagram("receivefrom", "r")
Sock.sendto = datagram("sendto", "w")

-- UDP's receive and send have the same names as TCP's: choose by class.
local tcp_receive, tcp_send = Sock.receive, Sock.send
local udp_receive, udp_send = datagram("receive", "r"), datagram("send", "w")
function Sock:receive(...)
  if tostring(self._s):match("^udp") then return udp_receive(self, ...) end
  return tcp_receive(self, ...)
end
function Sock:send(...)
  if tostring(self._s):match("^udp") then return udp_send(self, ...) end
  return tcp_send(self, ...)
end

--- The wrapped socket's real LuaSocket object (for LuaSec's ssl.wrap).
function Sock:getrealsocket() return self._s end

-- The module: socket.core's functions, cooperative where they wait.
for k, v in pairs(real) do S[k] = v end
for _, name in ipairs({ "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6" }) do
  if real[name] then
    S[name] = function(...)
      local s, err = real[name](...)
      if not s then return nil, err end
      return wrap(s)
    end
  end
end

--- socket.connect(address, port[, laddress[, lport[, family]]])
function S.connect(address, port, laddress, lport, family)
  local s, err = (family == "inet6" and S.tcp6 or (family == "inet" and S.tcp4) or S.tcp)()
  if not s then return nil, err end
  if laddress then
    local ok, berr = s:bind(laddress, lport or 0)
    if not ok then s:close(); return nil, berr end
  end
  local ok, cerr = s:connect(address, port)
  if not ok then s:close(); return nil, cerr end
  return s
end

function S.sleep(t) core.sleep(t) end

--- socket.select(recvt, sendt[, timeout]): which are ready, waiting
-- cooperatively; wrapped and raw LuaSocket objects alike.
function S.select(recvt, sendt, timeout)
  local function unwrap(list)
    local r, back = {}, {}
    for _, s in ipairs(list or {}) do
      local raw = type(s) == "table" and s._s or s
      r[#r + 1] = raw
      back[raw] = s
    end
    return r, back
  end
  local rr, rback = unwrap(recvt)
  local ws, wback = unwrap(sendt)
  local function rewrap(list, back)
    local out = {}
    for _, raw in ipairs(list) do
      local s = back[raw]
      out[#out + 1] = s
      out[s] = true
    end
    return out
  end
  local t0 = core.now()
  while true do
    local r, w, err = real.select(rr, ws, 0)
    if #r > 0 or #w > 0 or err ~= "timeout" then
      return rewrap(r, rback), rewrap(w, wback), err
    end
    local left = timeout and timeout >= 0 and timeout - (core.now() - t0) or nil
    if left and left <= 0 then return {}, {}, "timeout" end
    -- Wait for the first that becomes ready, one small task per socket.
    local ready = core.channel(1)
    local waiters = {}
    local function watch(raw, fn)
      waiters[#waiters + 1] = core.spawn(function()
        if fn(raw:getfd(), left) then ready:try_send(true) end
      end)
    end
    for _, raw in ipairs(rr) do watch(raw, core.wait_readable) end
    for _, raw in ipairs(ws) do watch(raw, core.wait_writable) end
    if #waiters == 0 then
      core.sleep(left or 1e9)
    else
      core.select({ { ready, "recv" } }, left and { timeout = left } or nil)
    end
    for _, t in ipairs(waiters) do t:cancel() end
    for _, t in ipairs(waiters) do pcall(t.await, t) end
  end
end

S._MOONLET = true

-- LuaSocket's own Lua half (socket.lua: bind, sinks, sources, try, ...)
-- run over this module, as `require "socket"` would over socket.core.
local lua_half = package.searchpath("socket", package.path)
local module = S
if lua_half then
  local saved = package.loaded["socket.core"]
  package.loaded["socket.core"] = S
  local ok, m = pcall(dofile, lua_half)
  package.loaded["socket.core"] = saved
  if ok and type(m) == "table" then module = m end
end

return module
