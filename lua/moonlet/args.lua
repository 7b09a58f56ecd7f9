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
