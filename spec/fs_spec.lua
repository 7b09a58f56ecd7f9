-- moonlet.fs on real files: every function, errors, large files, other
-- tasks running meanwhile, cancellation mid-operation, no fd leaks.
local m = require "moonlet"
local U = require "support.util"
local fs = m.fs

local fd_count = U.fd_count

describe("moonlet.fs", function()
  local dir, fds_before

  setup(function()
    U.quiesce()
    fds_before = fd_count()
    dir = fs.tmpname() .. ".d"
    assert(fs.mkdir(dir))
  end)

  it("writes, appends and reads whole files, binary-safe", function()
    local p = dir .. "/a.txt"
    assert.is_true(fs.write_file(p, "one\n"))
    assert.is_true(fs.append_file(p, "two\0three\n"))
    assert.equal("one\ntwo\0three\n", fs.read_file(p))
    assert.is_true(fs.write_file(p, ""))
    assert.equal("", fs.read_file(p))
  end)

  it("stats files and directories; exists tells", function()
    local p = dir .. "/s.txt"
    fs.write_file(p, "12345")
    local st = fs.stat(p)
    assert.equal("file", st.type)
    assert.equal(5, st.size)
    assert.is_number(st.mtime)
    assert.equal("directory", fs.stat(dir).type)
    assert.is_true(fs.exists(p))
    assert.is_false(fs.exists(dir .. "/missing"))
  end)

  it("lists a directory with entry types, sorted", function()
    local d = dir .. "/list"
    fs.mkdir(d)
    fs.write_file(d .. "/b", "")
    fs.write_file(d .. "/a", "")
    fs.mkdir(d .. "/c")
    assert.same({ { name = "a", type = "file" }, { name = "b", type = "file" },
                  { name = "c", type = "directory" } }, fs.list(d))
  end)

  it("makes nested directories with parents, renames and removes", function()
    local deep = dir .. "/x/y/z"
    assert.is_true(fs.mkdir(deep, { parents = true }))
    assert.is_true(fs.mkdir(deep, { parents = true }), "an existing directory is fine with parents")
    local _, msg, code = fs.mkdir(deep)
    assert.equal("EEXIST", code)
    assert.matches("EEXIST: .*" .. deep:gsub("%p", "%%%0"), msg)
    fs.write_file(deep .. "/f", "data")
    assert.is_true(fs.rename(deep .. "/f", deep .. "/g"))
    assert.equal("data", fs.read_file(deep .. "/g"))
    assert.is_true(fs.remove(deep .. "/g"))
    assert.is_true(fs.remove(deep))
    assert.same({ nil, "ENOENT" }, { select(1, fs.remove(deep)), select(3, fs.remove(deep)) })
  end)

  it("returns nil, message, code for I/O failures", function()
    local v, msg, code = fs.read_file(dir .. "/nope")
    assert.is_nil(v)
    assert.equal("ENOENT", code)
    assert.matches("^ENOENT: no such file or directory: ", msg)
    assert.same({ nil, "EISDIR" }, { (fs.read_file(dir)), select(3, fs.read_file(dir)) })
    assert.equal("ENOENT", select(3, fs.stat(dir .. "/nope")))
    assert.equal("ENOENT", select(3, fs.list(dir .. "/nope")))
    assert.equal("ENOTDIR", select(3, fs.list(dir .. "/a.txt")))
    assert.equal("ENOENT", select(3, fs.write_file(dir .. "/no/such/dir/f", "x")))
  end)

  it("round-trips 10 MB while other tasks keep running", function()
    local p = dir .. "/big"
    local chunk = ("0123456789abcdef"):rep(64)
    local data = chunk:rep(10 * 1024 * 1024 // #chunk)
    local ticks, stop = 0, false
    local ticker = m.spawn(function() while not stop do ticks = ticks + 1; m.yield() end end)
    local t = m.spawn(function()
      assert(fs.write_file(p, data))
      return fs.read_file(p)
    end)
    local back = t:await()
    stop = true
    ticker:await()
    assert.equal(#data, #back)
    assert.is_true(back == data)
    assert.is_true(ticks > 0, "the loop kept running during the I/O")
    fs.remove(p)
  end)

  it("works from the main chunk and inside a sort comparator", function()
    local p = dir .. "/cmp"
    fs.write_file(p, "x")
    local t = m.spawn(function()
      local l = { 3, 1, 2 }
      table.sort(l, function(a, b) assert(fs.exists(p)); return a < b end)
      return table.concat(l)
    end)
    assert.equal("123", t:await())
  end)

  it("a task cancelled mid-operation raises Cancelled; the job finishes on its own", function()
    -- Opening a FIFO for reading blocks (in the pool) until a writer comes:
    -- the job is certainly still running when the task is cancelled.
    local fifo = dir .. "/fifo"
    assert(os.execute("mkfifo '" .. fifo .. "'"))
    local t = m.spawn(function() return fs.read_file(fifo) end)
    m.yield()
    assert.equal("suspended", t:status())
    t:cancel()
    local ok, err = pcall(t.await, t)
    assert.is_false(ok)
    assert.equal("cancelled", err.kind)
    -- Let the orphaned job finish: it is released when it ends.
    local w = assert(io.open(fifo, "w"))
    w:close()
    U.quiesce()
    fs.remove(fifo)
  end)

  it("refuses bad arguments and blocking in callbacks", function()
    assert.has_error(function() fs.read_file() end)
    assert.has_error(function() fs.read_file("") end)
    assert.has_error(function() fs.read_file("a\0b") end)
    assert.has_error(function() fs.write_file(dir .. "/w", {}) end)
    assert.has_error(function() fs.mkdir(dir .. "/m", 5) end)
    local msg
    local prev = m.on_error(function(e) msg = e end)
    m.call_soon(function() fs.exists(dir) end)
    m.yield()
    m.on_error(prev)
    assert.matches("cannot block inside a callback", msg)
  end)

  it("opens files and reads every io format, line by line and in pieces", function()
    local p = dir .. "/open.txt"
    local f = assert(fs.open(p, "w"))
    assert.equal(f, f:write("alpha\n", "beta\n", 42, " 7.5\n", "tail"))
    assert.is_true(f:close())
    f = assert(fs.open(p))
    assert.equal("alpha", f:read())
    assert.equal("beta\n", f:read("L"))
    assert.equal(42, f:read("n"))
    assert.equal(7.5, f:read("*n"))
    assert.equal("", f:read("l"))
    assert.equal("ta", f:read(2))
    assert.equal("il", f:read("a"))
    assert.equal("", f:read("a"))
    assert.is_nil(f:read())
    assert.is_nil(f:read(1))
    f:close()
    local lines = {}
    f = assert(fs.open(p, "r"))
    for l in f:lines() do lines[#lines + 1] = l end
    assert.same({ "alpha", "beta", "42 7.5", "tail" }, lines)
    f:close()
  end)

  it("seeks, appends and reads back what it wrote", function()
    local p = dir .. "/seek.txt"
    local f = assert(fs.open(p, "w+"))
    f:write("0123456789")
    assert.equal(2, f:seek("set", 2))
    assert.equal("234", f:read(3))
    assert.equal(5, f:seek())
    assert.equal(10, f:seek("end"))
    assert.equal(7, f:seek("end", -3))
    assert.equal("789", f:read("a"))
    f:seek("set", 4)
    f:write("xy") -- overwrites in place, after read-ahead
    f:seek("set")
    assert.equal("0123xy6789", f:read("a"))
    assert.equal("EINVAL", select(3, f:seek("set", -1)))
    f:close()
    f = assert(fs.open(p, "a+"))
    f:write("!")
    f:seek("set")
    assert.equal("0123xy6789!", f:read("a"))
    f:close()
  end)

  it("reads and writes large files in pieces", function()
    local p = dir .. "/big.bin"
    local block = ("b"):rep(1 << 20)
    local f = assert(fs.open(p, "wb"))
    for _ = 1, 16 do f:write(block, "\n") end
    f:close()
    f = assert(fs.open(p, "rb"))
    local n, total = 0, 0
    for l in f:lines("L") do n = n + 1; total = total + #l end
    assert.equal(16, n)
    assert.equal(16 * ((1 << 20) + 1), total)
    f:close()
  end)

  it("reports open errors; raises on bad modes, closed files and busy files", function()
    local f, err, code = fs.open(dir .. "/missing/x")
    assert.is_nil(f)
    assert.equal("ENOENT", code)
    assert.matches("missing", err)
    local d = assert(fs.open(dir))
    assert.equal("EISDIR", select(3, d:read()))
    d:close()
    assert.equal("EBADF", select(3, assert(fs.open(dir .. "/seek.txt")):write("x")))
    assert.has_error(function() fs.open(dir .. "/x", "rw") end)
    assert.has_error(function() fs.open(dir .. "/x", "") end)
    assert.has_error(function() fs.open() end)
    f = assert(fs.open(dir .. "/seek.txt"))
    assert.has_error(function() f:read("z") end)
    assert.has_error(function() f:write({}) end)
    assert.has_error(function() f:seek("middle") end)
    local t = m.spawn(function() return f:read("a") end)
    m.yield()
    assert.has_error(function() f:read() end, "file is busy: another operation on it is in flight")
    assert.is_string(t:await())
    f:close()
    f:close()
    assert.matches("closed", tostring(f))
    assert.has_error(function() f:read() end, "attempt to use a closed moonlet.file")
    do
      local g <close> = assert(fs.open(dir .. "/seek.txt"))
      g:read()
    end
    fs.open(dir .. "/seek.txt") -- dropped: the collector closes it
    collectgarbage()
    collectgarbage()
  end)

  it("cancelling a task mid-read or mid-open leaks nothing", function()
    U.quiesce() -- the file the collector closed above may still be closing
    local before = fd_count()
    for _ = 1, 20 do
      local t1 = m.spawn(function()
        local f = assert(fs.open(dir .. "/big.bin"))
        while f:read(1 << 16) do end
      end)
      local t2 = m.spawn(function() fs.open(dir .. "/big.bin") end)
      m.yield()
      t1:cancel()
      t2:cancel()
      assert.is_false(pcall(t1.await, t1))
      pcall(t2.await, t2)
    end
    -- orphaned jobs close their descriptors when they end, whenever that is
    collectgarbage()
    assert.is_true(U.settled_fd_count(before) <= before)
  end)

  it("a file call refused where it cannot block changes nothing and leaks nothing", function()
    local path = dir .. "/refused.txt"
    local f = assert(fs.open(path, "w"))
    local r = assert(fs.open(dir .. "/big.bin"))
    local errs = {}
    local prev = m.on_error(function(e) errs[#errs + 1] = tostring(e) end)
    m.call_soon(function() f:write("abc") end)
    m.call_soon(function() r:read(10) end)
    m.call_soon(function() fs.open(path) end)
    m.yield()
    m.on_error(prev)
    assert.equal(3, #errs)
    for _, e in ipairs(errs) do assert.matches("cannot block inside a callback", e) end
    -- The refused write did not move the position.
    assert(f:write("x"))
    f:close()
    r:close()
    assert.equal("x", fs.read_file(path))
    -- Cancelled before it opens: Cancelled, and nothing opened or kept.
    local ok, err
    local t = m.spawn(function()
      m.current():cancel()
      ok, err = pcall(fs.open, path)
    end)
    pcall(t.await, t)
    assert.is_false(ok)
    assert.equal("cancelled", err.kind)
  end)

  teardown(function()
    for _, e in ipairs(fs.list(dir) or {}) do
      if e.type == "directory" then
        os.execute("rm -rf '" .. dir .. "/" .. e.name .. "'")
      else
        fs.remove(dir .. "/" .. e.name)
      end
    end
    fs.remove(dir)
    fs.remove(dir:sub(1, -3)) -- the empty file tmpname made
  end)

  it("leaves no task, handle or file descriptor behind", function()
    U.assert_clean()
    assert.is_true(U.settled_fd_count(fds_before) <= fds_before)
  end)
end)
