-- Combinators and structured concurrency over futures, channels and
-- select: gather, wait, wait_for, timeout, shield, as_completed, scope.
-- Policy lives here; the C core only provides the primitives.
local core = require "moonlet.core"
local args = require "moonlet.args"

local C = {}

local function is_future(x)
  local mt = getmetatable(x)
  local name = type(mt) == "table" and rawget(mt, "__name")
  return type(name) == "string" and (name:find("^moonlet%.task") or name:find("^moonlet%.future")) ~= nil
end

-- A future for each entry of list: tasks and futures as they are, functions
-- spawned as tasks.
local function futures_of(list, fname)
  if type(list) ~= "table" then
    error(("bad argument #1 to '%s' (table expected, got %s)"):format(fname, args.typename(list)), 3)
  end
  local futs = {}
  for i = 1, #list do
    local x = list[i]
    if type(x) == "function" then
      futs[i] = core.spawn(x)
    elseif is_future(x) then
      futs[i] = x
    else
      error(("bad entry #%d to '%s' (task, future or function expected, got %s)")
        :format(i, fname, args.typename(x)), 3)
    end
  end
  return futs
end

-- The future for one awaitable argument (task, future or function).
local function future_of(aw, fname)
  if type(aw) == "function" then return core.spawn(aw) end
  if is_future(aw) then return aw end
  error(("bad argument #1 to '%s' (task, future or function expected, got %s)")
    :format(fname, args.typename(aw)), 3)
end

-- Gives the error about to be raised the other errors that came with it,
-- as err.others, when it is a table without such a field.
local function attach_others(err, others)
  if #others > 0 and type(err) == "table" and rawget(err, "others") == nil then
    rawset(err, "others", others)
  end
end

