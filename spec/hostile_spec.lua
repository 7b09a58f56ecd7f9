-- Issue 16: moonlet where it meets peers that misbehave. Each case plays
-- the attacker with real sockets, pipes and processes on this machine.
local m = require "moonlet"
local U = require "support.util"
teardown(U.assert_clean) -- the leak check every spec file ends with

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

-- A raw client: sends data (a string, or a list of pieces with pauses
-- between them) and returns everything the server sends until it closes.
local function raw(port, data, pause)
  local c = assert(m.tcp.connect(LOCAL, port))
  if type(data) == "string" then data = { data } end
  -- Read while writing: a server that answers early and closes makes our
  -- next write draw a reset, which would discard an answer left unread.
  local parts = {}
  local reader = m.spawn(function()
    while true do
      local chunk = c:read()
      if not chunk then return end
      parts[#parts + 1] = chunk
    end
  end)
  for _, piece in ipairs(data) do
    if not c:write(piece) then break end
    if pause then m.sleep(pause) end
  end
  reader:await()
  c:close()
  return table.concat(parts)
end

local function http_server(handler, opts)
  local srv = assert(m.http.listen(LOCAL, 0, handler, opts))
  finally(function() srv:close() end)
  local _, port = srv:address()
  return srv, port
end

describe("the HTTP server against hostile clients", function()
  it("refuses chunk data not followed by CRLF, in one packet or split after the data", function()
    local codes = {}
    local _, port = http_server(function(req, res)
      local body, _, code = req:body()
      codes[#codes + 1] = code
      if body then res:finish(body) end
    end)
    local head = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    local out = raw(port, head .. "3\r\nabcXX0\r\n\r\n")
    assert.matches("^HTTP/1.1 400 ", out)
    assert.equal(0, #codes) -- refused before the handler ran
    out = raw(port, { head .. "3\r\nabc", "XX0\r\n\r\n" }, 0.05)
    assert.matches("^HTTP/1.1 400 ", out)
    assert.same({ "INVALID_CHUNK" }, codes)
  end)

  it("refuses a header name with a space before the colon", function()
    local called = false
    local _, port = http_server(function(_, res) called = true; res:finish("x") end)
    local out = raw(port, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
    assert.matches("^HTTP/1.1 400 ", out)
    assert.is_false(called)
  end)

  it("refuses a Content-Length beyond any integer with 413 or 400", function()
    local called = false
    local _, port = http_server(function(_, res) called = true; res:finish("x") end)
    for _, cl in ipairs({ "9223372036854775808", "18446744073709551615", "99999999999999999999" }) do
      local out = raw(port, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: " .. cl .. "\r\n\r\n")
      assert.is_truthy(out:match("^HTTP/1.1 413 ") or out:match("^HTTP/1.1 400 "), out)
    end
    assert.is_false(called)
  end)

  it("keeps trailers apart from the headers, all of them", function()
    local seen
    local _, port = http_server(function(req, res)
      local body = req:body()
      seen = { body = body, header = req.headers["x-t"], t = req.trailers["x-t"], u = req.trailers["x-u"] }
      res:finish("ok")
    end)
    local out = raw(port, "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
      .. "3\r\nabc\r\n0\r\nX-T: 1\r\nX-U: 2\r\n\r\n")
    assert.matches("^HTTP/1.1 200 ", out)
    assert.same({ body = "abc", t = "1", u = "2" }, seen)
  end)

  it("hands the bytes after an Upgrade head to the handler with the connection", function()
    local _, port = http_server(function(req)
      assert(req.upgrade)
      local s, rest = req:hijack()
      s:write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
      s:write("got:", rest, s:read(5))
    end)
    local out = raw(port, { "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\nHELLO", "WORLD" }, 0.02)
    assert.matches("^HTTP/1.1 101 ", out)
    assert.matches("got:HELLOWORLD$", out)
  end)

  it("refuses CR, LF and NUL in the reason and headers of a response, sending none of it", function()
    local errors = {}
    local _, port = http_server(function(req, res)
      local ok, err
      if req.path == "/reason" then
        res.reason = "OK\r\nSet-Cookie: evil=1"
        ok, err = pcall(res.finish, res, "x")
      else
        ok, err = pcall(function() res.headers["X-A"] = "a\0b" end)
        if ok then ok, err = pcall(function() res.headers["X-B"] = "a\r\nSet-Cookie: evil=1" end) end
        res:finish("clean")
      end
      errors[#errors + 1] = not ok and tostring(err) or "accepted"
    end)
    local out = raw(port, "GET /reason HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert.is_nil(out:find("evil", 1, true))
    out = raw(port, "GET /header HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert.is_nil(out:find("evil", 1, true))
    assert.matches("clean$", out)
    assert.matches("bad response reason", errors[1])
    assert.matches("contains CR, LF or NUL", errors[2])
  end)

  it("answers a head sent one byte at a time past header_timeout with 408 and closes", function()
    local called = false
    local _, port = http_server(function(_, res) called = true; res:finish("x") end,
      { header_timeout = 0.3, timeout = 5 })
    local head = "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " .. ("a"):rep(40) .. "\r\n\r\n"
    local pieces = {}
    for i = 1, #head do pieces[i] = head:sub(i, i) end
    local out = raw(port, pieces, 0.02)
    assert.matches("^HTTP/1.1 408 ", out)
    assert.is_false(called)
  end)

  it("ends a body sent too slowly at body_timeout", function()
    local got
    local _, port = http_server(function(req, res)
      got = { req:body() }
      if got[1] then res:finish("in time") end
    end, { body_timeout = 0.3, timeout = 5 })
    local pieces = { "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" }
    for i = 2, 60 do pieces[i] = "b" end
    local out = raw(port, pieces, 0.02)
    assert.is_nil(got[1])
    assert.equal("ETIMEDOUT", got[3])
    assert.matches("^HTTP/1.1 408 ", out)
  end)

  it("stops accepting at max_connections and goes on when a connection ends", function()
    local release = m.event()
    local served = 0
    local srv = assert(m.tcp.listen(LOCAL, 0, function(s)
      served = served + 1
      s:write("hi\n")
      release:wait()
    end, { max_connections = 2 }))
    local _, port = srv:address()
    local clients = {}
    for i = 1, 3 do clients[i] = assert(m.tcp.connect(LOCAL, port)) end
    assert.equal("hi", clients[1]:read("l"))
    assert.equal("hi", clients[2]:read("l"))
    clients[3]:set_timeout(0.2)
    assert.equal("ETIMEDOUT", select(3, clients[3]:read("l")))
    assert.equal(2, served)
    assert.equal(2, srv:connections())
    release:set()
    clients[3]:set_timeout(5)
    assert.equal("hi", clients[3]:read("l"))
    for _, c in ipairs(clients) do c:close() end
    srv:close()
    srv:serve_forever() -- returns: the server is closed
  end)

  it("reports running out of descriptors once and serves again", function()
    -- The server runs in a child with few descriptors; the clients here.
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write([[
      local m = require "moonlet"
      local reports = {}
      m.on_error(function(e) reports[#reports + 1] = tostring(e) end)
      local srv = assert(m.tcp.listen("127.0.0.1", 0, function(s)
        s:write("hi\n")
        for line in s:lines() do
          if line == "report" then
            local n = 0
            for _, r in ipairs(reports) do if r:find("EMFILE", 1, true) then n = n + 1 end end
            s:write(n, "\n")
          end
        end
      end))
      local _, port = srv:address()
      print(port)
      io.stdout:flush()
      m.sleep(30) -- the parent kills it before
      os.exit(0, false)]])
    f:close()
    local cmd = ("ulimit -n 40; LUA_PATH='./lua/?.lua;./lua/?/init.lua;;' LUA_CPATH='./%s/?.so;;' exec lua5.4 %s")
      :format(U.build, path)
    local p = assert(m.process.spawn { "sh", "-c", cmd, stdout = "pipe" })
    local port = math.tointeger(tonumber(p.stdout:read("l")))
    local clients = {}
    for i = 1, 60 do clients[i] = assert(m.tcp.connect(LOCAL, port)) end
    m.sleep(0.3) -- the server ran out of descriptors: libuv refused the rest
    for i = 1, 60 do clients[i]:close() end
    m.sleep(0.2)
    local c = assert(m.tcp.connect(LOCAL, port))
    c:set_timeout(5)
    assert.equal("hi", c:read("l")) -- it serves again
    c:write("report\n")
    local reports = c:read("l")
    c:close()
    p:kill()
    p:wait()
    p:close()
    os.remove(path)
    assert.equal("1", reports)
  end)
end)

describe("the HTTP client against hostile servers", function()
  it("stops a body that decompresses beyond max_body; streaming is unaffected", function()
    local big = (U.under_valgrind and 4 or 20) * 1024 * 1024
    local gz = assert(m.process.run({ "gzip", "-c" }, { input = ("\0"):rep(big) }))
    local srv = assert(m.http.listen(LOCAL, 0, function(_, res)
      res.headers["Content-Encoding"] = "gzip"
      res:finish(gz)
    end))
    local _, port = srv:address()
    local url = ("http://%s:%d/"):format(LOCAL, port)
    local client = m.http.client { max_body = 1024 * 1024 }
    local resp, err, code = client:get(url)
    assert.is_nil(resp)
    assert.equal("max_body", code)
    assert.matches("max_body", err)
    -- per request, above the client's
    resp = assert(client:get(url, { max_body = big }))
    assert.equal(big, #resp.body)
    -- a stream reads it all in parts
    resp = assert(client:get(url, { stream = true }))
    local n = 0
    for chunk in function() return resp:read() end do n = n + #chunk end
    assert.equal(big, n)
    client:close()
    -- the default bound is documented and in force
    assert.equal(64 * 1024 * 1024, m.http.MAX_BODY)
    srv:close()
  end)

  it("refuses a URL with an embedded NUL, CR or LF instead of truncating it", function()
    assert.has_error(function() m.http.get("http://127.0.0.1:1/a\0b") end,
      "bad argument #1 to 'request' (URL contains NUL, CR or LF)")
    assert.has_error(function() m.http.get("http://127.0.0.1:1/a\r\nX: y") end)
    for _, bad in ipairs({ "\r", "\n", "\0" }) do
      assert.has_error(function() m.http.get("http://127.0.0.1:1/a" .. bad) end,
        "bad argument #1 to 'request' (URL contains NUL, CR or LF)")
      assert.has_error(function() m.http.get("http://127.0.0.1:1/a" .. bad, { timeout = 1 }) end,
        "bad argument #1 to 'request' (URL contains NUL, CR or LF)")
      assert.has_error(function() m.http.request { url = "http://127.0.0.1:1/" .. bad } end,
        "bad argument #1 to 'request' (URL contains NUL, CR or LF)")
    end
    m.http.close()
  end)

  it("retries on a fresh connection when the server resets a kept-alive one mid-request", function()
    local conns = 0
    local srv = assert(m.tcp.listen(LOCAL, 0, function(s)
      conns = conns + 1
      local mine, served = conns, 0
      while true do
        local line = s:read("l")
        if not line then return end
        if mine == 1 and served == 1 then
          m.sleep(0.01)
          return -- closed with the request unread: the peer gets a reset
        end
        local len = 0
        while line ~= "\r" do
          len = tonumber(line:match("^[Cc]ontent%-[Ll]ength: (%d+)")) or len
          line = s:read("l")
        end
        if len > 0 then s:read(len) end
        s:write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        served = served + 1
      end
    end))
    local _, port = srv:address()
    local url = ("http://%s:%d/"):format(LOCAL, port)
    local c = m.http.client()
    assert.equal("ok", assert(c:get(url)).body)
    -- a body large enough that curl is still sending when the reset comes
    local resp, err = c:post(url, ("x"):rep(4 << 20))
    assert.is_truthy(resp, err)
    assert.equal("ok", resp.body)
    assert.equal(2, conns)
    c:close()
    srv:close()
  end)

  it("says EMFILE when the process is out of descriptors", function()
    local status, out, err = U.run_script([[
      local m = require "moonlet"
      local srv = assert(m.http.listen("127.0.0.1", 0, function(_, res) res:finish("ok") end))
      local _, port = srv:address()
      local url = "http://127.0.0.1:" .. port .. "/"
      local c = m.http.client()
      local held = {}
      while true do
        local f = io.open("/dev/null")
        if not f then break end
        held[#held + 1] = f
      end
      print(select(3, c:get(url, { timeout = 5 })))
      for _, f in ipairs(held) do f:close() end
      print(assert(c:get(url)).body) -- and it works again
      c:close()
      srv:close()]], "ulimit -n 64;")
    assert.equal(0, status, err)
    assert.equal("EMFILE\nok\n", out)
  end)
end)
