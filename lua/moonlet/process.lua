-- moonlet.process and moonlet.signal: child processes whose pipes are
-- streams, run() with no deadlock on large input and output, and signals
-- delivered on channels (csrc/io/process.c, csrc/io/signal.c).
local core = require "moonlet.core"

local M = { process = {}, signal = {} }

local argcheck = require("moonlet.args").check
local expect = require("moonlet.args").expect
local relay = require("moonlet.args").relay

local Process = {}
Process.__index = Process

--- Waits for the exit: exit code, and the signal's name if one killed it
-- (the code is then 128 + its number, as a shell reports it).
function Process:wait(timeout) return self._h:wait(timeout) end

--- Sends a signal (default "TERM").
function Process:kill(sig) return self._h:kill(sig) end

--- Closes the pipes and stops watching the process (it is not killed).
function Process:close()
  for _, k in ipairs({ "stdin", "stdout", "stderr" }) do
    if self[k] then self[k]:close() end
  end
  self._h:close()
end
Process.__close = Process.close

function Process:__tostring() return ("moonlet.process (pid %d)"):format(self.pid) end

--- spawn{cmd, args..., cwd=, env=, stdin=, stdout=, stderr=}: each stdio is
-- "pipe" (a stream field), "inherit" (default), "null" or a file path.
function M.process.spawn(spec)
  expect(spec, "table", 1, "spawn")
  argcheck(#spec > 0, 1, "spawn", "command expected")
  local h, stdin, stdout, stderr = core._spawn(spec, spec)
  if not h then return nil, stdin, stdout end
  return setmetatable({ pid = h:pid(), stdin = stdin, stdout = stdout,
                        stderr = stderr, _h = h }, Process)
end

M.process.environ = core._environ

-- Feeds input, drains stdout and stderr at once (so neither side can fill
-- a pipe and stall the other), and waits for the exit.
local function collect(p, input)
  local feeder = input and core.spawn(function()
    p.stdin:write(input) -- fails harmlessly if the child exits unread
    p.stdin:close()
  end)
  local errs = core.spawn(function() return p.stderr:read("a") end)
  local ok, out, e2, c2 = pcall(p.stdout.read, p.stdout, "a")
  local code, sig
  if ok and out then code, sig = p:wait() end
  local eok, err = pcall(errs.await, errs)
  if feeder then pcall(feeder.await, feeder) end
  if not ok then error(out, 0) end
  if not eok then error(err, 0) end
  if not out then return nil, e2, c2 end
  return out, err, code, sig
end

--- run(cmd_or_argv, {input=, cwd=, env=, timeout=}) -> stdout, stderr,
-- code, signal. A string runs through /bin/sh -c.
function M.process.run(cmd, opts)
  argcheck(type(cmd) == "string" or type(cmd) == "table", 1, "run", "string or table expected")
  expect(opts, "table?", 2, "run")
  opts = opts or {}
  argcheck(opts.input == nil or type(opts.input) == "string", 2, "run",
    "option 'input' must be a string")
  local spec = type(cmd) == "string" and { "/bin/sh", "-c", cmd } or table.move(cmd, 1, #cmd, 1, {})
  spec.cwd, spec.env = opts.cwd, opts.env
  spec.stdin = opts.input and "pipe" or "null"
  spec.stdout, spec.stderr = "pipe", "pipe"
  local p, err, code = M.process.spawn(spec)
  if not p then return nil, err, code end
  local job = core.spawn(collect, p, opts.input)
  local ok, out, e, c, sig = pcall(function()
    if not opts.timeout then return job:await() end
    local done = require("moonlet.combinators").wait({ job }, { timeout = opts.timeout })
    if #done == 0 then return core._fail("ETIMEDOUT", "the process ran too long") end
    return job:await()
  end)
  if not job:done() then
    p:kill("KILL")
    job:cancel()
    pcall(job.await, job)
  end
  p:close()
  if not ok then error(out, 0) end
  if out == nil then return nil, e, c end
  return out, e, c, sig
end

--- Waits for one delivery of the signal; returns its name.
function M.signal.wait(sig, timeout)
  local w, err, code = relay("wait", 1, core._signal_watch, sig)
  if not w then return nil, err, code end
  local ok, name, e, c = pcall(w.wait, w, timeout)
  w:close()
  if not ok then error(name, 0) end
  return name, e, c
end

--- A channel that receives the name of each listed signal as it arrives
-- (deliveries a slow reader misses beyond 16 are dropped, as in Go's
-- signal.Notify); ch:stop() stops watching and closes it.
function M.signal.channel(...)
  local sigs = table.pack(...)
  argcheck(sigs.n > 0, 1, "channel", "signal name expected")
  local ch = core.channel(16)
  local watchers = {}
  local function stop()
    for _, w in ipairs(watchers) do w:close() end
    if not ch:closed() then ch:close() end
  end
  do -- the watchers made so far are closed if one cannot be made
    local _ <close> = setmetatable({}, { __close = function(_, err) if err then stop() end end })
    for i = 1, sigs.n do
      local w, err = relay("channel", i, core._signal_watch, sigs[i])
      if not w then error(err, 2) end
      watchers[i] = w
    end
  end
  -- Each watcher feeds the channel until stop closes it.
  for i, w in ipairs(watchers) do
    core.spawn(function()
      while true do
        local ok, name = pcall(w.wait, w)
        if not ok or not name or ch:closed() then break end
        ch:try_send(name)
      end
    end):set_name("signal " .. tostring(sigs[i]))
  end
  core._set_stop(ch, stop)
  return ch
end

return M
