-- moonlet.json: JSON for the HTTP client (request json=, resp:json()).
--   encode(v): tables with keys 1..n are arrays, other tables objects with
--     string keys (sorted, for a stable text); json.null stands for null.
--   decode(s): objects and arrays as tables, null as json.null; returns
--     nil, message on malformed text.
local J = {}

J.null = setmetatable({}, { __tostring = function() return "null" end })

local escapes = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
                  ["\b"] = "\\b", ["\f"] = "\\f" }

local function encode(v, seen)
  local t = type(v)
  if v == nil or v == J.null then return "null" end
  if t == "boolean" then return tostring(v) end
  if t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then error("cannot encode " .. v .. " as JSON", 0) end
    return math.type(v) == "integer" and tostring(v) or ("%.17g"):format(v)
  end
  if t == "string" then
    return '"' .. v:gsub('[%c"\\]', function(c) return escapes[c] or ("\\u%04x"):format(c:byte()) end) .. '"'
  end
  if t ~= "table" then error("cannot encode a " .. t .. " as JSON", 0) end
  if seen[v] then error("cannot encode a cyclic table as JSON", 0) end
  seen[v] = true
  local out, n, count = {}, #v, 0
  for _ in pairs(v) do count = count + 1 end
  if count == n and (n > 0 or next(v) == nil) then
    for i = 1, n do out[i] = encode(v[i], seen) end
    seen[v] = nil
    return "[" .. table.concat(out, ",") .. "]"
  end
  local keys = {}
  for k in pairs(v) do
    if type(k) ~= "string" then error("cannot encode a table with " .. type(k) .. " keys as a JSON object", 0) end
    keys[#keys + 1] = k
  end
  table.sort(keys)
  for i, k in ipairs(keys) do out[i] = encode(k, seen) .. ":" .. encode(v[k], seen) end
  seen[v] = nil
  return "{" .. table.concat(out, ",") .. "}"
end

--- JSON text for v; raises on values JSON cannot hold.
function J.encode(v)
  return encode(v, {})
end

-- Decoding: a recursive descent over the string, position by position.

local function fail(s, i, what)
  local line = select(2, s:sub(1, i):gsub("\n", "")) + 1
  error({ json = ("%s at line %d (byte %d)"):format(what, line, i) }, 0)
end

local function skip(s, i)
  return s:find("[^ \t\r\n]", i) or #s + 1
end

local function utf8_of(cp)
  return utf8.char(cp)
end

local value

local function str(s, i) -- s:sub(i, i) == '"'
  local out, j = {}, i + 1
  while true do
    local k = s:find('["\\%c]', j)
    if not k then fail(s, i, "unterminated string") end
    out[#out + 1] = s:sub(j, k - 1)
    local c = s:sub(k, k)
    if c == '"' then return table.concat(out), k + 1 end
    if c ~= "\\" then fail(s, k, "control character in string") end
    local e = s:sub(k + 1, k + 1)
    if e == "u" then
      local hex = s:match("^%x%x%x%x", k + 2)
      if not hex then fail(s, k, "bad \\u escape") end
      local cp, nxt = tonumber(hex, 16), k + 6
      if cp >= 0xD800 and cp <= 0xDBFF then -- a surrogate pair
        local lo = s:match("^\\u(%x%x%x%x)", nxt)
        lo = lo and tonumber(lo, 16)
        if lo and lo >= 0xDC00 and lo <= 0xDFFF then
          cp, nxt = 0x10000 + (cp - 0xD800) * 0x400 + (lo - 0xDC00), nxt + 6
        end
      end
      out[#out + 1] = utf8_of(cp)
      j = nxt
    else
      local map = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }
      if not map[e] then fail(s, k, "bad escape") end
      out[#out + 1] = map[e]
      j = k + 2
    end
  end
end

local function list(s, i, depth)
  local out, n = {}, 0
  i = skip(s, i + 1)
  if s:sub(i, i) == "]" then return out, i + 1 end
  while true do
    local v
    v, i = value(s, i, depth)
    n = n + 1
    out[n] = v
    i = skip(s, i)
    local c = s:sub(i, i)
    if c == "]" then return out, i + 1 end
    if c ~= "," then fail(s, i, "expected ',' or ']'") end
    i = skip(s, i + 1)
  end
end

local function object(s, i, depth)
  local out = {}
  i = skip(s, i + 1)
  if s:sub(i, i) == "}" then return out, i + 1 end
  while true do
    if s:sub(i, i) ~= '"' then fail(s, i, "expected a string key") end
    local k, v
    k, i = str(s, i)
    i = skip(s, i)
    if s:sub(i, i) ~= ":" then fail(s, i, "expected ':'") end
    v, i = value(s, skip(s, i + 1), depth)
    out[k] = v
    i = skip(s, i)
    local c = s:sub(i, i)
    if c == "}" then return out, i + 1 end
    if c ~= "," then fail(s, i, "expected ',' or '}'") end
    i = skip(s, i + 1)
  end
end

function value(s, i, depth)
  if depth > 200 then fail(s, i, "nested too deep") end
  local c = s:sub(i, i)
  if c == "{" then return object(s, i, depth + 1) end
  if c == "[" then return list(s, i, depth + 1) end
  if c == '"' then return str(s, i) end
  if s:find("^true", i) then return true, i + 4 end
  if s:find("^false", i) then return false, i + 5 end
  if s:find("^null", i) then return J.null, i + 4 end
  local num = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", i)
  if num and num ~= "" and num ~= "-" then
    local v = math.tointeger(tonumber(num)) or tonumber(num)
    if v then return v, i + #num end
  end
  fail(s, i, c == "" and "unexpected end" or ("unexpected '" .. c .. "'"))
end

--- The value of JSON text s, or nil, message.
function J.decode(s)
  if type(s) ~= "string" then return nil, "JSON text must be a string" end
  local ok, v, i = pcall(value, s, skip(s, 1), 0)
  if not ok then
    if type(v) == "table" and v.json then return nil, v.json end
    error(v, 0)
  end
  if skip(s, i) <= #s then return nil, ("trailing text at byte %d"):format(skip(s, i)) end
  return v
end

return J
