-- moonlet.headers: HTTP header lists with case-insensitive lookup. The
-- fields stay in arrival order with their original spelling; repeated
-- names are all kept (like aiohttp's CIMultiDict and Go's http.Header).
--
--   h["content-type"], h:get("Content-Type")   first value, or nil
--   h:get_all("set-cookie")                    every value, in order
--   for name, value in h:each() do ... end     every field, in order
--   h:add(name, value), h:set(name, value), h:remove(name)
local Headers = {}

local methods = {}

local function key(name)
  return (name:lower())
end

function methods:get(name)
  for i = 1, #self._f, 2 do
    if key(self._f[i]) == key(name) then return self._f[i + 1] end
  end
  return nil
end

function methods:get_all(name)
  local out = {}
  for i = 1, #self._f, 2 do
    if key(self._f[i]) == key(name) then out[#out + 1] = self._f[i + 1] end
  end
  return out
end

function methods:each()
  local i = -1
  return function()
    i = i + 2
    if self._f[i] then return self._f[i], self._f[i + 1] end
  end
end

-- Names are RFC 9110 tokens; values are strings (or numbers) without CR,
-- LF or NUL, so no field can split a message or smuggle another.
local function check_field(name, value)
  if type(name) ~= "string" or not name:match("^[!#$%%&'*+%-.^_`|~%w]+$") then
    error("bad header name " .. string.format("%q", tostring(name)), 3)
  end
  if type(value) ~= "string" and type(value) ~= "number" then
    error(("header value of '%s' must be a string or a number, not %s"):format(name, type(value)), 3)
  end
  value = tostring(value)
  if value:find("[\r\n%z]") then
    error("header value of '" .. name .. "' contains CR, LF or NUL", 3)
  end
  return value
end

function methods:add(name, value)
  value = check_field(name, value)
  local f = self._f
  f[#f + 1], f[#f + 2] = name, value
  return self
end

function methods:remove(name)
  local f, out = self._f, {}
  for i = 1, #f, 2 do
    if key(f[i]) ~= key(name) then out[#out + 1], out[#out + 2] = f[i], f[i + 1] end
  end
  self._f = out
  return self
end

function methods:set(name, value)
  value = check_field(name, value)
  self:remove(name)
  local f = self._f
  f[#f + 1], f[#f + 2] = name, value
  return self
end

local mt = {
  __index = function(self, k)
    local m = methods[k]
    if m then return m end
    if type(k) == "string" then return methods.get(self, k) end
  end,
  __newindex = function(self, k, v)
    if v == nil then methods.remove(self, k) else methods.set(self, k, v) end
  end,
  __tostring = function(self)
    local lines = {}
    for i = 1, #self._f, 2 do lines[#lines + 1] = self._f[i] .. ": " .. self._f[i + 1] end
    return table.concat(lines, "\n")
  end,
}

--- Headers from a flat list {name, value, name, value, ...} (taken over),
-- or from a table {Name = value | {values}} (sorted by name for a stable
-- order), or empty.
function Headers.new(src)
  if src ~= nil and type(src) ~= "table" then
    error("bad argument #1 to 'Headers' (table expected, got " .. type(src) .. ")", 2)
  end
  local self = setmetatable({ _f = {} }, mt)
  if src == nil then return self end
  if getmetatable(src) == mt then
    for i = 1, #src._f do self._f[i] = src._f[i] end
  elseif #src > 0 then
    self._f = src
  else
    local names = {}
    for k in pairs(src) do names[#names + 1] = k end
    table.sort(names)
    for _, k in ipairs(names) do
      local v = src[k]
      if type(v) == "table" then
        for _, x in ipairs(v) do self:add(k, x) end
      else
        self:add(k, v)
      end
    end
  end
  return self
end

return Headers
