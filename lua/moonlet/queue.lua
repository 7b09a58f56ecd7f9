-- Queues in the manner of asyncio.Queue: FIFO, priority and LIFO, bounded
-- or not, with task_done/join. A put hands its item straight to a waiting
-- getter; getters and putters wait FIFO; blocking methods take a timeout
-- and return nil, message, "ETIMEDOUT" when it expires.
local core = require "moonlet.core"
local sync = require "moonlet.sync"

local waiters, check_timeout = sync._waiters, sync._check_timeout
local typename = require("moonlet.args").typename

local Q = {}

-- Storage: push, pop (the next item to get), size.
local function fifo()
  return {
    head = 1, tail = 0,
    push = function(s, v) s.tail = s.tail + 1; s[s.tail] = v end,
    push_front = function(s, v) s.head = s.head - 1; s[s.head] = v end,
    pop = function(s)
      local v = s[s.head]
      s[s.head] = nil
      s.head = s.head + 1
      return v
    end,
    size = function(s) return s.tail - s.head + 1 end,
  }
end

local function lifo()
  return {
    n = 0,
    push = function(s, v) s.n = s.n + 1; s[s.n] = v end,
    pop = function(s)
      local v = s[s.n]
      s[s.n] = nil
      s.n = s.n - 1
      return v
    end,
    size = function(s) return s.n end,
  }
end

