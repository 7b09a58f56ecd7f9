-- Header lists (m.http.Headers, csrc/http/headers.c) on their own: the
-- server's and the client's use of them is in http_spec.
local m = require "moonlet"
local Headers = m.http.Headers

local function fields(h)
  local out = {}
  for name, value in h:each() do out[#out + 1] = name .. "=" .. value end
  return table.concat(out, ",")
end

describe("header lists", function()
  it("keeps fields in order and spelling, finds them in any case", function()
    local h = Headers()
    h:add("X-A", "1"):add("Content-Type", "text/plain"):add("x-a", 2)
    assert.equal("X-A=1,Content-Type=text/plain,x-a=2", fields(h))
    assert.equal("1", h["X-A"])
    assert.equal("1", h:get("x-a"))
    assert.equal("text/plain", h["CONTENT-TYPE"])
    assert.same({ "1", "2" }, h:get_all("X-a"))
    assert.same({}, h:get_all("missing"))
    assert.is_nil(h.missing)
    assert.is_nil(h[1])
    assert.equal("X-A: 1\nContent-Type: text/plain\nx-a: 2", tostring(h))
    assert.equal(3, #h)
    assert.equal(0, #Headers())
  end)

  it("sets over every field of a name, removes them all, and indexes like a table", function()
    local h = Headers { "A", "1", "B", "2", "a", "3", "C", "4" }
    h:set("A", "new")
    assert.equal("B=2,C=4,A=new", fields(h))
    h.c = nil
    h["X-Y"] = "z"
    assert.equal("B=2,A=new,X-Y=z", fields(h))
    assert.equal(h, h:remove("b"))
    assert.equal(h, h:remove("not there"))
    assert.equal("A=new,X-Y=z", fields(h))
    local seen = {}
    for name, value in pairs(h) do seen[#seen + 1] = name .. value end
    assert.same({ "Anew", "X-Yz" }, seen)
  end)

  it("grows past its first room and keeps every byte", function()
    local h, want = Headers(), {}
    for i = 1, 300 do
      local value = ("v%d"):format(i):rep(i % 7 + 1)
      h:add("X-" .. i, value)
      want[#want + 1] = "X-" .. i .. "=" .. value
    end
    h:add("Big", ("b"):rep(100000))
    assert.equal(table.concat(want, ",") .. ",Big=" .. ("b"):rep(100000), fields(h))
    for i = 1, 300, 2 do h:remove("x-" .. i) end
    assert.equal(150, select(2, fields(h):gsub("X%-", "")))
    assert.equal(100000, #h.big)
  end)

  it("copies: a copy and its source change apart", function()
    local a = Headers { ["X-A"] = "1" }
    local b = Headers(a)
    b:set("X-A", "2")
    b:add("X-B", "3")
    a:add("X-C", "4")
    assert.equal("X-A=1,X-C=4", fields(a))
    assert.equal("X-A=2,X-B=3", fields(b))
  end)

  it("takes a {Name = value or {values}} table in name order", function()
    local h = Headers { Zed = "z", ["Set-Cookie"] = { "a=1", "b=2" }, Age = 5 }
    assert.equal("Age=5,Set-Cookie=a=1,Set-Cookie=b=2,Zed=z", fields(h))
    assert.equal("", fields(Headers {}))
    assert.equal("", fields(Headers()))
  end)

  it("refuses names that are not tokens and values that could split a message", function()
    local h = Headers()
    for _, name in ipairs({ "", "Bad Name", "X:Y", "X\r\nY", "é", 5, true }) do
      assert.has_error(function() h:set(name, "v") end)
      assert.has_error(function() h:add(name, "v") end)
      assert.has_error(function() h[name] = "v" end)
    end
    local ok, err = pcall(h.set, h, "Bad Name", "v")
    assert.is_false(ok)
    assert.matches('bad header name "Bad Name"', err, 1, true)
    ok, err = pcall(h.set, h, "X\0Y", "v")
    assert.is_false(ok)
    assert.matches('bad header name "X\\0Y"', err, 1, true)
    for _, value in ipairs({ "a\rb", "a\nb", "a\0b" }) do
      assert.has_error(function() h:set("X-A", value) end, "header value of 'X-A' contains CR, LF or NUL")
    end
    assert.has_error(function() h:set("X-A") end, "header value of 'X-A' must be a string or a number, not nil")
    assert.has_error(function() Headers { "X-A", "ok", "X-B", "a\nb" } end, "header value of 'X-B' contains CR, LF or NUL")
    assert.has_error(function() Headers { "Bad Name", "v" } end)
    assert.has_error(function() Headers { [{}] = "v" } end)
    assert.has_error(function() Headers { X = { "ok", {} } } end, "header value of 'X' must be a string or a number, not table")
    assert.equal("", fields(h)) -- nothing was added by a refused call
  end)

  it("raises clearly for wrong types and methods called on something else", function()
    assert.has_error(function() Headers(5) end, "bad argument #1 to 'Headers' (table expected, got number)")
    assert.has_error(function() Headers("x") end, "bad argument #1 to 'Headers' (table expected, got string)")
    local h = Headers { A = "1" }
    local ok, err = pcall(h.get, {}, "a")
    assert.is_false(ok)
    assert.matches("header list expected, got table", err, 1, true)
    assert.is_false((pcall(h.get, h, {})))
    assert.is_false((pcall(h.each, io.stdout)))
    assert.equal("1", h:get("A"))
  end)

  it("survives changes while being walked and the collector running between steps", function()
    local h = Headers { "A", "1", "B", "2", "C", "3" }
    local seen = {}
    for name in h:each() do
      seen[#seen + 1] = name
      for i = 1, 50 do h:add("X" .. i, ("x"):rep(i)) end
      h:remove("x1")
      collectgarbage()
      if #seen > 500 then break end
    end
    assert.same({ "A", "B", "C" }, { seen[1], seen[2], seen[3] })
    assert.is_true(#seen > 3)
  end)
end)
