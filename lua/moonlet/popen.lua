-- os.execute and io.popen through m.process, for m.patch{os = true}: the
-- command runs in /bin/sh as with the C library, but the calling task
-- waits for it (and for its pipe) while other tasks run. Results are
-- Lua's own: true | nil, "exit" | "signal", code.
local process = require("moonlet").process
local args = require "moonlet.args"

local P = {}

-- Lua's result for an exit code, or 128 + n with a signal's name.
local function exec_result(code, sig)
  if sig then return nil, "signal", code - 128 end
  if code == 0 then return true, "exit", 0 end
  return nil, "exit", code
end

--- os.execute([command])
function P.execute(cmd)
  if cmd == nil then return true end -- a shell is available
  args.expect(cmd, "string", 1, "execute")
  local p, err, code = process.spawn { "/bin/sh", "-c", cmd }
  if not p then return nil, err, code end
  local ok, c, sig = pcall(p.wait, p)
  if not ok then -- cancelled: the command does not outlive its caller
    p:kill("KILL")
    p:close()
    error(c, 0)
  end
  p:close()
  return exec_result(c, sig)
end

-- The file-like object io.popen returns.
local Pipe = { __name = "moonlet.popen" }
Pipe.__index = Pipe

local function live(self)
  if not self._p then error("attempt to use a closed file", 3) end
  return self._p
end

--- f:read(...): Lua's formats ("l", "L", "n", "a", a count; "*l" too).
function Pipe:read(...)
  local p = live(self)
  local stream = p.stdout or error("file not opened for reading", 2)
  local n = select("#", ...)
  if n == 0 then return stream:read("l") end
  local out = {}
  for i = 1, n do
    local fmt = select(i, ...)
    if type(fmt) == "string" then fmt = fmt:gsub("^%*", "") end
    out[i] = stream:read(fmt)
    if out[i] == nil then return table.unpack(out, 1, i) end
  end
  return table.unpack(out, 1, n)
end

function Pipe:lines(...)
  local fmts = table.pack(...)
  return function() return self:read(table.unpack(fmts, 1, fmts.n)) end
end

--- f:write(...): returns f, as Lua's does.
function Pipe:write(...)
  local p = live(self)
  local stream = p.stdin or error("file not opened for writing", 2)
  for i = 1, select("#", ...) do
    local ok, err, code = stream:write(tostring((select(i, ...))))
    if not ok then return nil, err, code end
  end
  return self
end

function Pipe:flush() live(self) return self end
function Pipe:setvbuf() live(self) return true end

--- f:close(): closes the pipe, waits for the command, and returns its
-- status as os.execute does.
function Pipe:close()
  local p = live(self)
  self._p = nil
  -- As pclose: the command reads the end of its input, and a write to
  -- output nobody reads any more ends it (SIGPIPE) instead of blocking.
  if p.stdin then p.stdin:close() end
  if p.stdout then p.stdout:close() end
  local code, sig = p:wait()
  p:close()
  return exec_result(code, sig)
end
Pipe.__close = function(self) if self._p then self:close() end end
Pipe.__tostring = function(self)
  return self._p and ("file (moonlet.popen, pid %d)"):format(self._p.pid) or "file (closed)"
end

--- io.popen(command[, mode])
function P.popen(cmd, mode)
  args.expect(cmd, "string", 1, "popen")
  mode = mode or "r"
  args.check(mode == "r" or mode == "w", 2, "popen", "invalid mode")
  local p, err, code = process.spawn { "/bin/sh", "-c", cmd,
    stdout = mode == "r" and "pipe" or "inherit", stdin = mode == "w" and "pipe" or "inherit" }
  if not p then return nil, err, code end
  return setmetatable({ _p = p }, Pipe)
end

return P