-- A binary min-heap ordered by less(a, b); ties leave in arrival order.
-- less is user code and may raise: push and pop first find where every
-- entry goes, comparing only, and move entries after the last comparison,
-- so a comparison that raises leaves the heap as it was.
local function heap(less)
  local function before(a, b)
    if less(a.v, b.v) then return true end
    if less(b.v, a.v) then return false end
    return a.seq < b.seq
  end
  return {
    n = 0, seq = 0,
    push = function(s, v)
      local e = { v = v, seq = s.seq + 1 }
      local i = s.n + 1
      while i > 1 and before(e, s[i // 2]) do i = i // 2 end
      s.seq, s.n = e.seq, s.n + 1
      local j = s.n
      while j > i do
        s[j] = s[j // 2]
        j = j // 2
      end
      s[i] = e
    end,
    pop = function(s)
      local top, last, n = s[1], s[s.n], s.n - 1
      -- The path the last entry sinks along from the root.
      local i = 1
      while 2 * i <= n do
        local c = 2 * i
        if c < n and before(s[c + 1], s[c]) then c = c + 1 end
        if not before(s[c], last) then break end
        i = c
      end
      local stop = i
      s[s.n] = nil
      s.n = n
      if n > 0 then
        -- Each entry on the path moves up one level, from the top down:
        -- the path's nodes are stop's ancestors, stop >> d.
        local depth, k = 0, stop
        while k > 1 do k, depth = k // 2, depth + 1 end
        i = 1
        for d = depth - 1, 0, -1 do
          local c = stop >> d
          s[i] = s[c]
          i = c
        end
        s[stop] = last
      end
      return top.v
    end,
    size = function(s) return s.n end,
  }
end

local Queue = {}
Queue.__index = Queue
Queue.__name = "moonlet.queue"

local CLOSED = {}

local function new(maxsize, store, fname)
  maxsize = maxsize or 0
  if math.type(maxsize) ~= "integer" or maxsize < 0 then
    error(("bad argument #1 to '%s' (non-negative integer expected, got %s)")
      :format(fname, math.type(maxsize) == "integer" and maxsize or typename(maxsize)), 3)
  end
  return setmetatable({
    max = maxsize, store = store, getters = waiters("queue get"), putters = waiters("queue put"),
    reserved = 0, unfinished = 0, joiners = waiters("queue join"), closed_ = false,
  }, Queue)
end

--- m.queue(maxsize): FIFO; maxsize 0 (the default) means unbounded.
function Q.queue(maxsize) return new(maxsize, fifo(), "queue") end

--- m.lifo_queue(maxsize): last in, first out.
function Q.lifo_queue(maxsize) return new(maxsize, lifo(), "lifo_queue") end

--- m.priority_queue(maxsize, [less]): smallest item first, by less (default
-- the < operator); equal items leave in arrival order.
function Q.priority_queue(maxsize, less)
  if less ~= nil and type(less) ~= "function" then
    error("bad argument #2 to 'priority_queue' (function expected, got " .. typename(less) .. ")", 2)
  end
  return new(maxsize, heap(less or function(a, b) return a < b end), "priority_queue")
end

function Queue:size() return self.store:size() end
function Queue:empty() return self.store:size() == 0 end
function Queue:full()
  return self.max > 0 and self.store:size() + self.reserved >= self.max
end

-- Stores an item a putter brings, or hands it to the first waiting getter
-- (boxed, so nil travels too).
-- The store's push may raise (a priority queue's comparison): it comes
-- before any count changes.
local function deliver(self, v)
  if not self.getters:wake_one({ v }) then self.store:push(v) end
  self.unfinished = self.unfinished + 1
end

-- While there is room and putters wait, reserve a slot for the first and
-- wake it: called wherever room may appear.
local function wake_putters(self)
  while self.putters.n > 0 and not self:full() do
    self.reserved = self.reserved + 1
    self.putters:wake_one()
  end
end

function Queue:try_put(v)
  if self.closed_ then error("put on a closed queue", 2) end
  if self.getters.n == 0 and (self:full() or self.putters.n > 0) then return false end
  deliver(self, v)
  return true
end

function Queue:put(v, timeout)
  check_timeout(timeout, "put")
  if self.closed_ then error("put on a closed queue", 2) end
  if self.getters.n > 0 or (not self:full() and self.putters.n == 0) then
    deliver(self, v)
    return true
  end
  -- Full: wait for a getter to make room; it reserves the room for us.
  local ok, why = self.putters:wait(timeout, function(got)
    -- A room reserved for us as we were cancelled goes to the next putter.
    if got ~= CLOSED then
      self.reserved = self.reserved - 1
      wake_putters(self)
    end
  end)
  if not ok then return core._fail("ETIMEDOUT") end
  if why == CLOSED then error("put on a closed queue", 2) end
  self.reserved = self.reserved - 1
  local delivered, err = pcall(deliver, self, v)
  wake_putters(self) -- handed to a getter, or refused: the slot may be free
  if not delivered then error(err, 0) end
  return true
end

-- Takes the next item; the room it leaves goes to a waiting putter.
local function take(self)
  local v = self.store:pop()
  wake_putters(self)
  return v
end

function Queue:try_get()
  if self.store:size() > 0 then return take(self), true end
  return nil, (self.closed_ and false or nil)
end

--- Returns the next item; nil, message, "ETIMEDOUT" on timeout; nil,
-- message, "ECLOSED" once the queue is closed and empty.
function Queue:get(timeout)
  check_timeout(timeout, "get")
  if self.store:size() > 0 and self.getters.n == 0 then return take(self) end
  if self.closed_ then return core._fail("ECLOSED", "the queue is closed") end
  local ok, box = self.getters:wait(timeout, function(got)
    -- An item that reached us as we were cancelled goes to the next
    -- getter, or back to the front of the line.
    if got ~= CLOSED and not self.getters:wake_one(got) then
      (self.store.push_front or self.store.push)(self.store, got[1])
    end
  end)
  if not ok then return core._fail("ETIMEDOUT") end
  if box == CLOSED then return core._fail("ECLOSED", "the queue is closed") end
  return box[1]
end

function Queue:task_done()
  if self.unfinished <= 0 then error("task_done called more times than items were put", 2) end
  self.unfinished = self.unfinished - 1
  if self.unfinished == 0 then self.joiners:wake_all() end
end

--- Waits until every item put has been marked task_done.
function Queue:join(timeout)
  check_timeout(timeout, "join")
  if self.unfinished == 0 then return true end
  if self.joiners:wait(timeout) then return true end
  return core._fail("ETIMEDOUT")
end

--- After close, put raises; getters drain what is left, then get
-- nil, message, "ECLOSED"; waiting getters and putters are woken.
function Queue:close()
  if self.closed_ then error("close of a closed queue", 2) end
  self.closed_ = true
  self.getters:wake_all(CLOSED)
  self.putters:wake_all(CLOSED)
end

function Queue:closed() return self.closed_ end

return Q
