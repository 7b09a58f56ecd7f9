-- moonlet.net: TCP and Unix-domain pipe clients and servers over the C
-- streams (csrc/io/stream.c). Names are resolved here, every address is tried
-- in turn, and each accepted connection runs its handler in its own task.
local core = require "moonlet.core"

local M = { tcp = {}, pipe = {}, udp = {}, dns = core.dns }

local Cancelled = core.Cancelled

local argcheck = require("moonlet.args").check
local expect = require("moonlet.args").expect
local checkport = require("moonlet.args").port

local function is_ip(host)
  return host:match("^%d+%.%d+%.%d+%.%d+$") ~= nil or host:find(":", 1, true) ~= nil
end

-- The addresses to try for host, numeric ones as they are.
local function resolve(host, timeout)
  if is_ip(host) then return { { address = host } } end
  return core.dns.lookup(host, { all = true, timeout = timeout })
end

local function with_timeout(opts, timeout)
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  o.timeout = timeout
  return o
end

--- Connects to host:port, trying every address host resolves to. Returns a
-- stream, or nil, message, code.
function M.tcp.connect(host, port, opts)
  expect(host, "string", 1, "connect")
  port = checkport(port, 2, "connect")
  expect(opts, "table?", 3, "connect")
  opts = opts or {}
  local timeout = opts.timeout
  argcheck(timeout == nil or (type(timeout) == "number" and timeout >= 0), 3,
    "connect", "option 'timeout' must be a number of seconds")
  local deadline = timeout and core.now() + timeout
  local addrs, err, code = resolve(host, timeout)
  if not addrs then return nil, err, code end
  for _, a in ipairs(addrs) do
    local left = deadline and deadline - core.now()
    if left and left <= 0 then
      return core._fail("ETIMEDOUT")
    end
    local s
    s, err, code = core._tcp_connect(a.address, port, with_timeout(opts, left))
    if s then return s end
  end
  return nil, err, code
end

-- fn(a, b) under xpcall: ok, the error, and the traceback of where it was
-- raised. The message handler leaves the traceback in an upvalue, read
-- as xpcall returns (nothing yields in between), so no closure is made per
-- call. Used by servers for their handlers (http_server.lua too).
local last_traceback
local function take_traceback(e)
  last_traceback = debug.traceback(nil, 2)
  return e
end
local function call_traced(fn, a, b) -- not vararg: cheaper to call
  local ok, err = xpcall(fn, take_traceback, a, b)
  if ok then return true end
  return false, err, last_traceback
end
M._call_traced = call_traced

