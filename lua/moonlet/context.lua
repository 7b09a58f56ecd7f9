-- moonlet.context: task-local values, like asyncio's contextvars or Node's
-- AsyncLocalStorage. A task sees its own context; the tasks it spawns and
-- the callbacks it schedules get a snapshot of it, taken then; nobody else
-- sees it. For request ids, deadlines, loggers.
local core = require "moonlet.core"
local check = require("moonlet.args").check

local C = {}

local function copy(t)
  local c = {}
  if t then for k, v in pairs(t) do c[k] = v end end
  return c
end

--- The value of key in the caller's context, or nil.
function C.get(key)
  check(key ~= nil, 1, "get", "key expected")
  local t = core._context_get()
  if t then return t[key] end
  return nil
end

--- Sets key to value (nil removes it) in the caller's context from now on;
-- tasks spawned and callbacks scheduled before keep what they had.
function C.set(key, value)
  check(key ~= nil, 1, "set", "key expected")
  local t = copy(core._context_get())
  t[key] = value
  core._context_replace(next(t) ~= nil and t or nil)
end

--- Runs fn(...) with the values of the table added to the caller's
-- context, and restores the context after, also when fn raises.
function C.with(values, fn, ...)
  check(type(values) == "table", 1, "with", "table expected")
  check(type(fn) == "function", 2, "with", "function expected")
  local old = core._context_get()
  local t = copy(old)
  for k, v in pairs(values) do t[k] = v end
  core._context_replace(t)
  local r = table.pack(pcall(fn, ...))
  core._context_replace(old)
  if not r[1] then error(r[2], 0) end
  return table.unpack(r, 2, r.n)
end

--- A copy of the caller's whole context (a new table).
function C.all()
  return copy(core._context_get())
end

return C
