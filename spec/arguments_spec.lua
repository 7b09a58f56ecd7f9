-- Issue 16.9: every public function checks its arguments and options and
-- raises "bad argument #n to 'name' (X expected, got Y)" or "unknown option
-- 'k'" under its public name, never an internal error, never a name of an
-- internal module. The walk calls each function as a task's body (so Lua
-- itself has to find its name) with wrongly typed arguments.
local m = require "moonlet"
local U = require "support.util"

-- Functions not walked: they take anything, or act on the whole program.
local SKIP = {
  ["moonlet.run"] = true, ["moonlet.on_error"] = true, ["moonlet.fs.tmpname"] = true,
  ["moonlet.http.close"] = true, ["moonlet.json.encode"] = true,
}

-- Argument lists no public function accepts in full, and none that could
-- touch the file system (numbers would pass as strings).
local WRONG = {
  {}, { true }, { {}, true }, { function() end, true }, { nil, {} }, { true, true, true },
}

local function public_functions()
  local out = {}
  local function walk(t, prefix, seen)
    for k, v in pairs(t) do
      if type(k) == "string" and k:sub(1, 1) ~= "_" then
        local name = prefix .. k
        if type(v) == "function" and not SKIP[name] and k:sub(1, 2) ~= "__" then
          out[#out + 1] = { name, v }
        elseif type(v) == "table" and not seen[v] and not getmetatable(v) then
          seen[v] = true
          walk(v, name .. ".", seen)
        end
      end
    end
  end
  walk(m, "moonlet.", {})
  table.sort(out, function(a, b) return a[1] < b[1] end)
  return out
end

local function acceptable(err, name)
  if type(err) == "table" and (err.kind == "timeout" or err.kind == "cancelled") then return true end
  if type(err) ~= "string" then return false end
  if err:find("moonlet.core", 1, true) or err:find("to '?'", 1, true) then return false end
  local short = name:match("[^.]+$")
  local who = err:match("^bad argument #%d+ to '([^']+)' %(.+%)$") or err:match("^bad entry #%d+ to '([^']+)'")
  return who == short or who == name
end

describe("arguments", function()
  teardown(U.assert_clean)

  it("every public function raises a clear argument error under its public name", function()
    local bad = {}
    local checked = 0
    for _, f in ipairs(public_functions()) do
      for _, args in ipairs(WRONG) do
        local t = m.spawn(f[2], table.unpack(args, 1, 3))
        local ok, err = pcall(m.wait_for, t, 0.05)
        if ok then
          -- accepted: it must have done what such arguments mean, not failed later
          for _, v in ipairs({ pcall(function() return t:result() end) }) do
            if type(v) == "table" and getmetatable(v) and getmetatable(v).__close then pcall(v.close, v) end
          end
        elseif not acceptable(err, f[1]) then
          bad[#bad + 1] = f[1] .. ": " .. tostring(err)
        end
        checked = checked + 1
      end
    end
    m.http.close() -- the walk made the default client
    assert.is_true(checked > 300)
    assert.same({}, bad)
  end)

  it("names the cases the issue lists", function()
    local http = m.http
    local cases = {
      { function() m.shield(nil) end, "bad argument #1 to 'shield' (task, future or function expected, got nil)" },
      { function() m.wait_for(nil) end, "bad argument #1 to 'wait_for' (task, future or function expected, got nil)" },
      { function() m.wait({}, 5) end, "bad argument #2 to 'wait' (table expected, got number)" },
      { function() http.Headers(5) end, "bad argument #1 to 'Headers' (table expected, got number)" },
      { function() http.unescape(5) end, "bad argument #1 to 'unescape' (string expected, got number)" },
      { function() http.parse_query(5) end, "bad argument #1 to 'parse_query' (string expected, got number)" },
      { function() http.escape(nil) end, "bad argument #1 to 'escape' (string expected, got nil)" },
      { function() http:get("http://x/") end, "bad argument #1 to 'get' (string expected, got table)" },
      { function() m.gather({}, { return_exceptions = true }) end, "bad argument #2 to 'gather' (unknown option 'return_exceptions')" },
      { function() m.queue("x") end, "bad argument #1 to 'queue' (non-negative integer expected, got string)" },
      { function() m.tcp.listen("127.0.0.1", "x") end, "bad argument #2 to 'listen' (port number expected, got string)" },
      { function() m.tcp.listen("127.0.0.1", 70000) end, "bad argument #2 to 'listen' (port out of range 0..65535)" },
    }
    for _, c in ipairs(cases) do assert.has_error(c[1], c[2]) end
    http.close()
    -- called without a name at the call site, Lua finds the public one
    local ok, err = pcall(m.sleep, "x")
    assert.is_false(ok)
    assert.equal("bad argument #1 to 'moonlet.sleep' (number expected, got string)", err)
    ok, err = pcall(m.fs.open, {})
    assert.is_false(ok)
    assert.equal("bad argument #1 to 'moonlet.fs.open' (string expected, got table)", err)
  end)

  it("refuses header values that are tables, and header fields that could split a message", function()
    local h = m.http.Headers()
    assert.has_error(function() h:set("X-A", {}) end, "header value of 'X-A' must be a string or a number, not table")
    assert.has_error(function() h:set("X-A", "a\0b") end, "header value of 'X-A' contains CR, LF or NUL")
    assert.has_error(function() h:set("X-A", "a\r\nSet-Cookie: x=1") end)
    assert.has_error(function() h:set("Transfer-Encoding ", "chunked") end)
    assert.has_error(function() h:set("X(A)", "v") end)
    h:set("X-Count", 3)
    assert.equal("3", h["x-count"])
  end)

  it("takes ports as integers or strings of digits (as LuaSocket code passes them)", function()
    local srv = assert(m.tcp.listen("127.0.0.1", "0", function(s) s:write("hi") end))
    local _, port = srv:address()
    local c = assert(m.tcp.connect("127.0.0.1", tostring(port)))
    assert.equal("hi", c:read(2))
    c:close()
    srv:close()
  end)
end)