-- The task of each connection of a server: handler(conn), then the
-- connection closed and done() called. Made once per server, so that a
-- connection costs its task and nothing more. A direct handler closes the
-- connection and handles its errors itself (the HTTP server's does): it
-- runs with nothing around it, so that a connection waiting for its peer
-- holds the fewest frames (an idle connection's memory is mostly its
-- task's stack).
local function connection_task(handler, where, done, direct)
  local finished = setmetatable({}, { __close = done })
  if direct then
    return function(conn)
      local _ <close> = finished
      handler(conn)
    end
  end
  return function(conn)
    local _ <close> = finished
    local ok, err, tb = call_traced(handler, conn)
    conn:close()
    if not ok and getmetatable(err) ~= Cancelled then
      core._report(err, tb, core.current(), where)
    end
  end
end

local Server = {}
Server.__index = Server

-- One accept and the connection's task; raises only what accept or spawn
-- raise (a memory error), after closing a connection it could not hand on.
local function accept_one(srv, run)
  local conn, err, code = srv:accept()
  if conn then
    local ok, e = pcall(core.spawn, run, conn)
    if not ok then
      conn:close()
      error(e, 0)
    end
  end
  return conn, err, code
end

-- Accepts until the server closes; each connection gets a task. With
-- max_connections, accepting pauses while that many handlers run (the
-- kernel's backlog holds the next clients meanwhile). Errors (out of
-- descriptors, out of memory) are reported once per streak and waited out:
-- the server goes on.
local function serve(self, handler, where, max, direct)
  local srv = self._srv
  local slot = core.channel(1) -- a handler finished while we waited
  local run = connection_task(handler, where, function()
    self._active = self._active - 1
    slot:try_send(true)
  end, direct)
  self._task = core.spawn(function()
    local failing = false
    while not self._closed do
      while max and self._active >= max and not self._closed do
        self._waiting = true
        slot:recv()
        self._waiting = false
      end
      if self._closed then break end
      self._active = self._active + 1
      local ok, conn, err, code = pcall(accept_one, srv, run)
      if not ok or not conn then self._active = self._active - 1 end
      if not ok then
        if getmetatable(conn) == Cancelled then error(conn, 0) end
        pcall(core._report, conn, nil, nil, where)
        core.sleep(0.05) -- back off
      elseif code == "ECANCELED" then
        break -- closed
      elseif not conn then
        -- Out of descriptors and the like: say so once, and back off.
        if not failing then
          pcall(core._report, ("%s: cannot accept connections: %s"):format(where, err), nil, nil, where)
        end
        failing = true
        core.sleep(0.05)
      elseif core._fds_exhausted() then
        -- This connection took the last descriptor. libuv refuses the next
        -- clients itself, through one it keeps in reserve, and says
        -- nothing: say it here, once until descriptors are free again.
        if not failing then
          pcall(core._report, ("%s: EMFILE: out of file descriptors; new connections are refused"
            .. " until some close (see ulimit -n and max_connections)"):format(where), nil, nil, where)
        end
        failing = true
      else
        failing = false
      end
    end
  end)
  self._task:set_name(where)
  return self
end

-- Every listen returns a Server; one made with a handler serves it.
local function listening(srv, handler, where, max, direct)
  local self = setmetatable({ _srv = srv, _active = 0 }, Server)
  if handler then return serve(self, handler, where or ("tcp server %s:%d"):format(srv:address()), max, direct) end
  return self
end

--- The address the server listens on: host, port (a path for pipes).
function Server:address() return self._srv:address() end

--- The next connection's stream, for a server without a handler (one
-- task accepts at a time); nil, msg, "ECANCELED" once it is closed.
function Server:accept()
  if self._task then error("accept on a server that has a handler", 2) end
  return self._srv:accept()
end

--- Bounds each later accept by s seconds (nil: none).
function Server:set_timeout(s)
  self._srv:set_timeout(s)
  return self
end

--- Stops accepting; handlers already running go on until they end.
function Server:close()
  self._closed = true
  self._srv:close()
  -- Waiting for a handler to finish: it need not.
  if self._waiting then self._task:cancel("the server was closed") end
end
Server.__close = Server.close

--- Blocks until the server is closed.
function Server:serve_forever()
  if not self._task then error("serve_forever on a server without a handler", 2) end
  -- close() cancels the accept loop when it waits for a free slot.
  local ok, err = pcall(self._task.await, self._task)
  if not ok and not self._closed then error(err, 0) end
end

--- The number of connections whose handlers are running.
function Server:connections() return self._active end

function Server:__tostring() return tostring(self._srv) end

local function max_connections(opts, fname)
  local max = type(opts) == "table" and opts.max_connections or nil
  argcheck(max == nil or (math.type(max) == "integer" and max > 0), 4, fname,
    "option 'max_connections' must be a positive integer")
  return max
end

local function listen_ip(host)
  if host == "*" then return "0.0.0.0" end
  if is_ip(host) then return host end
  local ip, err, code = core.dns.lookup(host)
  return ip, err, code
end

--- Listens on host:port and returns a server. With a handler, runs
-- handler(stream) in a task for every connection; without one, the caller
-- runs server:accept(). (direct: moonlet's own servers' handlers, see
-- connection_task.)
function M.tcp.listen(host, port, handler, opts, direct)
  expect(host, "string", 1, "listen")
  port = checkport(port, 2, "listen")
  expect(handler, "function?", 3, "listen")
  local max = max_connections(opts, "listen")
  local ip, err, code = listen_ip(host)
  if not ip then return nil, err, code end
  local srv
  srv, err, code = core._tcp_listen(ip, port, opts)
  if not srv then return nil, err, code end
  return listening(srv, handler, nil, max, direct)
end

--- A datagram socket bound to host:port (port 0: any free port).
function M.udp.bind(host, port, opts)
  expect(host, "string", 1, "bind")
  port = checkport(port, 2, "bind")
  local ip, err, code = listen_ip(host)
  if not ip then return nil, err, code end
  return core._udp_bind(ip, port, opts)
end

function M.pipe.connect(path, opts)
  expect(path, "string", 1, "connect")
  return core._pipe_connect(path, opts)
end

function M.pipe.listen(path, handler, opts)
  expect(path, "string", 1, "listen")
  expect(handler, "function?", 2, "listen")
  local max = max_connections(opts, "listen")
  local srv, err, code = core._pipe_listen(path, opts)
  if not srv then return nil, err, code end
  return listening(srv, handler, "pipe server " .. path, max)
end

return M
