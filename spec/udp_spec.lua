-- Datagram sockets on 127.0.0.1: exchange, names, timeouts, cancellation,
-- broadcast and multicast options, use after close, no descriptor leaks.
local m = require "moonlet"
local U = require "support.util"

describe("moonlet.udp", function()
  local before_all, after_all = U.descriptor_check()
  setup(before_all)
  teardown(after_all)

  it("sends and receives datagrams with their sender", function()
    local a = assert(m.udp.bind("127.0.0.1", 0))
    local b = assert(m.udp.bind("localhost", 0))
    local _, pa = a:local_address()
    local hb, pb = b:local_address()
    assert.equal("127.0.0.1", hb)
    assert.is_true(a:send_to("ping", "127.0.0.1", pb))
    local data, host, port = b:recv_from()
    assert.equal("ping", data)
    assert.equal("127.0.0.1", host)
    assert.equal(pa, port)
    assert.is_true(b:send_to("", "localhost", pa)) -- empty datagrams too
    assert.equal("", a:recv_from())
    a:close()
    b:close()
  end)

  it("queues datagrams that arrive before anyone reads, in order", function()
    local a = assert(m.udp.bind("127.0.0.1", 0))
    local b = assert(m.udp.bind("127.0.0.1", 0))
    local _, pb = b:local_address()
    local got = {}
    local reader = m.spawn(function()
      for i = 1, 100 do got[i] = b:recv_from() end
    end)
    for i = 1, 100 do a:send_to(tostring(i), "127.0.0.1", pb) end
    reader:await()
    for i = 1, 100 do assert.equal(tostring(i), got[i]) end
    a:close()
    b:close()
  end)

  it("times out a receive; a cancelled receive takes nothing", function()
    local a = assert(m.udp.bind("127.0.0.1", 0))
    local _, pa = a:local_address()
    a:set_timeout(0.02)
    local v, err, code = a:recv_from()
    assert.is_nil(v)
    assert.equal("ETIMEDOUT", code)
    assert.is_string(err)
    a:set_timeout(nil)
    local t = m.spawn(function() return a:recv_from() end)
    m.yield()
    t:cancel()
    assert.is_false(pcall(t.await, t))
    local b = assert(m.udp.bind("127.0.0.1", 0))
    b:send_to("kept", "127.0.0.1", pa)
    assert.equal("kept", a:recv_from())
    a:close()
    b:close()
  end)

  it("wakes a pending receive with ECANCELED when closed", function()
    local a = assert(m.udp.bind("127.0.0.1", 0))
    local t = m.spawn(function() return a:recv_from() end)
    m.yield()
    a:close()
    local v, _, code = t:await()
    assert.is_nil(v)
    assert.equal("ECANCELED", code)
  end)

  it("sets broadcast and multicast options", function()
    local a = assert(m.udp.bind("0.0.0.0", 0, { broadcast = true, reuseaddr = true }))
    assert.equal(a, a:set_broadcast(false))
    assert.equal(a, a:set_multicast_ttl(4))
    assert.equal(a, a:set_multicast_loop(true))
    local ok, _, code = a:join_group("239.255.0.1")
    if ok then
      assert.equal(a, a:leave_group("239.255.0.1"))
    else
      assert.is_string(code) -- no multicast route in some sandboxes
    end
    assert.has_error(function() a:set_multicast_ttl(0) end)
    a:close()
  end)

  it("reports errors and raises on misuse and use after close", function()
    local a = assert(m.udp.bind("127.0.0.1", 0))
    local _, port = a:local_address()
    local b, _, code = m.udp.bind("127.0.0.1", port)
    assert.is_nil(b)
    assert.equal("EADDRINUSE", code)
    assert.has_error(function() a:send_to("x", "127.0.0.1", 70000) end)
    assert.has_error(function() a:send_to(("x"):rep(70000), "127.0.0.1", 9) end)
    assert.has_error(function() a:send_to({}, "127.0.0.1", 9) end)
    -- A host name that does not resolve: the lookup's failure, returned.
    local ok, msg, err = a:send_to("x", "no-such-host.invalid", 9)
    assert.is_nil(ok)
    assert.matches("^EAI_", err)
    assert.matches("no%-such%-host%.invalid", msg)
    assert.has_error(function() m.udp.bind(1, 2) end)
    assert.has_error(function() m.udp.bind("127.0.0.1", "x") end)
    a:close()
    a:close()
    assert.has_error(function() a:recv_from() end, "attempt to use a closed moonlet.udp")
    m.udp.bind("127.0.0.1", 0) -- dropped: the collector closes it
    collectgarbage()
    collectgarbage()
  end)
end)
