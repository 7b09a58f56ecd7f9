-- moonlet: tasks, futures, timers, channels and cooperative I/O for Lua 5.4.
-- The C core (moonlet.core) does the scheduling; this layer adds policy.
local core = require "moonlet.core"

local M = {}
for k, v in pairs(core) do
  if type(k) == "string" and k:sub(1, 1) ~= "_" then M[k] = v end
end

M._VERSION = "moonlet " .. core._version

for _, name in ipairs({ "moonlet.combinators", "moonlet.sync", "moonlet.queue", "moonlet.net", "moonlet.process" }) do
  for k, v in pairs(require(name)) do
    if k:sub(1, 1) ~= "_" then M[k] = v end
  end
end

M.http = require "moonlet.http"
M.json = require "moonlet.json"
M.context = require "moonlet.context"
do
  local diag = require "moonlet.diag"
  M.tasks_info, M.dump, M.dump_on = diag.tasks_info, diag.dump, diag.dump_on
end

--- Debug mode (also MOONLET_DEBUG=1): tasks spawned while it is on record
-- where they were spawned, and by which task; reports and dumps show it.
-- Returns whether it is on.
function M.debug(on)
  if on == nil then return core._debug() end
  require("moonlet.args").expect(on, "boolean", 1, "debug")
  local wd = core._watchdog()
  if on and (not wd or wd > 0.1) then core._watchdog(0.1) end -- debug mode's threshold
  return core._debug(on)
end

--- gevent's monkey.patch_all: from now on require "socket" and "ssl"
-- (and, with {os = true}, os.execute and io.popen) wait cooperatively.
M.patch = require("moonlet.patch").patch

--- The blocked-loop watchdog: m.watchdog(seconds) reports on stderr,
-- once per incident, a task or callback that keeps the loop from turning
-- for longer than seconds, with where it is; m.watchdog(false) stops it;
-- m.watchdog() returns the threshold, or false. On by default at 0.5 s
-- (0.1 s in debug mode; MOONLET_WATCHDOG=0 in the environment: off).
function M.watchdog(seconds)
  if seconds == nil then return core._watchdog() end
  if seconds ~= false then require("moonlet.args").expect(seconds, "number", 1, "watchdog") end
  return require("moonlet.args").relay("watchdog", 1, core._watchdog, seconds)
end

-- Lua names a function in an error message by looking for it in
-- package.loaded, two levels deep, when the call site does not name it
-- (pcall(m.sleep, "x"), a task's body, a tail call). moonlet.core is
-- internal: it stays loaded as a proxy with no fields of its own, and the
-- public tables are loaded under their public names, so the search finds
-- 'moonlet.sleep' or 'moonlet.fs.open', never 'moonlet.core.sleep'.
package.loaded["moonlet.core"] = setmetatable({}, { __index = core, __newindex = core })
for _, k in ipairs({ "tcp", "pipe", "udp", "dns", "fs", "process", "signal" }) do
  package.loaded["moonlet." .. k] = M[k]
end

--- Runs fn(...) as the main task and drives the loop until it ends, then
-- cancels what it left running and waits for that to finish (like
-- asyncio.run). Returns fn's results or raises its error.
function M.run(fn, ...)
  if type(fn) ~= "function" then
    error("bad argument #1 to 'run' (function expected, got " .. type(fn) .. ")", 2)
  end
  if core._context() ~= "main" then
    error("moonlet.run cannot be called from inside a task or callback; use spawn", 2)
  end
  local main = core.spawn(fn, ...)
  main:set_name("main")
  local ok, deadlock = pcall(core._join, main)
  -- Leftovers, and the main task itself after a deadlock, are cancelled and
  -- given the chance to clean up. Their own failures are still reported.
  for _ = 1, 100 do
    local left = core.tasks()
    if #left == 0 then break end
    for _, t in ipairs(left) do t:cancel("moonlet.run is finishing") end
    for _, t in ipairs(left) do pcall(core._join, t) end
  end
  if not ok then error(deadlock, 0) end
  return main:result()
end

--- A channel that receives m.now() once, after s seconds (Go's time.After).
-- ch:stop() prevents the delivery if it has not happened yet.
function M.after(s)
  if type(s) ~= "number" or s ~= s then
    error("bad argument #1 to 'after' (number expected, got "
      .. (type(s) == "number" and "nan" or require("moonlet.args").typename(s)) .. ")", 2)
  end
  local ch = core.channel(1)
  local h = core.call_later(s, function() ch:try_send(core.now()) end)
  core._set_stop(ch, function() h:cancel() end)
  return ch
end

--- A channel that receives m.now() every s seconds until ch:stop() (Go's
-- time.Ticker). Like Go's, it holds one tick: ticks a slow reader misses
-- are dropped, so it never falls behind.
function M.ticker(s)
  if type(s) ~= "number" or not (s > 0) then -- luacheck: ignore 581 (NaN too)
    error("bad argument #1 to 'ticker' (positive number expected, got "
      .. (type(s) == "number" and tostring(s) or require("moonlet.args").typename(s)) .. ")", 2)
  end
  local ch = core.channel(1)
  local h = core.call_every(s, function() ch:try_send(core.now()) end)
  core._set_stop(ch, function() h:cancel() end)
  return ch
end

return M