-- The errors of the futures that failed besides the one raised, marked as
-- seen (the caller raises them with it); Cancelled endings are not
-- failures here.
local function collect_others(err, futs, raised)
  local others = {}
  for _, f in ipairs(futs) do
    if f ~= raised and f:status() == "failed" then others[#others + 1] = f:error() end
  end
  attach_others(err, others)
end

-- Calls back with each future's index as it completes, through a channel
-- with room for all of them. Returns the channel and the handles.
local function completions(futs)
  local ch = core.channel(math.max(#futs, 1))
  local handles = {}
  for i, f in ipairs(futs) do
    handles[i] = f:on_done(function() ch:try_send(i) end)
  end
  return ch, handles
end

local function drop(handles)
  for _, h in ipairs(handles) do h:cancel() end
end

-- Waits for f to finish, whatever it does, with the current task's
-- cancellation held back: cleanup we started must end before we go on.
local function join_shielded(f)
  local depth = core._shield(1)
  pcall(core._join, f)
  if depth then core._shield(-1) end
end

local function check_seconds(s, n, fname)
  if s ~= nil and (type(s) ~= "number" or s ~= s or s < 0) then
    error(("bad argument #%d to '%s' (non-negative number expected, got %s)")
      :format(n, fname, type(s) == "number" and s ~= s and "nan" or args.typename(s)), 3)
  end
end

local function timeout_error(s)
  return core._error("timeout", ("timed out after %g s"):format(s))
end

--- Results of every entry, in list order (the first value each returned).
-- The first failure cancels the rest, waits for them and is raised, with
-- the errors of the others that failed attached (err.others). With
-- opts.return_errors the error values stand in place instead, and
-- results.failed[i] is true for each entry that failed.
function C.gather(list, opts)
  local futs = futures_of(list, "gather")
  opts = args.options(opts, 2, "gather", { return_errors = true })
  local return_errors = opts.return_errors
  local results = { n = #futs }
  if return_errors then results.failed = {} end
  if #futs == 0 then return results end
  local ch, handles = completions(futs)
  local failed
  local ok, err = pcall(function()
    for _ = 1, #futs do
      local i = ch:recv()
      local f = futs[i]
      if f:status() == "done" then
        results[i] = (f:result())
      elseif return_errors then
        results[i] = f:error()
        results.failed[i] = true
      else
        failed = f
        return
      end
    end
  end)
  drop(handles)
  if ok and not failed then return results end
  -- A failure, or our own cancellation: cancel what still runs, wait for
  -- its cleanup, then raise.
  for _, f in ipairs(futs) do f:cancel() end
  for _, f in ipairs(futs) do join_shielded(f) end
  if not ok then
    collect_others(err, futs, nil)
    error(err, 0)
  end
  err = failed:error()
  collect_others(err, futs, failed)
  error(err, 0)
end

--- Waits until all, the first, or the first failing entry is done, or the
-- timeout passes. Returns two lists of the same objects: done and pending.
-- Nothing is cancelled.
function C.wait(list, opts)
  local futs = futures_of(list, "wait")
  opts = args.options(opts, 2, "wait", { timeout = true, return_when = true })
  local when = opts.return_when or "all"
  if when ~= "all" and when ~= "first" and when ~= "first_error" then
    error("bad option 'return_when' to 'wait' (\"all\", \"first\" or \"first_error\" expected)", 2)
  end
  check_seconds(opts.timeout, 2, "wait")
  local deadline = opts.timeout and core.now() + opts.timeout
  local ch, handles = completions(futs)
  local ndone = 0
  local ok, err = pcall(function()
    while ndone < #futs do
      local remaining = deadline and math.max(0, deadline - core.now())
      local i, idx = core.select({ { ch, "recv" } }, remaining and { timeout = remaining })
      if i == nil then return end
      ndone = ndone + 1
      if when == "first" then return end
      if when == "first_error" and futs[idx]:status() ~= "done" then return end
    end
  end)
  drop(handles)
  if not ok then error(err, 0) end
  local done, pending = {}, {}
  for _, f in ipairs(futs) do
    local into = f:done() and done or pending
    into[#into + 1] = f
  end
  return done, pending
end

--- Awaits aw (task, future, or function to spawn) for at most s seconds.
-- On timeout it cancels aw, waits until its cleanup has finished, and
-- raises a Timeout error. If the caller is cancelled, aw is cancelled too.
function C.wait_for(aw, s)
  local f = future_of(aw, "wait_for")
  check_seconds(s, 2, "wait_for")
  if s == nil then return f:await() end
  local ch, handles = completions({ f })
  local ok, i = pcall(core.select, { { ch, "recv" } }, { timeout = s })
  drop(handles)
  if not ok or i == nil then
    f:cancel(not ok and "the waiter was cancelled" or "wait_for timed out")
    join_shielded(f)
    if not ok then error(i, 0) end
    error(timeout_error(s), 2)
  end
  return f:await()
end

--- Runs fn(...) as a child task with a deadline of s seconds: its results,
-- or, past the deadline, it is cancelled (cleanup included) and a Timeout
-- error is raised.
function C.timeout(s, fn, ...)
  check_seconds(s, 1, "timeout")
  if type(fn) ~= "function" then
    error(("bad argument #2 to 'timeout' (function expected, got %s)"):format(type(fn)), 2)
  end
  return C.wait_for(core.spawn(fn, ...), s)
end

--- Awaits aw with the current task's cancellation held back: aw is never
-- cancelled through this wait, and shield returns aw's results (or raises
-- its error). If the task was cancelled meanwhile, it gets Cancelled at its
-- next blocking call (as after a shielded scope in Trio), so cleanup code
-- can block under shield.
function C.shield(aw)
  local f = future_of(aw, "shield")
  join_shielded(f)
  return f:result()
end

--- Iterates over the entries as they complete, earliest first. With
-- opts.timeout, raises a Timeout error when the time is up before all did.
function C.as_completed(list, opts)
  local futs = futures_of(list, "as_completed")
  opts = args.options(opts, 2, "as_completed", { timeout = true })
  check_seconds(opts.timeout, 2, "as_completed")
  local deadline = opts.timeout and core.now() + opts.timeout
  local ch, handles = completions(futs)
  local given = 0
  return function()
    if given >= #futs then return nil end
    local remaining = deadline and math.max(0, deadline - core.now())
    local i, idx = core.select({ { ch, "recv" } }, remaining and { timeout = remaining })
    if i == nil then
      drop(handles)
      error(timeout_error(opts.timeout), 2)
    end
    given = given + 1
    if given == #futs then drop(handles) end
    return futs[idx]
  end
end

-- A nursery (Trio) or task group (asyncio): children spawned through it
-- are all finished when scope returns.
local Scope = {}
Scope.__index = Scope

function Scope:spawn(fn, ...)
  if self.closed then error("this scope has finished; spawn in a live scope", 2) end
  if type(fn) ~= "function" then
    error(("bad argument #1 to 'spawn' (function expected, got %s)"):format(type(fn)), 2)
  end
  local t = core.spawn(fn, ...)
  self.live[t] = true
  local done = self.done
  t:on_done(function() done:try_send(t) end)
  return t
end

function Scope:cancel(msg)
  for t in pairs(self.live) do t:cancel(msg or "scope cancelled") end
end

--- Runs fn(scope, ...) and waits for every task spawned with scope:spawn.
-- The first child failure cancels the others, waits for them and is raised;
-- an error of fn itself cancels the children the same way.
function C.scope(fn, ...)
  if type(fn) ~= "function" then
    error(("bad argument #1 to 'scope' (function expected, got %s)"):format(type(fn)), 2)
  end
  local s = setmetatable({ live = {}, others = {}, done = core.channel(math.maxinteger >> 33) }, Scope)
  local res = table.pack(pcall(fn, s, ...))
  local failure = not res[1] and { res[2] } or nil
  if failure then s:cancel("the scope failed") end
  local shielded = false
  while next(s.live) do
    local ok, t = pcall(s.done.recv, s.done)
    if not ok then
      -- The scope's task was cancelled: pass it on, and wait for the
      -- children's cleanup without being interrupted again.
      failure = failure or { t }
      s:cancel("the scope was cancelled")
      if not shielded then shielded = core._shield(1) ~= nil end
    else
      s.live[t] = nil
      local st = t:status()
      local err = t:error() -- retrieved here either way
      if st == "failed" and failure then
        s.others[#s.others + 1] = err
      elseif st == "failed" then
        failure = { err }
        s:cancel("a sibling task failed")
      end
    end
  end
  if shielded then core._shield(-1) end
  s.closed = true
  if failure then
    attach_others(failure[1], s.others)
    error(failure[1], 0)
  end
  return table.unpack(res, 2, res.n)
end

return C
