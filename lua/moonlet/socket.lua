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

-- A wrapper is a table holding the real object in _s. Each kind has its
-- own method table, which is also its __index (libraries such as LuaSec's
-- ssl.https read methods from getmetatable(sock).__index).
local socket_wait, forget = core._socket_wait, core._socket_forget

-- The descriptor's poll (kept between waits) goes before the descriptor.
local function close(self)
  local s = self._s
  local fd = math.tointeger(s:getfd())
  if fd and fd >= 0 then forget(fd) end
  return s:close()
end

local function kind()
  local k = { close = close }
  k.__index = k
  k.__tostring = function(self) return tostring(self._s) end
  -- Runs before the real object's own finalizer, which closes the
  -- descriptor: the wrapper was made after it (Lua finalizes in reverse).
  k.__gc = function(self)
    local fd = math.tointeger(self._s:getfd())
    if fd and fd >= 0 then forget(fd) end
  end
  return k
end
local Tcp, Udp, Ssl = kind(), kind(), kind()

-- Methods that need no waiting call the real object's method of that name.
local function add_forwarders(k, methods)
  for name, f in pairs(methods) do
    if type(f) == "function" and k[name] == nil and not name:match("^__") then
      k[name] = function(self, ...)
        local s = self._s
        return s[name](s, ...)
      end
    end
  end
  k._forwarding = true
end

local wrapped = setmetatable({}, { __mode = "k" }) -- real object -> wrapper

local function wrap(s, k)
  local w = wrapped[s]
  if not w then
    if not k._forwarding then add_forwarders(k, getmetatable(s).__index) end
    w = setmetatable({ _s = s, class = s.class }, k)
    wrapped[s] = w
  end
  s:settimeout(0)
  return w
end

local function wrap_socket(s)
  if type(s) ~= "userdata" then return s end
  return wrap(s, tostring(s):match("^udp") and Udp or Tcp)
end

--- LuaSocket's settimeout: mode "b" (each wait) or "t" (the whole call);
-- nil or a negative value: no timeout.
local function settimeout(self, t, mode)
  if t ~= nil then
    local n = tonumber(t)
    if not n or (type(t) ~= "number" and type(t) ~= "string") then
      error(("bad argument #2 to 'settimeout' (number expected, got %s)"):format(type(t)), 2)
    end
    t = n >= 0 and n or nil
  end
  local which = mode == nil and "b" or tostring(mode):sub(1, 1)
  if which == "b" then self._block = t
  elseif which == "t" or which == "r" then self._total = t
  else error("bad argument #3 to 'settimeout' (invalid timeout mode)", 2) end
  return 1
end
local function gettimeout(self) return self._block or -1, self._total or -1 end
for _, k in ipairs({ Tcp, Udp, Ssl }) do
  k.settimeout, k.gettimeout = settimeout, gettimeout
end

-- Waits until the socket is ready ("r" or "w"), within the block timeout
-- and what the total timeout leaves since t0: true, or nil, "timeout".
-- When the poll itself fails (the peer refused, the descriptor closed),
-- it returns true once: the next real call, which cannot block, reports
-- LuaSocket's own error; _failed is set so that a second failure ends.
local function wait(self, how, t0)
  local t = self._block
  if self._total then
    local left = self._total - (core.now() - t0)
    if not t or left < t then t = left end
  end
  if t and t <= 0 then return nil, "timeout" end
  local fd = self._s:getfd()
  if not fd or fd < 0 then return nil, "closed" end
  if self._polled ~= fd then -- a poll left on this number is not ours
    forget(math.tointeger(fd))
    self._polled = fd
  end
  local ok, _, code = socket_wait(fd, how == "w", t)
  if ok then return true end
  if code == "ETIMEDOUT" then return nil, "timeout" end
  if self._failed then return nil, "closed" end
  self._failed = true
  return true
end

-- Which way a call that could not finish waits: LuaSocket says "timeout"
-- (the direction of the call), LuaSec says "wantread" or "wantwrite"
-- (a TLS read may need to write and the other way round).
local WANT = { wantread = "r", wantwrite = "w" }

-- The real call's error when waiting timed out: "timeout" for LuaSocket,
-- LuaSec's "wantread"/"wantwrite" as its own blocking mode reports.
local function gave_up(err, werr) return werr == "timeout" and err or werr end

local function receive(self, pattern, prefix)
  local t0 = core.now()
  local given = prefix and #prefix or 0
  local s = self._s
  self._failed = nil
  while true do
    local data, err, partial = s:receive(pattern, prefix)
    if data then return data end
    -- "*a" reads until the peer closes: what came before is the result,
    -- as LuaSocket returns it when one blocking call saw it all.
    if err == "closed" and (pattern == "*a" or pattern == "a") and #partial > given then
      return partial
    end
    local how = err == "timeout" and "r" or WANT[err]
    if not how then return nil, err, partial end
    prefix = partial -- LuaSocket counts a prefix towards a byte count
    local ok, werr = wait(self, how, t0)
    if not ok then return nil, gave_up(err, werr), partial end
  end
end

local function send(self, data, i, j)
  local t0 = core.now()
  local s = self._s
  self._failed = nil
  i = i or 1
  while true do
    local last, err, sent = s:send(data, i, j)
    if last then return last end
    local how = err == "timeout" and "w" or WANT[err]
    if not how then return nil, err, sent end
    if sent and sent >= i then i = sent + 1 end
    local ok, werr = wait(self, how, t0)
    if not ok then return nil, gave_up(err, werr), sent end
  end
