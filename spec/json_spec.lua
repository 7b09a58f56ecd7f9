-- moonlet.json: what the HTTP client sends (json=) and reads (resp:json()).
local m = require "moonlet"
local J = m.json
local U = require "support.util"
teardown(U.assert_clean) -- the leak check every spec file ends with

describe("moonlet.json", function()
  it("decodes every kind of value", function()
    local v = assert(J.decode(' {"a": [1, 2.5, -3e2, true, false, null], "s": "q\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00", "o": {}} '))
    assert.same({ 1, 2.5, -300, true, false, J.null }, v.a)
    assert.equal('q"\\/\b\f\n\r\té😀', v.s)
    assert.same({}, v.o)
    assert.equal("integer", math.type(v.a[1]))
    assert.equal(J.null, J.decode("null"))
    assert.equal(0.5, J.decode("0.5"))
  end)

  it("encodes tables as arrays or objects with sorted keys, and round-trips", function()
    assert.equal('{"a":[1,2,{"b":null}],"c":"x\\ny","d":1.5,"e":false}',
      J.encode({ e = false, d = 1.5, c = "x\ny", a = { 1, 2, { b = J.null } } }))
    local v = { list = { "one", 2, 3.25 }, nested = { deep = { deeper = { true } } } }
    assert.same(v, J.decode(J.encode(v)))
  end)

  it("reports malformed text with its position, and refuses what JSON cannot hold", function()
    for text, msg in pairs({
      ["[1, 2"] = "expected ',' or ']' at line 1",
      ['{"a" 1}'] = "expected ':'",
      ["[1] x"] = "trailing text",
      [""] = "unexpected end",
      ['"abc'] = "unterminated string",
      ['"\\q"'] = "bad escape",
      ["{1: 2}"] = "expected a string key",
      [("["):rep(300)] = "nested too deep",
      ["\n\n  nope"] = "unexpected 'n' at line 3",
    }) do
      local v, err = J.decode(text)
      assert.is_nil(v)
      assert.matches(msg, err, 1, true)
    end
    assert.is_nil((J.decode(42)))
    assert.has_error(function() J.encode({ [true] = 1 }) end, "cannot encode a table with boolean keys as a JSON object")
    assert.has_error(function() J.encode(0 / 0) end)
    local cyclic = {}
    cyclic[1] = cyclic
    assert.has_error(function() J.encode(cyclic) end, "cannot encode a cyclic table as JSON")
    assert.has_error(function() J.encode(print) end, "cannot encode a function as JSON")
  end)
end)
