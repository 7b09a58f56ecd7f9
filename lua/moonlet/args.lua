-- Argument checks for moonlet's public Lua functions, worded like
-- luaL_argerror's: "bad argument #n to 'name' (msg)", raised in the
-- caller of the public function.
local A = {}

local function raise(n, fname, msg, level)
  error(("bad argument #%d to '%s' (%s)"):format(n, fname, msg), level + 1)
end

--- Raises "bad argument #n to 'fname' (msg)" when cond is false.
function A.check(cond, n, fname, msg)
  if not cond then raise(n, fname, msg, 3) end
end

-- The name luaL_typeerror would give v.
local function typename(v)
  local mt = getmetatable(v)
  local name = type(mt) == "table" and rawget(mt, "__name")
  return type(name) == "string" and name or type(v)
end
A.typename = typename

--- Raises "(want expected, got T)" unless v's type is want ("integer"
-- means a number with an integer value; a trailing "?" allows nil).
function A.expect(v, want, n, fname)
  if type(v) == want then return v end -- the common case, at once
  local optional = want:sub(-1) == "?"
  if optional then
    if v == nil then return v end
    want = want:sub(1, -2)
  end
  local ok
  if want == "integer" then ok = math.type(v) == "integer"
  else ok = type(v) == want end
  if not ok then
    raise(n, fname, want .. " expected, got " .. typename(v), 3)
  end
  return v
end

--- A port number: an integer, or a string of decimal digits (LuaSocket
-- code passes ports as strings), in 0..65535. Returns it as an integer.
function A.port(v, n, fname)
  local p = v
  if type(v) == "string" and v:match("^%d+$") then p = math.tointeger(tonumber(v)) end
  if math.type(p) ~= "integer" then
    raise(n, fname, "port number expected, got " .. typename(v), 3)
  end
  if p < 0 or p > 65535 then raise(n, fname, "port out of range 0..65535", 3) end
  return p
end

--- Calls f(v, ...) for a public function fname whose argument n is v:
-- an argument error f raises about its first argument is raised again as
-- fname's, at the caller of fname.
function A.relay(fname, n, f, v, ...)
  local r = table.pack(pcall(f, v, ...))
  if r[1] then return table.unpack(r, 2, r.n) end
  local msg = type(r[2]) == "string" and r[2]:match("^bad argument #1 to '[^']*' %((.*)%)$")
  if msg then raise(n, fname, msg, 3) end
  error(r[2], 0)
end

--- Checks an options argument: nil (then an empty table is returned) or a
-- table whose keys are all in allowed (a set of names).
function A.options(opts, n, fname, allowed)
  if opts == nil then return {} end
  if type(opts) ~= "table" then raise(n, fname, "table expected, got " .. typename(opts), 3) end
  for k in pairs(opts) do
    if not allowed[k] then raise(n, fname, "unknown option '" .. tostring(k) .. "'", 3) end
  end
  return opts
end

return A
