-- m.wait_readable / m.wait_writable on raw descriptors moonlet does not
-- own: real OS pipes made by the test module.
local m = require "moonlet"
local U = require "support.util"
local T = require "moonlet_testmod"

teardown(U.assert_clean)

describe("waiting on a descriptor", function()
  local rfd, wfd
  before_each(function() rfd, wfd = T.pipe() end)
  after_each(function()
    T.close(rfd)
    T.close(wfd)
  end)

  it("wakes a reader when data arrives, while other tasks run", function()
    local ticks = 0
    local ticker = m.spawn(function() for _ = 1, 3 do m.sleep(0.005); ticks = ticks + 1 end end)
    m.spawn(function()
      m.sleep(0.02)
      T.write(wfd, "hello")
    end)
    assert.is_true(m.wait_readable(rfd))
    assert.equal("hello", T.read(rfd))
    ticker:await()
    assert.equal(3, ticks)
  end)

  it("an empty pipe is writable at once; readable and writable waits go together", function()
    assert.is_true(m.wait_writable(wfd))
    local r = m.spawn(function() return m.wait_readable(rfd) end)
    m.yield()
    assert.is_true(m.wait_writable(wfd, 1)) -- the writer side of another fd
    T.write(wfd, "x")
    assert.is_true(r:await())
    T.read(rfd)
  end)

  it("a full pipe is not writable until the reader drains it", function()
    local chunk = ("z"):rep(65536)
    assert.is_true(m.wait_writable(wfd)) -- polled once, the descriptor is non-blocking
    while T.write(wfd, chunk) do end
    local w = m.spawn(function() return m.wait_writable(wfd) end)
    m.sleep(0.01)
    assert.is_false(w:done())
    while m.wait_readable(rfd, 0.01) and not w:done() do T.read(rfd) end
    assert.is_true(w:await())
  end)

  it("times out with ETIMEDOUT; cancelling raises and leaves nothing behind", function()
    assert.same({ nil, "ETIMEDOUT: timed out", "ETIMEDOUT" }, { m.wait_readable(rfd, 0.01) })
    local t = m.spawn(function() return m.wait_readable(rfd) end)
    m.yield()
    t:cancel()
    local ok, err = pcall(t.await, t)
    assert.is_false(ok)
    assert.equal(m.Cancelled, getmetatable(err))
    assert.equal(0, m.stats().requests)
    -- The descriptor can be waited on again afterwards.
    T.write(wfd, "again")
    assert.is_true(m.wait_readable(rfd, 1))
    T.read(rfd)
  end)

  it("one reader and one writer per descriptor; a second raises", function()
    local t = m.spawn(function() return m.wait_readable(rfd) end)
    m.yield()
    assert.has_error(function() m.wait_readable(rfd) end,
      "another task is waiting for this descriptor to be readable")
    t:cancel()
    pcall(t.await, t)
  end)

  it("shows in task dumps with its descriptor", function()
    local t = m.spawn(function() return m.wait_readable(rfd) end):set_name("poller")
    m.yield()
    local info
    for _, i in ipairs(m.tasks_info()) do if i.name == "poller" then info = i end end
    assert.same({ kind = "wait readable", fd = rfd }, info.waiting)
    t:cancel()
    pcall(t.await, t)
  end)

  it("returns libuv's refusal for descriptors it cannot poll; misuse raises", function()
    local ok, _, code = m.wait_readable(987654)
    assert.is_nil(ok)
    assert.equal("EBADF", code)
    local f = assert(io.open(os.tmpname(), "w"))
    f:close()
    assert.has_error(function() m.wait_readable("x") end)
    assert.has_error(function() m.wait_readable(-1) end,
      "bad argument #1 to 'wait_readable' (descriptor out of range)")
    assert.has_error(function() m.wait_writable(wfd, "soon") end)
  end)
end)
