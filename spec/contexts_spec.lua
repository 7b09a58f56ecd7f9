-- Suspension from every context: the thing no other Lua runtime does.
-- Each case checks exact results and that other tasks ran meanwhile.
local m = require "moonlet"
local testmod = require "moonlet_testmod"
local U = require "support.util"

describe("a task suspends", function()
  it("inside a table.sort comparator", function()
    local ticks, sorted
    local natives = U.native_switches(function()
      ticks, sorted = U.with_ticker(function()
        local t = { 9, 3, 7, 1, 8, 2, 6, 4, 5 }
        table.sort(t, function(a, b) m.yield(); return a < b end)
        return table.concat(t, ",")
      end)
    end)
    assert.equal("1,2,3,4,5,6,7,8,9", sorted)
    assert.is_true(ticks > 0)
    assert.is_true(natives > 0, "sort comparators are not yieldable: native path expected")
  end)

  it("inside a string.gsub callback", function()
    local ticks, s, n = U.with_ticker(function()
      return ("hello world"):gsub("%w+", function(w) m.sleep(0.001); return w:upper() end)
    end)
    assert.equal("HELLO WORLD", s)
    assert.equal(2, n)
    assert.is_true(ticks > 0)
  end)

  it("inside an iterator driven by a nested coroutine.wrap", function()
    local ticks, got = U.with_ticker(function()
      local out = {}
      for v in coroutine.wrap(function()
        for i = 1, 4 do m.yield(); coroutine.yield(i * 10) end
      end) do out[#out + 1] = v end
      return table.concat(out, " ")
    end)
    assert.equal("10 20 30 40", got)
    assert.is_true(ticks >= 4)
  end)

  it("inside a nested coroutine.resume, keeping coroutine semantics", function()
    local ticks, a, b, c, d, st = U.with_ticker(function()
      local co = coroutine.create(function(x)
        m.sleep(0.001)
        local y = coroutine.yield(x + 1)
        m.yield()
        return y * 2
      end)
      local ok1, v1 = coroutine.resume(co, 1)
      local ok2, v2 = coroutine.resume(co, 21)
      return ok1, v1, ok2, v2, coroutine.status(co)
    end)
    assert.same({ true, 2, true, 42, "dead" }, { a, b, c, d, st })
    assert.is_true(ticks > 0)
  end)

  it("inside a debug hook", function()
    local ticks, total, hooked = U.with_ticker(function()
      local calls = 0
      debug.sethook(function()
        calls = calls + 1
        m.yield()
      end, "", 1000)
      local sum = 0
      for i = 1, 20000 do sum = sum + i end
      debug.sethook()
      return sum, calls
    end)
    assert.equal(200010000, total)
    assert.is_true(hooked > 0)
    assert.is_true(ticks >= hooked)
  end)

  it("inside pcall, xpcall and the xpcall message handler", function()
    local ticks, r = U.with_ticker(function()
      local ok1, v1 = pcall(function() m.yield(); return "p" end)
      local ok2, v2 = xpcall(function() m.yield(); return "x" end, debug.traceback)
      local ok3, v3 = xpcall(function() error({ code = 7 }) end, function(e)
        m.sleep(0.001)
        return "handled " .. e.code
      end)
      return table.concat({ tostring(ok1), v1, tostring(ok2), v2, tostring(ok3), v3 }, " ")
    end)
    assert.equal("true p true x false handled 7", r)
    assert.is_true(ticks > 0)
  end)

  it("inside __index, __lt, __eq and __concat metamethods", function()
    local ticks, r = U.with_ticker(function()
      local mt = {}
      mt.__index = function(_, k) m.yield(); return k .. "!" end
      mt.__lt = function(a, b) m.yield(); return a.v < b.v end
      mt.__eq = function(a, b) m.yield(); return a.v == b.v end
      mt.__concat = function(a, b)
        m.yield()
        return (type(a) == "table" and a.v or a) .. "+" .. (type(b) == "table" and b.v or b)
      end
      local x = setmetatable({ v = 1 }, mt)
      local y = setmetatable({ v = 2 }, mt)
      local z = setmetatable({ v = 1 }, mt)
      return table.concat({ x.key, tostring(x < y), tostring(y < x),
                            tostring(x == z), tostring(x == y), x .. y, "a" .. x }, " ")
    end)
    assert.equal("key! true false true false 1+2 a+1", r)
    assert.is_true(ticks >= 7)
  end)

  it("inside __tostring called by tostring and string.format", function()
    local ticks, a, b = U.with_ticker(function()
      local obj = setmetatable({}, { __tostring = function() m.sleep(0.001); return "OBJ" end })
      return tostring(obj), string.format("[%s]", obj)
    end)
    assert.equal("OBJ", a)
    assert.equal("[OBJ]", b)
    assert.is_true(ticks > 0)
  end)

  it("inside a __close handler", function()
    local log = {}
    local ticks = U.with_ticker(function()
      do
        local _ <close> = setmetatable({}, { __close = function()
          m.sleep(0.001)
          log[#log + 1] = "closed"
        end })
        log[#log + 1] = "body"
      end
      log[#log + 1] = "after"
    end)
    assert.same({ "body", "closed", "after" }, log)
    assert.is_true(ticks > 0)
  end)

  it("inside the chunk of a required module", function()
    package.loaded["support.sleepy_mod"] = nil
    local ticks, mod = U.with_ticker(function() return require "support.sleepy_mod" end)
    assert.equal(42, mod.value)
    assert.is_true(ticks > 0)
  end)

  it("inside a load reader function", function()
    local ticks, v = U.with_ticker(function()
      local pieces = { "return ", "6 ", "* ", "7" }
      local i = 0
      local chunk = assert(load(function()
        m.yield()
        i = i + 1
        return pieces[i]
      end))
      return chunk()
    end)
    assert.equal(42, v)
    assert.is_true(ticks >= 4)
  end)

  it("inside a C function that calls back into Lua", function()
    local ticks, a, b = U.with_ticker(function()
      return testmod.call(function(x, y) m.sleep(0.001); return x + y, "c" end, 40, 2)
    end)
    assert.equal(42, a)
    assert.equal("c", b)
    assert.is_true(ticks > 0)
  end)

  it("under deep C frames whose locals survive other tasks using the stack", function()
    local results = {}
    local tasks = {}
    for i = 1, 8 do
      tasks[i] = m.spawn(function()
        local v, intact = testmod.nest(20 + i, function()
          for _ = 1, 5 do m.yield() end
          return i * 100
        end)
        results[i] = { v, intact }
      end)
    end
    for _, t in ipairs(tasks) do t:await() end
    for i = 1, 8 do assert.same({ i * 100, true }, results[i]) end
  end)

  it("natively, with a native state the loop lends and keeps (64 at most) for the next tasks", function()
    -- 100 tasks suspended natively at once, each in a sort comparator.
    local tasks = {}
    for i = 1, 100 do
      tasks[i] = m.spawn(function()
        local t = { 3, 1, 2 }
        table.sort(t, function(a, b) m.yield(); return a < b end)
        return i
      end)
    end
    for i, t in ipairs(tasks) do assert.equal(i, t:await()) end
    assert.equal(64, m.stats().pooled_native)
    -- A deep slice (well over 64 KiB of C frames, copied out and back in
    -- twice) is not kept with the state.
    local before = m.stats()
    local deep = m.spawn(function()
      return testmod.nest(600, function() m.yield(); m.yield(); return "deep" end)
    end)
    local other = m.spawn(function() for _ = 1, 3 do m.yield() end end)
    assert.same({ "deep", true }, { deep:await() })
    other:await()
    local after = m.stats()
    assert.is_true(after.bytes_copied - before.bytes_copied > 4 * 64 * 1024)
    assert.equal(64, after.pooled_native)
    assert.is_true(after.pooled_native_bytes < before.pooled_native_bytes + 64 * 1024)
  end)

  it("in sort inside gsub inside a coroutine", function()
    local ticks, r = U.with_ticker(function()
      local co = coroutine.wrap(function()
        return (("cab"):gsub("%a+", function(w)
          local chars = {}
          for ch in w:gmatch(".") do chars[#chars + 1] = ch end
          table.sort(chars, function(a, b) m.yield(); return a < b end)
          return table.concat(chars)
        end))
      end)
      return co()
    end)
    assert.equal("abc", r)
    assert.is_true(ticks > 0)
  end)
end)

describe("the main chunk", function()
  it("drives the loop when it blocks, so tasks run meanwhile", function()
    local ran = {}
    local a = m.spawn(function() ran[#ran + 1] = "a"; m.sleep(0.001); ran[#ran + 1] = "a2" end)
    m.spawn(function() ran[#ran + 1] = "b" end)
    assert.same({}, ran, "spawn never runs the task inside spawn")
    m.yield()
    assert.same({ "a", "b" }, ran)
    a:await()
    assert.same({ "a", "b", "a2" }, ran)
  end)

  it("can await a task and a future directly", function()
    local f = m.future()
    local t = m.spawn(function() m.sleep(0.001); f:set_result("from f", 2); return 1, nil, 3 end)
    local a, b = f:await()
    assert.same({ "from f", 2 }, { a, b })
    local r = table.pack(t:await())
    assert.equal(3, r.n)
    assert.same({ 1, nil, 3 }, { r[1], r[2], r[3] })
  end)

  it("blocks inside a sort comparator of its own", function()
    local other = 0
    local t = m.spawn(function() while true do other = other + 1; m.sleep(0.001) end end)
    local list = { 3, 1, 2 }
    table.sort(list, function(a, b) m.sleep(0.002); return a < b end)
    t:cancel()
    assert.same({ 1, 2, 3 }, list)
    assert.is_true(other > 0)
  end)

  it("leaves no task or handle behind", U.assert_clean)
end)
