-- moonlet.fs on real files: every function, errors, large files, other
-- tasks running meanwhile, cancellation mid-operation, no fd leaks.
local m = require "moonlet"
local U = require "support.util"
local fs = m.fs

local function fd_count()
  local n = 0
  for _ in io.popen("ls /proc/" .. io.open("/proc/self/stat"):read("n") .. "/fd"):lines() do n = n + 1 end
  return n
end

describe("moonlet.fs", function()
  local dir, fds_before

  setup(function()
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
    for _ = 1, 100 do
      if m.stats().tasks == 0 and require("moonlet.core")._handles() == 0 then break end
      m.sleep(0.002)
    end
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
    assert.equal(fds_before, fd_count())
  end)
end)
