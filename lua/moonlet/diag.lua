-- Diagnostics: what every unfinished task is doing (tasks_info, dump), and
-- a dump on a signal, like Go's goroutine dump on SIGQUIT.
local core = require "moonlet.core"
local args = require "moonlet.args"

local D = {}

--- A table per unfinished task: id, name, status ("new", "ready",
-- "running", "suspended"), since (seconds in that status), switch ("fast"
-- or "native" while suspended), waiting ({kind=, timeout_in=, ...} while
-- suspended), spawned (debug mode: where and by which task), traceback.
function D.tasks_info()
  return core._tasks_info()
end

local function waiting_text(w)
  local parts = { w.kind }
  local keys = {}
  for k in pairs(w) do
    if k ~= "kind" and k ~= "timeout_in" then keys[#keys + 1] = k end
  end
  table.sort(keys)
  for _, k in ipairs(keys) do parts[#parts + 1] = ("%s=%s"):format(k, tostring(w[k])) end
  if w.timeout_in then parts[#parts + 1] = ("(%.3f s left)"):format(w.timeout_in) end
  return table.concat(parts, " ")
end

--- The dump as text: one paragraph per unfinished task.
function D.dump_text()
  local infos = core._tasks_info()
  local out = { ("moonlet: %d unfinished task%s at %s"):format(
    #infos, #infos == 1 and "" or "s", os.date("%Y-%m-%d %H:%M:%S")) }
  for _, t in ipairs(infos) do
    out[#out + 1] = ("task %d '%s': %s for %.3f s%s"):format(t.id, t.name, t.status, t.since,
      t.switch and (" (" .. t.switch .. " switch)") or "")
    if t.waiting then out[#out + 1] = "  waiting on: " .. waiting_text(t.waiting) end
    if t.spawned then out[#out + 1] = "  spawned at " .. t.spawned end
    out[#out + 1] = "  " .. t.traceback:gsub("\n", "\n  ")
  end
  return table.concat(out, "\n") .. "\n"
end

--- Writes the dump to file (an open file or stream with write; default
-- io.stderr) and returns it as text.
local function is_file(f)
  local ok, write = pcall(function() return f.write end)
  return ok and write ~= nil
end

function D.dump(file)
  local f = file or io.stderr
  args.check(is_file(f), 1, "dump", "file expected")
  local text = D.dump_text()
  f:write(text)
  if f.flush then f:flush() end
  return text
end

--- Dumps to file (default io.stderr) on each delivery of sig (default
-- "QUIT", as Go does). Never installed unless asked for. Returns the
-- watcher: close() stops it.
function D.dump_on(sig, file)
  args.check(file == nil or is_file(file), 2, "dump_on", "file expected")
  local w, err, code = args.relay("dump_on", 1, core._on_signal, sig or "QUIT",
    function() D.dump(file) end)
  if not w then return nil, err, code end
  return w
end

return D
