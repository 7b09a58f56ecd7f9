-- Synchronisation primitives: lock, semaphore, event, condition, waitgroup.
-- All are FIFO-fair: a release hands ownership straight to the first
-- waiter, so nobody can barge in ahead of it. Every blocking method takes
-- an optional timeout and returns nil, "ETIMEDOUT: timed out", "ETIMEDOUT"
-- when it expires.
local core = require "moonlet.core"
local typename = require("moonlet.args").typename

local S = {}

-- Waiters: a FIFO of one-slot channels, one per waiting task.
local Waiters = {}
Waiters.__index = Waiters

-- label names what its waiters wait for in task dumps ("lock acquire").
local function waiters(label)
  return setmetatable({ head = 1, tail = 0, n = 0, label = label }, Waiters)
end

local function check_timeout(t, fname)
  if t ~= nil and (type(t) ~= "number" or t ~= t or t < 0) then
    error(("bad argument #1 to '%s' (non-negative number expected, got %s)")
      :format(fname, type(t) == "number" and tostring(t) or typename(t)), 3)
  end
end

--- Hands a turn (or the value v) to the first live waiter; false if
-- nobody waits.
function Waiters:wake_one(v)
  while self.head <= self.tail do
    local ch = self[self.head]
    self[self.head] = nil
    self.head = self.head + 1
    if ch then
      self.n = self.n - 1
      -- Not send: a release in a cancelled task's cleanup must still
      -- hand over, and try_send is no cancellation point.
      ch:try_send(v == nil and true or v)
      return true
    end
  end
  return false
end

function Waiters:wake_all(v)
  while self:wake_one(v) do end
end

--- Waits for a turn. Returns true and what it was handed, or false on
-- timeout. If cancelled, it withdraws; what reached it meanwhile is given
-- to on_lost (to pass it on), so nothing handed over is lost.
function Waiters:wait(timeout, on_lost)
  local ch = core.channel(1)
  self.tail = self.tail + 1
  local pos = self.tail
  self[pos] = ch
  self.n = self.n + 1
  local ok, i, v = pcall(core.select, { { ch, "recv" } }, { timeout = timeout, _label = self.label })
  if ok and i then return true, v end
  if self[pos] == ch then
    self[pos] = false
    self.n = self.n - 1
  end
  local got = ch:try_recv() -- the value handed over, or nil
  if not ok then
    if got ~= nil and on_lost then on_lost(got) end
    error(i, 0)
  end
  if got ~= nil then return true, got end -- handed over just as time ran out
  return false
end

S._waiters = waiters
S._check_timeout = check_timeout

-- Lock -------------------------------------------------------------------

local Lock = {}
Lock.__index = Lock
Lock.__name = "moonlet.lock"

function S.lock()
  return setmetatable({ held = false, q = waiters("lock acquire") }, Lock)
end

--- Returns the lock itself (so `local _ <close> = l:acquire()` releases it
-- at the end of the block), or nil, message, "ETIMEDOUT".
function Lock:acquire(timeout)
  check_timeout(timeout, "acquire")
  if not self.held and self.q.n == 0 then
    self.held = true
    return self
  end
  if self.q:wait(timeout, function() self:release() end) then return self end
  return core._fail("ETIMEDOUT")
end

function Lock:release()
  if not self.held then error("release of an unlocked lock", 2) end
  -- Ownership passes straight to the first waiter; held stays true.
  if not self.q:wake_one() then self.held = false end
end

function Lock:locked() return self.held end
Lock.__close = function(self) if self.held then self:release() end end

-- Semaphore --------------------------------------------------------------

local Semaphore = {}
Semaphore.__index = Semaphore
Semaphore.__name = "moonlet.semaphore"

function S.semaphore(n)
  n = n == nil and 1 or n
  if math.type(n) ~= "integer" or n < 0 then
    error("bad argument #1 to 'semaphore' (non-negative integer expected, got "
      .. (math.type(n) == "integer" and n or typename(n)) .. ")", 2)
  end
  return setmetatable({ permits = n, q = waiters("semaphore acquire") }, Semaphore)
