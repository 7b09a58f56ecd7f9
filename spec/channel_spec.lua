-- Channels: rendezvous, buffering, close, FIFO waiters, cancellation that
-- loses and duplicates nothing, nil values, misuse.
local m = require "moonlet"
local U = require "support.util"

describe("channels", function()
  it("unbuffered: send returns only once a receiver took the value", function()
    local ch = m.channel()
    local log = {}
    local sender = m.spawn(function()
      log[#log + 1] = "send"
      ch:send("v")
      log[#log + 1] = "sent"
    end)
    m.yield()
    m.yield()
    assert.same({ "send" }, log)
    local v, ok = ch:recv()
    assert.equal("v", v)
    assert.is_true(ok)
    sender:await()
    assert.same({ "send", "sent" }, log)
  end)

  it("buffered: sends fill the buffer without blocking, then block", function()
    local ch = m.channel(2)
    assert.equal(2, ch:cap())
    local progress = 0
    local t = m.spawn(function()
      for i = 1, 3 do ch:send(i); progress = i end
    end)
    m.yield()
    assert.equal(2, progress)
    assert.equal(2, #ch)
    assert.same({ 1, true }, { ch:recv() })
    t:await()
    assert.equal(3, progress)
    assert.same({ 2, true }, { ch:recv() })
    assert.same({ 3, true }, { ch:recv() })
    assert.equal(0, #ch)
  end)

  it("buffered: keep order across the ring's wrap, at small and large capacities", function()
    -- up to 1024 the ring lives in the channel's user values, above in a table
    for _, cap in ipairs({ 1, 3, 1024, 1025, 3000 }) do
      local ch = m.channel(cap)
      local sent, got = 0, 0
      local function value(i) -- every seventh a false, which is a value too
        if i % 7 == 0 then return false end
        return i
      end
      local function fill()
        while ch:try_send(value(sent + 1)) do sent = sent + 1 end
      end
      local function take(n)
        for _ = 1, n do
          local v, ok = ch:try_recv()
          assert.is_true(ok)
          got = got + 1
          assert.equal(value(got), v)
        end
      end
      fill()
      assert.equal(cap, #ch)
      take((cap + 1) // 2)
      fill() -- wraps around the end of the ring
      assert.equal(cap, #ch)
      -- a blocked sender moves into the slot a receive frees
      local t = m.spawn(function() ch:send("last") end)
      m.yield()
      take(cap)
      assert.same({ "last", true }, { ch:recv() })
      t:await()
      assert.equal(0, #ch)
      assert.same({ nil, nil }, { ch:try_recv() })
    end
  end)

  it("hand a value straight to a waiting receiver, who runs on the next turn", function()
    local ch = m.channel(5)
    local got
    local r = m.spawn(function() got = table.pack(ch:recv()) end)
    m.yield()
    ch:send("direct")
    assert.equal(0, #ch, "handed off, not buffered")
    r:await()
    assert.same({ "direct", true, n = 2 }, got)
  end)

  it("carry nil like any value", function()
    local ch = m.channel(3)
    ch:send(nil)
    ch:send(false)
    local a, ok1 = ch:recv()
    local b, ok2 = ch:recv()
    assert.is_nil(a)
    assert.is_true(ok1)
    assert.is_false(b)
    assert.is_true(ok2)
    local u = m.channel()
    local t = m.spawn(function() u:send(nil) end)
    local v, ok = u:recv()
    assert.is_nil(v)
    assert.is_true(ok)
    t:await()
  end)

  it("serve waiting receivers and senders in FIFO order", function()
    local ch = m.channel()
    local order = {}
    local rs = {}
    for i = 1, 4 do
      rs[i] = m.spawn(function()
        local v = ch:recv()
        order[#order + 1] = { i, v }
      end)
    end
    m.yield()
    for v = 10, 13 do ch:send(v) end
    for _, r in ipairs(rs) do r:await() end
    assert.same({ { 1, 10 }, { 2, 11 }, { 3, 12 }, { 4, 13 } }, order)
    local ss = {}
    for i = 1, 4 do ss[i] = m.spawn(function() ch:send(i) end) end
    m.yield()
    local got = {}
    for _ = 1, 4 do got[#got + 1] = ch:recv() end
    assert.same({ 1, 2, 3, 4 }, got)
    for _, s in ipairs(ss) do s:await() end
  end)

  it("close: receivers drain the buffer, then get nil, false", function()
    local ch = m.channel(3)
    ch:send(1)
    ch:send(2)
    ch:close()
    assert.is_true(ch:closed())
    assert.same({ 1, true }, { ch:recv() })
    assert.same({ 2, true }, { ch:recv() })
    assert.same({ nil, false }, { ch:recv() })
    assert.same({ nil, false }, { ch:try_recv() })
  end)

  it("close wakes every blocked receiver with nil, false", function()
    local ch = m.channel()
    local results = {}
    local ts = {}
    for i = 1, 3 do ts[i] = m.spawn(function() results[i] = table.pack(ch:recv()) end) end
    m.yield()
    ch:close()
    for _, t in ipairs(ts) do t:await() end
    for i = 1, 3 do assert.same({ nil, false, n = 2 }, results[i]) end
  end)

  it("close makes blocked senders raise; send and a second close raise", function()
    local ch = m.channel()
    local t = m.spawn(function() ch:send("never taken") end)
    m.yield()
    ch:close()
    local ok, err = pcall(t.await, t)
    assert.is_false(ok)
    assert.matches("send on a closed channel", err)
    assert.has_error(function() ch:send(1) end, "send on a closed channel")
    assert.has_error(function() ch:try_send(1) end, "send on a closed channel")
    assert.has_error(function() ch:close() end, "close of a closed channel")
    assert.same({ nil, false }, { ch:recv() })
  end)

  it("try_send and try_recv never block", function()
    local ch = m.channel(1)
    assert.same({ nil, nil }, { ch:try_recv() })
    assert.is_true(ch:try_send("a"))
    assert.is_false(ch:try_send("b"))
    assert.same({ "a", true }, { ch:try_recv() })
    local u = m.channel()
    assert.is_false(u:try_send(1), "no receiver waiting")
    local r = m.spawn(function() return u:recv() end)
    m.yield()
    assert.is_true(u:try_send(7))
    assert.equal(7, r:await())
  end)

  it("iter receives until the channel is closed and drained", function()
    local ch = m.channel(2)
    m.spawn(function()
      for i = 1, 5 do ch:send(i) end
      ch:close()
    end)
    local got = {}
    local t = m.spawn(function() for v in ch:iter() do got[#got + 1] = v end end)
    t:await()
    assert.same({ 1, 2, 3, 4, 5 }, got)
    -- the iterator gives the value alone, nil once closed and drained; a
    -- cancelled iteration takes nothing
    local open = m.channel()
    local it = open:iter()
    local waiter = m.spawn(function() return it() end)
    m.yield()
    waiter:cancel()
    assert.is_false(pcall(waiter.await, waiter))
    m.spawn(function() open:send("only") end)
    assert.same({ n = 1, "only" }, table.pack(it()))
    open:close()
    assert.same({ n = 1 }, table.pack(it()))
    assert.same({ n = 1 }, table.pack(ch:iter()()))
  end)

  it("a cancelled sender delivers nothing; a cancelled receiver takes nothing", function()
    local ch = m.channel()
    local s = m.spawn(function() ch:send("lost?") end)
    m.yield()
    s:cancel()
    assert.has_error(function() s:await() end)
    assert.is_false(ch:try_send("x"), "no receiver is waiting")
    assert.same({ nil, nil }, { ch:try_recv() }, "the cancelled send left nothing")
    local r = m.spawn(function() return ch:recv() end)
    m.yield()
    r:cancel()
    assert.has_error(function() r:await() end)
    local r2 = m.spawn(function() return ch:recv() end)
    m.yield()
    ch:send("only once")
    assert.equal("only once", r2:await())
    assert.same({ nil, nil }, { ch:try_recv() })
  end)

  it("a receiver served before its cancellation still gets the value", function()
    local ch = m.channel()
    local got
    local r = m.spawn(function()
      got = ch:recv()
      m.yield() -- the cancellation lands here
    end)
    m.yield()
    ch:send("kept")
    r:cancel()
    assert.has_error(function() r:await() end)
    assert.equal("kept", got)
  end)

  it("blocks inside a sort comparator and from the main chunk", function()
    local ch = m.channel()
    local t = m.spawn(function()
      local l = { 3, 1, 2 }
      table.sort(l, function(a, b) ch:send(a); return a < b end)
      ch:close()
      return table.concat(l, ",")
    end)
    local n = 0
    for _ in ch:iter() do n = n + 1 end
    assert.is_true(n > 0)
    assert.equal("1,2,3", t:await())
  end)

  it("hands values to and from tasks blocked inside coroutines of their own", function()
    -- The blocked thread is then not the task's: values move between the
    -- stacks of the threads that block, whichever they are.
    local ch, back = m.channel(), m.channel()
    local receiver = m.spawn(function()
      return coroutine.wrap(function()
        local v, ok = ch:recv()
        local _, w = m.select({ { back, "send", { v, "again" } }, { ch, "recv" } })
        return v, ok, w
      end)()
    end)
    local sender = m.spawn(function()
      coroutine.wrap(function() ch:send({ "from", "a coroutine" }) end)()
    end)
    local got = back:recv()
    assert.same({ { "from", "a coroutine" }, "again" }, got)
    sender:await()
    local v, ok, w = receiver:await()
    assert.same({ "from", "a coroutine" }, v)
    assert.is_true(ok)
    assert.is_nil(w) -- the select's send case went first
  end)

  it("works from callbacks when it need not block, and says so when it would", function()
    local ch = m.channel(1)
    local msg
    local prev = m.on_error(function(e) msg = e end)
    m.call_soon(function() ch:send("from a callback") end)
    m.call_soon(function() ch:send("would block") end)
    m.yield()
    m.on_error(prev)
    assert.equal("from a callback", ch:recv())
    assert.matches("cannot block inside a callback", msg)
  end)

  it("reports a deadlock when the main chunk waits on a channel nobody uses", function()
    local ch = m.channel()
    assert.has_error(function() ch:recv() end, "deadlock: nothing left to run can end this wait")
  end)

  it("rejects bad arguments", function()
    assert.has_error(function() m.channel(-1) end)
    assert.has_error(function() m.channel("big") end)
    assert.has_error(function() m.channel(1.5) end)
    local ch = m.channel()
    assert.has_error(function() ch.send(42, 1) end)
    assert.has_error(function() ch:send() end)
    assert.has_error(function() ch.recv({}) end)
    -- other objects, moonlet's or not, are no channel
    local srv = assert(m.tcp.listen("127.0.0.1", 0))
    for _, o in ipairs({ m.future(), m.spawn(function() end), srv, io.stdout, "s" }) do
      for _, name in ipairs({ "send", "recv", "try_send", "try_recv", "close", "closed", "cap", "iter" }) do
        assert.has_error(function() ch[name](o, 1) end)
      end
      assert.has_error(function() m.select({ { o, "recv" } }) end)
    end
    for _, o in ipairs({ ch, srv, io.stdout }) do
      local ok, err = pcall(m.future().await, o)
      assert.is_false(ok)
      assert.matches("future or task expected", err)
    end
    srv:close()
    assert.matches("moonlet.channel: .* %(0/0%)", tostring(ch))
  end)

  it("leaves no task or handle behind", U.assert_clean)
end)