end
Tcp.receive, Tcp.send, Ssl.receive, Ssl.send = receive, send, receive, send

-- Host names are looked up by moonlet (cooperatively), not by getaddrinfo
-- blocking in LuaSocket.
local function numeric(host, family)
  if host == "*" or host:match("^[%d.]+$") or host:find(":", 1, true) then return host end
  local ip, err = core.dns.lookup(host, { family = family == "inet6" and 6 or nil })
  if not ip then return nil, "host not found", err end
  return ip
end

function Tcp:connect(host, port)
  local t0 = core.now()
  local s = self._s
  self._failed = nil
  local ip, err = numeric(host, s:getfamily())
  if not ip then return nil, err end
  local ok
  ok, err = s:connect(ip, port)
  if not ok and err == "timeout" then
    ok, err = wait(self, "w", t0)
    if ok then
      ok, err = s:connect(ip, port) -- the outcome of the connect in flight
      if err == "already connected" then ok, err = 1, nil end
    end
  end
  self.class = s.class
  if ok then return 1 end
  return nil, err
end

function Tcp:listen(backlog)
  local ok, err = self._s:listen(backlog)
  self.class = self._s.class
  return ok, err
end

-- A call LuaSocket answers with nil, "timeout" until the socket is ready
-- for it (how: "r" or "w"): made again after each wait.
local function retrying(method, how)
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

local accept = retrying("accept", "r")
function Tcp:accept()
  local c, err = accept(self)
  if c then return wrap_socket(c) end
  return nil, err
end

--- The wrapped socket's real LuaSocket object.
function Tcp:getrealsocket() return self._s end
Udp.getrealsocket = Tcp.getrealsocket

Udp.receivefrom, Udp.sendto = retrying("receivefrom", "r"), retrying("sendto", "w")
Udp.receive, Udp.send = retrying("receive", "r"), retrying("send", "w")

function Udp:setpeername(...)
  local ok, err = self._s:setpeername(...)
  self.class = self._s.class
  return ok, err
end

--- LuaSec's TLS handshake, waiting cooperatively for what it wants.
function Ssl:dohandshake()
  local t0 = core.now()
  self._failed = nil
  while true do
    local ok, err = self._s:dohandshake()
    if ok then return ok end
    local how = WANT[err] or (err == "timeout" and "r")
    if not how then return ok, err end
    local waited, werr = wait(self, how, t0)
    if not waited then return ok, gave_up(err, werr) end
  end
end

--- A LuaSec connection object made cooperative (moonlet.ssl uses it).
function S._wrap_ssl(conn) return wrap(conn, Ssl) end

-- The module: socket.core's functions, cooperative where they wait.
for k, v in pairs(real) do S[k] = v end
for _, name in ipairs({ "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6" }) do
  if real[name] then
    S[name] = function(...)
      local s, err = real[name](...)
      if not s then return nil, err end
      return wrap_socket(s)
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

-- A select entry's descriptor: a raw one, or what its getfd method gives.
local function fd_of(x)
  local fd = x
  if type(x) == "table" or type(x) == "userdata" then fd = x.getfd and x:getfd() end
  fd = math.tointeger(fd) -- LuaSocket's getfd gives a float
  return fd and fd >= 0 and fd or -1
end

-- The entries of a select list ready now, as LuaSocket returns them.
local function ready_list(list, pos, out)
  out = out or {}
  for _, i in ipairs(pos) do
    local x = list[i]
    if not out[x] then
      out[#out + 1] = x
      out[x] = true
    end
  end
  return out
end

--- socket.select(recvt, sendt[, timeout]): which are ready, waiting
-- cooperatively. Entries are sockets (moonlet's, LuaSocket's, LuaSec's:
-- anything with getfd) or raw descriptors; there is no FD_SETSIZE limit.
function S.select(recvt, sendt, timeout)
  recvt, sendt = recvt or {}, sendt or {}
  local rfds, wfds, dirty = {}, {}, {}
  for i, x in ipairs(recvt) do
    rfds[i] = fd_of(x)
    if type(x) ~= "number" and x.dirty and x:dirty() then dirty[#dirty + 1] = i end
  end
  for i, x in ipairs(sendt) do wfds[i] = fd_of(x) end
  local t0 = core.now()
  while true do
    local rpos, wpos = core._ready(rfds, wfds)
    if #rpos > 0 or #wpos > 0 or #dirty > 0 then
      return ready_list(recvt, dirty, ready_list(recvt, rpos)), ready_list(sendt, wpos)
    end
    local left = timeout and timeout >= 0 and timeout - (core.now() - t0) or nil
    if left and left <= 0 then return {}, {}, "timeout" end
    -- Wait for the first that becomes ready, one small task per descriptor.
    local ready = core.channel(1)
    local waiters, watched = {}, {}
    local function watch(fd, fn)
      if fd < 0 or watched[fd] == fn then return end
      watched[fd] = fn
      waiters[#waiters + 1] = core.spawn(function()
        if fn(fd, left) then ready:try_send(true) end
      end)
    end
    for _, fd in ipairs(rfds) do watch(fd, core.wait_readable) end
    for _, fd in ipairs(wfds) do watch(fd, core.wait_writable) end
    if #waiters == 0 then
      core.sleep(left or 1e9)
    else
      core.select({ { ready, "recv" } }, left and { timeout = left } or nil)
    end
    for _, t in ipairs(waiters) do t:cancel() end
    for _, t in ipairs(waiters) do pcall(t.await, t) end
  end
end

S.dns = require("moonlet.socket_dns")(real.dns)
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
