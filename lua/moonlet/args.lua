-- Argument checks for moonlet's Lua layer, worded like luaL_argerror's.
local A = {}

--- Raises "bad argument #n to 'fname' (msg)" in the caller's caller when
-- cond is false.
function A.check(cond, n, fname, msg)
  if not cond then
    error(("bad argument #%d to '%s' (%s)"):format(n, fname, msg), 3)
  end
end

return A