end

function Semaphore:acquire(timeout)
  check_timeout(timeout, "acquire")
  if self.permits > 0 and self.q.n == 0 then
    self.permits = self.permits - 1
    return self
  end
  if self.q:wait(timeout, function() self:release() end) then return self end
  return core._fail("ETIMEDOUT")
end

function Semaphore:release()
  if not self.q:wake_one() then self.permits = self.permits + 1 end
end

function Semaphore:value() return self.permits end
Semaphore.__close = function(self) self:release() end

-- Event ------------------------------------------------------------------

local Event = {}
Event.__index = Event
Event.__name = "moonlet.event"

function S.event()
  return setmetatable({ flag = false, q = waiters("event wait") }, Event)
end

function Event:set()
  self.flag = true
  self.q:wake_all()
end

function Event:clear() self.flag = false end
function Event:is_set() return self.flag end

function Event:wait(timeout)
  check_timeout(timeout, "wait")
  if self.flag then return true end
  if self.q:wait(timeout) then return true end
  return core._fail("ETIMEDOUT")
end

-- Condition --------------------------------------------------------------

local Condition = {}
Condition.__index = Condition
Condition.__name = "moonlet.condition"

function S.condition(lock)
  if lock ~= nil and getmetatable(lock) ~= Lock then
    error("bad argument #1 to 'condition' (lock expected, got " .. typename(lock) .. ")", 2)
  end
  return setmetatable({ lock = lock or S.lock(), q = waiters("condition wait") }, Condition)
end

function Condition:acquire(timeout) return self.lock:acquire(timeout) end
function Condition:release() return self.lock:release() end
function Condition:locked() return self.lock:locked() end

--- Releases the lock, waits for a notify, and re-acquires the lock before
-- returning, on timeout and cancellation too.
function Condition:wait(timeout)
  check_timeout(timeout, "wait")
  if not self.lock:locked() then error("wait on a condition whose lock is not held", 2) end
  self.lock:release()
  local ok, notified = pcall(self.q.wait, self.q, timeout)
  local depth = core._shield(1) -- get the lock back even when cancelled
  self.lock:acquire()
  if depth then core._shield(-1) end
  if not ok then error(notified, 0) end
  if notified then return true end
  return core._fail("ETIMEDOUT")
end

function Condition:notify(n)
  n = n == nil and 1 or n
  if math.type(n) ~= "integer" or n < 0 then
    error("bad argument #1 to 'notify' (non-negative integer expected, got "
      .. (math.type(n) == "integer" and n or typename(n)) .. ")", 2)
  end
  for _ = 1, n do
    if not self.q:wake_one() then break end
  end
end

function Condition:notify_all() self.q:wake_all() end
Condition.__close = function(self) if self.lock:locked() then self.lock:release() end end

-- Waitgroup --------------------------------------------------------------

local Waitgroup = {}
Waitgroup.__index = Waitgroup
Waitgroup.__name = "moonlet.waitgroup"

function S.waitgroup()
  return setmetatable({ counter = 0, q = waiters("waitgroup wait") }, Waitgroup)
end

function Waitgroup:add(n)
  n = n == nil and 1 or n
  if math.type(n) ~= "integer" then error("bad argument #1 to 'add' (integer expected, got " .. typename(n) .. ")", 2) end
  if self.counter + n < 0 then error("waitgroup counter below zero", 2) end
  self.counter = self.counter + n
  if self.counter == 0 then self.q:wake_all() end
end

function Waitgroup:done() self:add(-1) end

function Waitgroup:wait(timeout)
  check_timeout(timeout, "wait")
  if self.counter == 0 then return true end
  if self.q:wait(timeout) then return true end
  return core._fail("ETIMEDOUT")
end

function Waitgroup:count() return self.counter end

return S
