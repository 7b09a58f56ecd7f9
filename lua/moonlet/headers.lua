-- moonlet.headers: HTTP header lists with case-insensitive lookup. The
-- fields stay in arrival order with their original spelling; repeated
-- names are all kept (like aiohttp's CIMultiDict and Go's http.Header).
--
--   h["content-type"], h:get("Content-Type")   first value, or nil
--   h:get_all("set-cookie")                    every value, in order
--   for name, value in h:each() do ... end     every field, in order
--   h:add(name, value), h:set(name, value), h:remove(name)
local core = require "moonlet.core"

local Headers = {}

local methods = {}

local lower = string.lower
local raw_find, raw_fields = core._raw_find, core._raw_fields

-- The field list. A request's headers arrive packed in one string (_raw,
-- from the HTTP parser): get() looks in it, anything else unpacks it once.
local function fields(self)
  local f = rawget(self, "_f")
  if f then return f end
  f = raw_fields(rawget(self, "_raw") or "")
  rawset(self, "_f", f)
  rawset(self, "_raw", nil)
  return f
end
Headers._fields = fields

-- The position of the first field named name (any case) from i on: the
-- lowercase form is computed once for name, and for a field only when the
-- lengths match.
local function find(f, name, i)
  local len, lname = #name, nil
  for j = i, #f, 2 do
    local k = f[j]
    if #k == len then
      if k == name then return j end
      lname = lname or lower(name)
      if lower(k) == lname then return j end
    end
  end
  return nil
end

function methods:get(name)
  local f = rawget(self, "_f")
  if not f then return raw_find(rawget(self, "_raw") or "", name) end
  local i = find(f, name, 1)
  return i and f[i + 1]
end

function methods:get_all(name)
  local f, out = fields(self), {}
  local i = find(f, name, 1)
  while i do
    out[#out + 1] = f[i + 1]
    i = find(f, name, i + 2)
  end
  return out
end

function methods:each()
  local f, i = fields(self), -1
  return function()
    i = i + 2
    if f[i] then return f[i], f[i + 1] end
  end
end

-- Names are RFC 9110 tokens; values are strings (or numbers) without CR,
-- LF or NUL, so no field can split a message or smuggle another. Names
-- and short values found good are remembered (bounded sets: handlers use
-- a few names and values such as content types again and again).
local good_names, n_good = {}, 0
local good_values, n_values = {}, 0

local function check_field(name, value)
  if not good_names[name] then
    if type(name) ~= "string" or not name:match("^[!#$%%&'*+%-.^_`|~%w]+$") then
      error("bad header name " .. string.format("%q", tostring(name)), 3)
    end
    if n_good < 256 then
      good_names[name], n_good = true, n_good + 1
    end
  end
  local t = type(value)
  if t ~= "string" then
    if t ~= "number" then
      error(("header value of '%s' must be a string or a number, not %s"):format(name, t), 3)
    end
    value = tostring(value)
  end
  if not good_values[value] then
    if value:find("[\r\n%z]") then
      error("header value of '" .. name .. "' contains CR, LF or NUL", 3)
    end
    if n_values < 256 and #value <= 64 then
      good_values[value], n_values = true, n_values + 1
    end
  end
  return value
end

function methods:add(name, value)
  value = check_field(name, value)
  local f = fields(self)
  f[#f + 1], f[#f + 2] = name, value
  return self
end

-- Removes every field named name, in place.
local function remove(f, name)
  local i = find(f, name, 1)
  if not i then return end
  local n, j = #f, i
  for k = i + 2, n, 2 do
    local fk = f[k]
    if #fk ~= #name or lower(fk) ~= lower(name) then
      f[j], f[j + 1] = fk, f[k + 1]
      j = j + 2
    end
  end
  for k = j, n do f[k] = nil end
end

function methods:remove(name)
  remove(fields(self), name)
  return self
end

function methods:set(name, value)
  value = check_field(name, value)
  local f = fields(self)
  remove(f, name)
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
    local f, lines = fields(self), {}
    for i = 1, #f, 2 do lines[#lines + 1] = f[i] .. ": " .. f[i + 1] end
    return table.concat(lines, "\n")
  end,
}

-- The metatable of header lists (the HTTP parser makes requests' own,
-- packed).
Headers._mt = mt

--- Headers from a flat list {name, value, name, value, ...} (taken over),
-- or from a table {Name = value | {values}} (sorted by name for a stable
-- order), or empty.
function Headers.new(src)
  if src ~= nil and type(src) ~= "table" then
    error("bad argument #1 to 'Headers' (table expected, got " .. type(src) .. ")", 2)
  end
  if src == nil then
    -- Room for three fields from the start: the few a response usually
    -- gets are added without the list growing (a resize each time).
    return setmetatable({ _f = { nil, nil, nil, nil, nil, nil } }, mt)
  end
  local self = setmetatable({ _f = {} }, mt)
  if getmetatable(src) == mt then
    local f = fields(src)
    for i = 1, #f do self._f[i] = f[i] end
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
