-- moonlet.context: task-local values that spawned tasks and scheduled
-- callbacks inherit as a snapshot, and nobody else sees; debug mode's
-- spawn sites in error reports.
local m = require "moonlet"
local U = require "support.util"
local ctx = m.context

teardown(U.assert_clean)

describe("moonlet.context", function()
  after_each(function() ctx.set("k", nil); ctx.set("id", nil) end)

  it("a task sees what it set; the main chunk does not see a task's", function()
    assert.is_nil(ctx.get("k"))
    local t = m.spawn(function()
      ctx.set("k", "task")
      m.yield()
      return ctx.get("k")
    end)
    assert.equal("task", t:await())
    assert.is_nil(ctx.get("k"))
  end)

  it("a spawned task inherits a snapshot; later changes stay on their side", function()
    ctx.set("id", 1)
    local seen = m.channel(10)
    local child = m.spawn(function()
      seen:send(ctx.get("id"))
      m.sleep(0.01)
      seen:send(ctx.get("id")) -- the parent changed its own meanwhile
      ctx.set("id", "child's")
      seen:send(ctx.get("id"))
      local grandchild = m.spawn(function() return ctx.get("id") end)
      return grandchild:await()
    end)
    m.yield()
    ctx.set("id", 2)
    assert.equal("child's", child:await())
    assert.same({ 1, 1, "child's" }, { seen:recv(), seen:recv(), (seen:recv()) })
    assert.equal(2, ctx.get("id"))
  end)

  it("callbacks run with the context of the moment they were scheduled", function()
    ctx.set("id", "soon")
    local got, seen = m.channel(3), {}
    m.call_soon(function() got:try_send({ "call_soon", ctx.get("id") }) end)
    ctx.set("id", "later")
    m.call_later(0.01, function() got:try_send({ "call_later", ctx.get("id") }) end)
    ctx.set("id", "done")
    local f = m.future()
    f:on_done(function() got:try_send({ "on_done", ctx.get("id") }) end)
    ctx.set("id", "after")
    f:set_result(true)
    for _ = 1, 3 do
      local v = got:recv()
      seen[v[1]] = v[2]
    end
    assert.same({ call_soon = "soon", call_later = "later", on_done = "done" }, seen)
    -- A callback's own set lasts for that callback only.
    m.call_soon(function() ctx.set("id", "in callback") end)
    m.call_soon(function() got:try_send(ctx.get("id") or "nothing") end)
    ctx.set("id", nil)
    assert.equal("after", (function() m.yield(); return got:recv() end)())
  end)

  it("values sent through a channel do not carry the sender's context", function()
    local ch = m.channel()
    local receiver = m.spawn(function()
      ctx.set("id", "receiver")
      local v = ch:recv()
      return v, ctx.get("id")
    end)
    m.spawn(function()
      ctx.set("id", "sender")
      ch:send("value")
    end)
    assert.same({ "value", "receiver" }, { receiver:await() })
  end)

  it("combinators' tasks inherit it: gather, scope, wait_for, timeout", function()
    ctx.set("id", "request-7")
    local function id() return ctx.get("id") end
    local r = m.gather({ id, id })
    assert.same({ "request-7", "request-7", n = 2 }, r)
    assert.equal("request-7", m.scope(function(s) return s:spawn(id):await() end))
    assert.equal("request-7", m.wait_for(m.spawn(id), 1))
    assert.equal("request-7", m.timeout(1, id))
  end)

  it("with() adds values for a call and restores them, also when it raises or blocks", function()
    ctx.set("id", "outer")
    local a, b = ctx.with({ user = "ada" }, function()
      m.sleep(0.005)
      return ctx.get("user"), ctx.get("id")
    end)
    assert.same({ "ada", "outer" }, { a, b })
    assert.is_nil(ctx.get("user"))
    local ok, err = pcall(ctx.with, { user = "bob" }, function() error("inside", 0) end)
    assert.same({ false, "inside" }, { ok, err })
    assert.is_nil(ctx.get("user"))
    assert.same({ id = "outer" }, ctx.all())
    local copy = ctx.all()
    copy.id = "changed" -- all() is a copy
    assert.equal("outer", ctx.get("id"))
  end)

  it("raises on misuse", function()
    assert.has_error(function() ctx.get(nil) end, "bad argument #1 to 'get' (key expected)")
    assert.has_error(function() ctx.set(nil, 1) end, "bad argument #1 to 'set' (key expected)")
    assert.has_error(function() ctx.with(1, print) end, "bad argument #1 to 'with' (table expected)")
    assert.has_error(function() ctx.with({}, 1) end, "bad argument #2 to 'with' (function expected)")
  end)
end)

describe("debug mode", function()
  it("an unretrieved failure is reported with where the task was spawned", function()
    local reports = {}
    local prev = m.on_error(function(_, _, _, where) reports[#reports + 1] = where end)
    local was = m.debug()
    m.debug(true)
    local line = debug.getinfo(1, "l").currentline + 2
    local t = m.spawn(function()
      m.spawn(function() error("boom") end):set_name("worker")
    end):set_name("parent")
    t:await()
    m.debug(was)
    m.sleep(0.01)
    collectgarbage()
    collectgarbage()
    m.on_error(prev)
    assert.equal(1, #reports)
    assert.matches("task 'worker' failed and nobody awaited it %(spawned at .*context_spec.lua:"
      .. line .. " in task 'parent'%)", reports[1])
  end)
end)
