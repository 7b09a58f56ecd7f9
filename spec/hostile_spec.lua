-- Issue 16: moonlet where it meets peers that misbehave. Each case plays
-- the attacker with real sockets, pipes and processes on this machine.
local m = require "moonlet"
local U = require "support.util"

local LOCAL = "127.0.0.1"

-- Runs a script in a child and returns its exit status and output: a
-- SIGPIPE death shows as status 141 there, instead of killing busted.
local function child(code)
  local status, out, err = U.run_script('local m = require "moonlet"\n' .. code)
  return status, out, err
end

describe("a peer that goes away while we write (SIGPIPE)", function()
  it("gives a TCP write EPIPE or ECONNRESET and the server goes on", function()
    local status, out, err = child [[
      m.run(function()
        local codes = {}
        local srv = assert(m.tcp.listen("127.0.0.1", 0, function(c)
          m.sleep(0.05)
          local ok, _, code
          for _ = 1, 100 do
            ok, _, code = c:write(string.rep("x", 65536))
            if not ok then break end
          end
          codes[#codes + 1] = code
        end))
        local _, port = srv:address()
        for _ = 1, 2 do
          local c = assert(m.tcp.connect("127.0.0.1", port))
          c:close()
          m.sleep(0.2)
        end
        -- and it still serves
        local c = assert(m.tcp.connect("127.0.0.1", port))
        assert(c:read(10) == ("x"):rep(10))
        c:close()
        srv:close()
        print(codes[1], codes[2])
      end)]]
    assert.equal(0, status, err)
    assert.matches("^E%u+%s+E%u+", out)
    for code in out:gmatch("E%u+") do assert.is_truthy(code == "EPIPE" or code == "ECONNRESET", out) end
  end)

  it("gives a pipe write EPIPE", function()
    local status, out, err = child [[
      local path = os.tmpname() .. ".sock"
      local srv = assert(m.pipe.listen(path, function(c) c:close() end))
      local c = assert(m.pipe.connect(path))
      m.sleep(0.1)
      local ok, _, code
      for _ = 1, 50 do
        ok, _, code = c:write(("y"):rep(65536))
        if not ok then break end
      end
      c:close()
      srv:close()
      os.remove(path)
      print(code)]]
    assert.equal(0, status, err)
    assert.matches("^E%u+", out)
  end)

  it("gives a write to an exited child's stdin EPIPE", function()
    local status, out, err = child [[
      local p = assert(m.process.spawn { "true", stdin = "pipe" })
      p:wait()
      local ok, _, code
      for _ = 1, 50 do
        ok, _, code = p.stdin:write(("z"):rep(65536))
        if not ok then break end
      end
      p:close()
      print(code)]]
    assert.equal(0, status, err)
    assert.equal("EPIPE\n", out)
  end)

  it("keeps the HTTP server serving when a client resets mid-response", function()
    local status, out, err = child [[
      local big = ("b"):rep(4 << 20)
      local srv = assert(m.http.listen("127.0.0.1", 0, function(req, res)
        if req.path == "/big" then
          for _ = 1, 8 do if not res:write(big) then return end end
          res:finish()
        else
          res:finish("fine")
        end
      end))
      local _, port = srv:address()
      for _ = 1, 3 do
        local c = assert(m.tcp.connect("127.0.0.1", port))
        c:write("GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        c:read(100)
        c:close()
        m.sleep(0.05)
      end
      -- a client that sends a request and closes without reading
      local c = assert(m.tcp.connect("127.0.0.1", port))
      c:write("GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
      c:close()
      m.sleep(0.2)
      local body = assert(m.http.get("http://127.0.0.1:" .. port .. "/small")).body
      srv:close()
      print(body)]]
    assert.equal(0, status, err)
    assert.equal("fine\n", out)
  end)

  it("ignores SIGPIPE in its own process only: children get the default", function()
    local status, out, err = child [[
      local function ignored(status)
        return tonumber(status:match("SigIgn:%s*(%x+)"), 16) & (1 << 12) ~= 0 -- SIGPIPE is 13
      end
      local f = io.open("/proc/self/status")
      local mine = ignored(f:read("a"))
      f:close()
      print(mine, ignored((m.process.run({ "cat", "/proc/self/status" }))))]]
    assert.equal(0, status, err)
    assert.equal("true\tfalse\n", out)
  end)
end)
