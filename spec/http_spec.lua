-- moonlet.http against real servers on 127.0.0.1: the client (libcurl on
-- the loop) talking to moonlet's own HTTP server, and the server talking
-- to raw TCP clients that send exactly the bytes a spec needs.
local m = require "moonlet"
local U = require "support.util"
local http = m.http

local LOCAL = "127.0.0.1"

-- gzip's own output, made by the real tool.
local function gzip(data)
  return (assert(m.process.run({ "gzip", "-c" }, { input = data })))
end

-- The routes every client spec uses; the tasks serving /slow are
-- cancelled when the specs end.
local sleepers = setmetatable({}, { __mode = "k" })
local function routes(req, res)
  local p = req.path
  if p == "/hello" then
    res.headers["Content-Type"] = "text/plain"
    res:finish("hello")
  elseif p == "/echo" then
    local body = assert(req:body())
    res.headers["X-Method"] = req.method
    res.headers["X-Query"] = req.query
    res.headers["X-Type"] = req.headers["content-type"] or ""
    res.headers["X-Agent"] = req.headers["user-agent"] or ""
    res.headers["X-Custom"] = req.headers["x-custom"] or ""
    res:finish(body)
  elseif p == "/cookies" then
    res.headers:add("Set-Cookie", "a=1; Path=/")
    res.headers:add("Set-Cookie", "b=2; Path=/")
    res:finish(req.headers["cookie"] or "")
  elseif p:match("^/chain/%d+$") then
    local n = tonumber(p:match("%d+"))
    if n == 0 then return res:finish("end of chain") end
    res.status = 302
    res.headers.Location = "/chain/" .. (n - 1)
    res:finish()
  elseif p == "/loop" then
    res.status = 301
    res.headers.Location = "/loop"
    res:finish()
  elseif p == "/gzip" then
    res.headers["Content-Encoding"] = "gzip"
    res:finish(gzip(("compressible "):rep(1000)))
  elseif p == "/chunked" then
    for i = 1, 5 do res:write("chunk " .. i .. "\n") end
  elseif p == "/big" then
    local mb = tonumber(req.query:match("mb=(%d+)"))
    local chunk = ("z"):rep(64 * 1024)
    res.headers["Content-Length"] = mb << 20
    for _ = 1, mb * 16 do
      if not res:write(chunk) then return end
    end
  elseif p == "/slow" then
    sleepers[m.current()] = true
    res:write("first\n")
    m.sleep(tonumber(req.query:match("s=([%d.]+)")) or 5)
    res:finish("late\n")
  elseif p == "/status" then
    res.status = tonumber(req.query)
    res:finish("status " .. req.query)
  else
    res.status = 404
    res:finish("not found")
  end
end

local srv, base
local function start()
  if srv then return end
  srv = assert(http.listen(LOCAL, 0, function(req, res) return routes(req, res) end))
  local host, port = srv:address()
  base = ("http://%s:%d"):format(host, port)
end

describe("moonlet.http client", function()
  local before_all, after_all = U.descriptor_check(function()
    assert(m.tcp.listen(LOCAL, 0)):close()
    local c = http.client()
    c:close()
  end)
  setup(function()
    before_all()
    start()
  end)
  teardown(function()
    for t in pairs(sleepers) do t:cancel() end
    srv:close()
    srv = nil
    http.close()
    after_all()
  end)

  local client
  before_each(function() client = http.client() end)
  after_each(function() client:close() end)

  it("gets a page with its status, reason, headers and body", function()
    local r = assert(client:get(base .. "/hello"))
    assert.equal(200, r.status)
    assert.equal("OK", r.reason)
    assert.is_true(r.ok)
    assert.equal("hello", r.body)
    assert.equal("text/plain", r.headers["content-type"])
    assert.equal("text/plain", r.headers:get("CONTENT-TYPE"))
    assert.equal("5", r.headers["Content-Length"])
    assert.equal(base .. "/hello", r.url)
    assert.equal(0, r.redirects)
    assert.equal("1.1", r.http_version)
    assert.is_true(r.elapsed >= 0)
  end)

  it("returns HTTP error statuses as responses", function()
    local r = assert(client:get(base .. "/missing"))
    assert.equal(404, r.status)
    assert.equal("Not Found", r.reason)
    assert.is_false(r.ok)
    assert.equal("not found", r.body)
    r = assert(client:get(base .. "/status?503"))
    assert.equal(503, r.status)
  end)

  it("carries nothing from one request to the next on a reused connection handle", function()
    local c = http.client()
    finally(function() c:close() end)
    local function echo(r)
      r.url = base .. "/echo"
      local resp = assert(c:request(r))
      return resp.headers["x-method"], resp.headers["x-custom"], resp.headers["x-agent"], resp.body
    end
    local default_agent = select(3, echo({}))
    assert.matches("^moonlet", default_agent)
    assert.same({ "POST", "1", "agent-1", "x" },
      { echo({ method = "POST", body = "x", headers = { ["X-Custom"] = "1" }, user_agent = "agent-1" }) })
    assert.same({ "GET", "", default_agent, "" }, { echo({}) })
    local head = assert(c:head(base .. "/echo"))
    assert.equal("HEAD", head.headers["x-method"])
    assert.equal("", head.body)
    assert.same({ "GET", "", default_agent, "" }, { echo({}) })
    assert.same({ "PUT", "", default_agent, "y" }, { echo({ method = "PUT", body = "y" }) })
    assert.same({ "GET", "", default_agent, "" }, { echo({}) })
    assert.same({ "DELETE", "", default_agent, "" }, { echo({ method = "DELETE" }) })
    assert.same({ "GET", "", default_agent, "" }, { echo({}) })
    assert.equal("\31\139", assert(c:get(base .. "/gzip", { decompress = false })).body:sub(1, 2))
    assert.equal(("compressible "):rep(1000), assert(c:get(base .. "/gzip")).body)
    local r, _, code = c:get(base .. "/slow?s=1", { timeout = 0.1 })
    assert.is_nil(r)
    assert.equal("ETIMEDOUT", code)
    assert.equal("hello", assert(c:get(base .. "/hello")).body)
    assert.equal(302, assert(c:get(base .. "/chain/2", { follow = false })).status)
    assert.equal("end of chain", assert(c:get(base .. "/chain/2")).body)
  end)

  it("keeps repeated headers and sends cookies back", function()
    local r = assert(client:get(base .. "/cookies"))
    assert.same({ "a=1; Path=/", "b=2; Path=/" }, r.headers:get_all("set-cookie"))
    assert.equal("", r.body)
    r = assert(client:get(base .. "/cookies"))
    assert.matches("a=1", r.body)
    assert.matches("b=2", r.body)
    local other = http.client { cookies = false }
    assert(other:get(base .. "/cookies"))
    r = assert(other:get(base .. "/cookies"))
    assert.equal("", r.body)
    other:close()
  end)

  it("saves cookies to a file at close and loads them in the next client", function()
    local path = os.tmpname()
    local c1 = http.client { cookies = path }
    assert(c1:get(base .. "/cookies"))
    c1:close()
    local c2 = http.client { cookies = path }
    local r = assert(c2:get(base .. "/cookies"))
    assert.matches("a=1", r.body)
    c2:close()
    os.remove(path)
  end)

  it("sends bodies, forms, JSON, queries, headers and any method", function()
    local r = assert(client:post(base .. "/echo", "raw body"))
    assert.equal("raw body", r.body)
    assert.equal("POST", r.headers["x-method"])
    r = assert(client:request { url = base .. "/echo", form = { b = "x y", a = { "1", "2" } } })
    assert.equal("a=1&a=2&b=x%20y", r.body)
    assert.equal("application/x-www-form-urlencoded", r.headers["x-type"])
    r = assert(client:request { url = base .. "/echo", json = { name = "moon", list = { 1, 2.5, true } } })
    assert.equal('{"list":[1,2.5,true],"name":"moon"}', r.body)
    assert.same({ name = "moon", list = { 1, 2.5, true } }, assert(r:json()))
    assert.is_nil((assert(client:get(base .. "/hello")):json()))
    assert.equal("application/json", r.headers["x-type"])
    r = assert(client:get(base .. "/echo?x=1", { query = { q = "a&b" }, headers = { ["X-Custom"] = "yes" } }))
    assert.equal("x=1&q=a%26b", r.headers["x-query"])
    assert.equal("yes", r.headers["x-custom"])
    assert.matches("^moonlet", r.headers["x-agent"])
    for _, method in ipairs({ "PUT", "DELETE", "PATCH" }) do
      r = assert(client:request { url = base .. "/echo", method = method, body = method:lower() })
      assert.equal(method, r.headers["x-method"])
      assert.equal(method:lower(), r.body)
    end
    r = assert(client:head(base .. "/hello"))
    assert.equal(200, r.status)
    assert.equal("", r.body)
    assert.equal("5", r.headers["content-length"])
    local big = ("b"):rep(300000)
    r = assert(client:post(base .. "/echo", big))
    assert.equal(big, r.body)
  end)

  it("uses the client's defaults for headers and user agent", function()
    local c = http.client { user_agent = "crawler/1.0", headers = { ["X-Custom"] = "from client" } }
    local r = assert(c:get(base .. "/echo"))
    assert.equal("crawler/1.0", r.headers["x-agent"])
    assert.equal("from client", r.headers["x-custom"])
    r = assert(c:get(base .. "/echo", { headers = { ["x-custom"] = "mine" } }))
    assert.equal("mine", r.headers["x-custom"])
    c:close()
  end)

  it("follows redirect chains, stops loops and can leave redirects alone", function()
    local r = assert(client:get(base .. "/chain/3"))
    assert.equal(200, r.status)
    assert.equal("end of chain", r.body)
    assert.equal(3, r.redirects)
    assert.equal(base .. "/chain/0", r.url)
    local ok, msg, code = client:get(base .. "/loop", { max_redirects = 5 })
    assert.is_nil(ok)
    assert.equal("TOO_MANY_REDIRECTS", code)
    assert.matches("redirect", msg:lower())
    r = assert(client:get(base .. "/chain/2", { follow = false }))
    assert.equal(302, r.status)
    assert.equal("/chain/1", r.headers.location)
  end)

  it("decompresses gzip bodies, or leaves them alone", function()
    local r = assert(client:get(base .. "/gzip"))
    assert.equal(("compressible "):rep(1000), r.body)
    r = assert(client:get(base .. "/gzip", { decompress = false }))
    assert.equal("\31\139", r.body:sub(1, 2))
    -- A client's default, which a request may override.
    local raw = http.client { decompress = false }
    finally(function() raw:close() end)
    r = assert(raw:get(base .. "/gzip"))
    assert.equal("\31\139", r.body:sub(1, 2))
    assert.equal("gzip", r.headers["content-encoding"])
    r = assert(raw:get(base .. "/gzip", { decompress = true }))
    assert.equal(("compressible "):rep(1000), r.body)
    assert.has_error(function() http.client { decompress = "no" } end,
      "bad argument #1 to 'client' (option 'decompress' must be a boolean)")
  end)

  it("reads chunked bodies whole or streamed", function()
    local r = assert(client:get(base .. "/chunked"))
    assert.equal("chunk 1\nchunk 2\nchunk 3\nchunk 4\nchunk 5\n", r.body)
    assert.equal("chunked", r.headers["transfer-encoding"])
    r = assert(client:get(base .. "/chunked", { stream = true }))
    local lines = {}
    for line in r:lines() do lines[#lines + 1] = line end
    assert.same({ "chunk 1", "chunk 2", "chunk 3", "chunk 4", "chunk 5" }, lines)
    r = assert(client:get(base .. "/chunked", { stream = true }))
    assert.equal("chu", r:read(3))
    local rest = {}
    while true do
      local c = r:read()
      if not c then break end
      rest[#rest + 1] = c
    end
    assert.equal("nk 1\nchunk 2\nchunk 3\nchunk 4\nchunk 5\n", table.concat(rest))
    assert.is_nil(r:read())
    r:close()
    r:close()
  end)

  it("streams 100 MB to disk in bounded memory", function()
    local MB = U.under_valgrind and 8 or 100
    local path = os.tmpname()
    U.reset_peak_rss()
    local before = U.peak_rss_kb()
    local r = assert(client:get(base .. "/big?mb=" .. MB, { stream = true }))
    assert.equal(tostring(MB << 20), r.headers["content-length"])
    assert.equal(MB << 20, assert(r:save(path)))
    local growth = U.peak_rss_kb() - before
    assert.equal(MB << 20, m.fs.stat(path).size)
    os.remove(path)
    if not U.under_asan then
      assert.is_true(growth < 48 * 1024, "peak RSS grew by " .. growth .. " KiB")
    end
  end)

  it("times out with ETIMEDOUT, and fails to connect with curl's error names", function()
    local ok, msg, code = client:get(base .. "/slow?s=5", { timeout = 0.2 })
    assert.is_nil(ok)
    assert.equal("ETIMEDOUT", code)
    assert.matches("^ETIMEDOUT: .*timed out", msg)
    local l = assert(m.tcp.listen(LOCAL, 0))
    local _, port = l:address()
    l:close()
    ok, msg, code = client:get(("http://%s:%d/"):format(LOCAL, port))
    assert.is_nil(ok)
    assert.equal("COULDNT_CONNECT", code)
    assert.matches("^COULDNT_CONNECT: ", msg)
    ok, _, code = client:get("http://no-such-host.invalid/")
    assert.is_nil(ok)
    assert.equal("COULDNT_RESOLVE_HOST", code)
    ok, _, code = client:get("ftp://127.0.0.1/")
    assert.is_nil(ok)
    assert.equal("UNSUPPORTED_PROTOCOL", code)
  end)

  it("keeps a response's header lines as the server sent them, spaces around values dropped", function()
    local l = assert(m.tcp.listen(LOCAL, 0, function(s)
      s:read()
      s:write("HTTP/1.1 299 Quite  Fine \r\nX-Pad:   padded value \t\r\nX-Empty:\r\nX-Odd(name): 1\r\n"
        .. "x-pad: second\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
      s:close()
    end))
    local r = assert(client:get(("http://%s:%d/"):format(l:address())))
    l:close()
    assert.equal("Quite  Fine", r.reason)
    assert.same({ "padded value", "second" }, r.headers:get_all("X-PAD"))
    assert.equal("", r.headers["x-empty"])
    assert.equal("1", r.headers["x-odd(name)"]) -- received as sent, though not a token
    local names = {}
    for name in r.headers:each() do names[#names + 1] = name end
    assert.equal("X-Pad,X-Empty,X-Odd(name),x-pad,Content-Length,Connection", table.concat(names, ","))
  end)

  it("loads libcurl only when HTTP is first used, and says why when it cannot", function()
    local code, out, err = U.run_script([[
      local m = require "moonlet"
      local loaded = false
      for line in io.lines("/proc/self/maps") do
        if line:find("libcurl", 1, true) then loaded = true end
      end
      print("before", loaded)
      m.run(function() m.sleep(0.01) end) -- the rest of moonlet works without it
      for _, f in ipairs({ function() return m.http.client {} end, function() return m.http.curl_version end,
                           function() return m.http.url("http://h/") end, function() return m.http.get("http://h/") end }) do
        local ok, e = pcall(f)
        print(ok, e)
      end
    ]], "MOONLET_LIBCURL=/nonexistent/libcurl.so")
    assert.equal(0, code, err)
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.equal("before\tfalse", lines[1])
    assert.equal(5, #lines)
    for i = 2, 5 do
      assert.matches("^false\t.*moonlet.http: cannot load libcurl: /nonexistent/libcurl.so", lines[i])
    end
    assert.matches("^libcurl/%d", http.curl_version) -- here it loads
  end)

  it("goes through the proxy the environment names when the client is made, and straight without one", function()
    -- A proxy that answers every request itself with the request line it got.
    local proxy = assert(m.tcp.listen(LOCAL, 0, function(s)
      local line = s:read("l")
      repeat local l = s:read("l") until not l or l == "" or l == "\r"
      local body = "via proxy: " .. line:gsub("\r$", "")
      s:write(("HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"):format(#body, body))
      s:close()
    end))
    local _, pport = proxy:address()
    local script = os.tmpname()
    local f = assert(io.open(script, "w"))
    f:write([[
      local m = require "moonlet"
      m.run(function()
        local c = m.http.client {}
        local r = assert(c:get(arg[1]))
        io.write(r.body)
        c:close()
      end)
    ]])
    f:close()
    local function child(extra_env)
      local env = m.process.environ()
      for _, k in ipairs({ "http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY" }) do
        env[k] = nil
      end
      env.LUA_PATH = "./lua/?.lua;./lua/?/init.lua;;"
      env.LUA_CPATH = "./" .. U.build .. "/?.so;;"
      for k, v in pairs(extra_env) do env[k] = v end
      local out, err, code = m.process.run({ "lua5.4", script, base .. "/hello" }, { env = env, timeout = 20 })
      assert(code == 0, err)
      return out
    end
    assert.equal("hello", child({}))
    assert.equal("via proxy: GET " .. base .. "/hello HTTP/1.1",
      child({ http_proxy = ("http://%s:%d"):format(LOCAL, pport) }))
    assert.equal("hello", child({ http_proxy = ("http://%s:%d"):format(LOCAL, pport), no_proxy = LOCAL }))
    os.remove(script)
    proxy:close()
  end)

  it("sends exactly one User-Agent, the request's, the client's, or the one in its header lines", function()
    -- A server that answers with every User-Agent line it got.
    local l = assert(m.tcp.listen(LOCAL, 0, function(s)
      while true do
        local agents = {}
        repeat
          local line = s:read("l")
          if not line then return end
          local ua = line:match("^[Uu]ser%-[Aa]gent:(.-)\r?$")
          if ua then agents[#agents + 1] = "[" .. ua .. "]" end
        until line == "\r" or line == ""
        local body = table.concat(agents, ",")
        s:write(("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s"):format(#body, body))
      end
    end))
    local url = ("http://%s:%d/"):format(l:address())
    local c = http.client { user_agent = "crawler/1.0" }
    local function agents(...) return assert(c:get(url, ...)).body end
    assert.equal("[ crawler/1.0]", agents())
    assert.equal("[ crawler/1.0]", agents()) -- the kept line, again
    assert.equal("[ other/2]", agents({ user_agent = "other/2" }))
    assert.equal("[ crawler/1.0]", agents({ headers = { ["X-A"] = "1" } }))
    assert.equal("[ mine]", agents({ headers = { ["User-Agent"] = "mine" } }))
    assert.equal("[ mine]", agents({ headers = { ["user-agent"] = "mine" }, user_agent = "other/2" }))
    assert.equal("[ crawler/1.0]", assert(c:post(url, "body")).body)
    assert.equal("[ crawler/1.0]", agents())
    local d = http.client {}
    assert.matches("^%[ moonlet %(libcurl/", assert(d:get(url)).body)
    local e = http.client { user_agent = "" }
    assert.equal("", assert(e:get(url)).body) -- none at all
    for _, bad in ipairs({ "a\r\nX-Evil: 1", "a\nb", "a\0b" }) do
      assert.has_error(function() c:get(url, { user_agent = bad }) end)
      assert.has_error(function() http.client({ user_agent = bad }):get(url) end)
    end
    assert.equal("[ crawler/1.0]", agents()) -- nothing was lost
    c:close()
    d:close()
    e:close()
    l:close()
  end)

  it("reports a transfer that fails after its headers to the reader", function()
    local r = assert(client:get(base .. "/slow?s=5", { stream = true, timeout = 1 }))
    assert.equal("first\n", r:read())
    local ok, _, code = r:read()
    assert.is_nil(ok)
    assert.equal("ETIMEDOUT", code)
    r:close()
  end)

  it("cancelling a task mid-request or mid-download removes the transfer", function()
    local t = m.spawn(function() return client:get(base .. "/slow?s=5") end)
    m.sleep(0.05)
    t:cancel()
    assert.is_true(pcall(t.await, t) == false and t:cancelled())
    local reading = m.spawn(function()
      local r = assert(client:get(base .. "/slow?s=5", { stream = true }))
      r:read()
      return r:read()
    end)
    m.sleep(0.05)
    reading:cancel()
    assert.is_false(pcall(reading.await, reading))
    assert.is_true(reading:cancelled())
    -- the client goes on working
    assert.equal("hello", assert(client:get(base .. "/hello")).body)
  end)

  it("runs 1,000 concurrent requests over a pool of reused connections", function()
    local conns = 0
    local s2 = assert(m.tcp.listen(LOCAL, 0, function(s)
      conns = conns + 1
      local front = assert(m.tcp.connect(srv:address()))
      local up = m.spawn(function()
        while true do
          local d = s:read()
          if not d or not front:write(d) then break end
        end
        front:shutdown()
      end)
      while true do
        local d = front:read()
        if not d or not s:write(d) then break end
      end
      up:cancel()
      front:close()
    end))
    local _, port = s2:address()
    local c = http.client { max_connections = 20 }
    local tasks = {}
    for i = 1, 1000 do
      tasks[i] = m.spawn(function()
        return assert(c:get(("http://%s:%d/echo?i=%d"):format(LOCAL, port, i))).headers["x-query"]
      end)
    end
    local got = m.gather(tasks)
    for i = 1, 1000 do assert.equal("i=" .. i, got[i]) end
    assert.is_true(conns <= 20, conns .. " connections for 1,000 requests")
    c:close()
    s2:close()
  end)

  -- A raw HTTP/1.1 responder that counts its connections and answers each
  -- request with its own target, so every answer can be checked.
  local function counting_server()
    local state = { conns = 0 }
    local counted = assert(m.tcp.listen(LOCAL, 0, function(s)
      state.conns = state.conns + 1
      local pending = ""
      while true do
        local d = s:read()
        if not d then break end
        pending = pending .. d
        while true do
          local head_end = pending:find("\r\n\r\n", 1, true)
          if not head_end then break end
          local target = pending:match("^%u+ (%S+)")
          pending = pending:sub(head_end + 4)
          if not s:write(("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s"):format(#target, target)) then
            return
          end
        end
      end
    end))
    finally(function() counted:close() end)
    local _, port = counted:address()
    state.url = ("http://%s:%d"):format(LOCAL, port)
    return state
  end

  -- Runs n requests at once, each from its own task; checks every answer.
  local function wave(c, url, n, tag)
    local tasks = {}
    for i = 1, n do
      tasks[i] = m.spawn(function() return assert(c:get(("%s/%s/%d"):format(url, tag, i))).body end)
    end
    local got = m.gather(tasks)
    for i = 1, n do assert.equal(("/%s/%d"):format(tag, i), got[i]) end
  end

  it("spreads a busy client over several connection pools within its limit", function()
    -- 130 connections: pools of 44, 43 and 43, which together keep the limit.
    local counted = counting_server()
    local c = http.client { max_connections = 130 }
    wave(c, counted.url, 300, "a")
    assert.equal(130, counted.conns)
    -- Every pool's connections are reused: no new ones for as many requests again.
    wave(c, counted.url, 130, "b")
    wave(c, counted.url, 300, "c")
    assert.equal(130, counted.conns)
    c:close()
  end)

  it("runs as many transfers at once to one host as max_per_host lets, over several pools", function()
    -- Each request is answered only once all 100 have arrived (or late).
    local arrived, conns = 0, 0
    local counted = assert(m.tcp.listen(LOCAL, 0, function(s)
      conns = conns + 1
      while true do
        local line
        repeat line = s:read("l") until not line or line == "" or line == "\r"
        if not line then return end
        arrived = arrived + 1
        local deadline = m.now() + 2
        while arrived < 100 and m.now() < deadline do m.sleep(0.01) end
        local body = arrived >= 100 and "together" or "late"
        s:write(("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s"):format(#body, body))
      end
    end))
    finally(function() counted:close() end)
    local _, port = counted:address()
    -- (a total limit far above the pools' is kept whole, and works)
    local c = http.client { max_per_host = 100, max_connections = 1 << 40 } -- two pools of 50 for this host
    local tasks = {}
    for i = 1, 100 do
      tasks[i] = m.spawn(function() return assert(c:get(("http://%s:%d/%d"):format(LOCAL, port, i))).body end)
    end
    for i, body in ipairs(m.gather(tasks)) do assert.equal("together", body, i) end
    assert.equal(100, conns)
    c:close()
  end)

  it("reuses the connections of every pool of a client without limits", function()
    local counted = counting_server()
    local c = http.client()
    wave(c, counted.url, 150, "a") -- pools of 64, 64 and 22 transfers at once
    local first = counted.conns
    assert.is_true(first <= 150, first .. " connections for 150 requests")
    -- Without a limit, curl keeps four idle connections per transfer still
    -- running in a pool, so the end of a wave closes about a quarter of
    -- them (35 here); without reuse in the second and third pools, over 100.
    wave(c, counted.url, 150, "b")
    assert.is_true(counted.conns - first < 50, counted.conns - first .. " new connections")
    c:close()
  end)

  it("ends transfers in every pool when the client closes or their tasks are cancelled", function()
    local c = http.client()
    local tasks = {}
    for i = 1, 150 do
      tasks[i] = m.spawn(function() return c:get(base .. "/slow?s=5&i=" .. i) end)
    end
    m.sleep(0.1)
    tasks[150]:cancel() -- its transfer is in the third pool
    assert.is_false(pcall(tasks[150].await, tasks[150]))
    assert.is_true(tasks[150]:cancelled())
    assert.is_true(c:close())
    for i = 1, 149 do
      local ok, err = tasks[i]:await()
      assert.is_nil(ok)
      assert.matches("client closed during the request", err)
    end
    assert.has_error(function() c:get(base .. "/hello") end)
  end)

  it("goes through an HTTP proxy", function()
    local seen
    local proxy = assert(http.listen(LOCAL, 0, function(req, res)
      seen = req.target -- a proxy gets the absolute URL
      res:finish("via proxy: " .. req.headers.host)
    end))
    local r = assert(client:get("http://example.invalid/page", { proxy = ("http://%s:%d"):format(proxy:address()) }))
    assert.equal("via proxy: example.invalid", r.body)
    assert.equal("http://example.invalid/page", seen)
    proxy:close()
  end)

  it("uses a default client for the module-level functions", function()
    assert.equal("hello", assert(http.get(base .. "/hello")).body)
    assert.equal("x", assert(http.post(base .. "/echo", "x")).body)
    assert.equal(200, assert(http.head(base .. "/hello")).status)
    assert.equal("y", assert(http.request { url = base .. "/echo", body = "y" }).body)
    assert.is_true(http.close())
    assert.equal("hello", assert(http.get(base .. "/hello")).body)
  end)

  it("rejects bad arguments and closed objects with clear errors", function()
    assert.has_error(function() client:get(42) end, "bad argument #1 to 'get' (string expected, got number)")
    assert.has_error(function() client:request("x") end, "bad argument #1 to 'request' (table expected, got string)")
    assert.has_error(function() client:request {} end,
      "bad argument #1 to 'request' (option 'url' must be a string)")
    assert.has_error(function() client:request { url = base, bogus = 1 } end,
      "bad argument #1 to 'request' (unknown option 'bogus')")
    assert.has_error(function() client:request { url = base, timeout = "soon" } end,
      "bad argument #1 to 'request' (option 'timeout' must be a number of seconds)")
    assert.has_error(function() client:request { url = base, body = "a", json = {} } end,
      "bad argument #1 to 'request' (options 'body', 'form' and 'json' exclude each other)")
    assert.has_error(function() client:request { url = base, json = { [true] = 1 } } end)
    assert.has_error(function() client:request { url = base, proxy = 8080 } end,
      "bad argument #1 to 'request' (option 'proxy' must be a string)")
    assert.has_error(function() client:request { url = base, http2 = "yes" } end,
      "bad argument #1 to 'request' (option 'http2' must be a boolean or \"prior\")")
    assert.has_error(function() client._c:_perform({ ca_file = 1 }, base) end,
      "option 'ca_file' must be a string")
    assert.has_error(function() http.client { max_connections = -1 } end,
      "bad argument #1 to 'client' (option 'max_connections' must be a non-negative integer)")
    assert.has_error(function() http.client { cookies = 3 } end)
    -- a client's defaults are its fields: set wrong, they raise, none ignored
    local bad = http.client()
    for field, value in pairs({ timeout = "soon", connect_timeout = -1, user_agent = 5, max_body = "big" }) do
      bad[field] = value
      local ok, err = pcall(bad.get, bad, base .. "/hello")
      assert.is_false(ok, field)
      assert.matches(field, err, 1, true)
      bad[field] = nil
    end
    assert.equal("hello", assert(bad:get(base .. "/hello")).body)
    bad:close()
    local ok, _, code = client:get("not a url at all")
    assert.is_nil(ok)
    assert.is_string(code)
    local r = assert(client:get(base .. "/hello"))
    assert.has_error(function() r:read() end)
    local c = http.client()
    assert.is_true(c:close())
    assert.is_true(c:close())
    assert.has_error(function() c:get(base .. "/hello") end, "attempt to use a closed moonlet.http_client")
    r = assert(client:get(base .. "/chunked", { stream = true }))
    r:close()
    assert.has_error(function() r:read() end, "attempt to use a closed moonlet.http_response")
  end)

  it("closing the client fails the requests it is running", function()
    local c = http.client()
    local t = m.spawn(function() return c:get(base .. "/slow?s=5") end)
    m.sleep(0.05)
    c:close()
    local ok, msg, code = t:await()
    assert.is_nil(ok)
    assert.equal("ECANCELED", code)
    assert.matches("closed", msg)
  end)

  it("resolves URLs against a base, dropping fragments", function()
    local u = assert(http.url("http://Example.com/a/b/c.html?x=1#top", "../d.html#frag"))
    assert.equal("http://example.com/a/d.html", u.url)
    assert.equal("example.com", u.host)
    assert.equal(80, u.port)
    assert.equal("/a/d.html", u.path)
    assert.equal("https", assert(http.url("https://h/x", "//other/y")).scheme)
    assert.equal("https://other/y", assert(http.url("https://h/x", "//other/y")).url)
    assert.equal("http://h/x?q=2", assert(http.url("http://h/x?q=1", "?q=2")).url)
    assert.equal("http://h/a/b?q=1", assert(http.url("http://h/a/b?q=1", "#top")).url)
    assert.equal("http://h/a/b", assert(http.url("http://h/a/b", "")).url)
    local bad, msg = http.url("http://[bad")
    assert.is_nil(bad)
    assert.is_string(msg)
  end)
end)

-- Raw requests on a TCP connection: the exact bytes the server answers.
local function raw(port, request, opts)
  local s = assert(m.tcp.connect(LOCAL, port))
  assert(s:write(request))
  if opts and opts.shutdown then s:shutdown() end
  local out = s:read("a")
  s:close()
  return out
end

describe("moonlet.http server", function()
  local before_all, after_all = U.descriptor_check(function() assert(m.tcp.listen(LOCAL, 0)):close() end)
  setup(before_all)
  teardown(after_all)

  local function serve(handler, opts)
    local s = assert(http.listen(LOCAL, 0, handler, opts))
    finally(function() s:close() end)
    local _, port = s:address()
    return s, port
  end

  it("parses requests and answers keep-alive and pipelined ones in order", function()
    local seen = {}
    local _, port = serve(function(req, res)
      seen[#seen + 1] = req
      res:finish(req.method .. " " .. req.path .. " " .. req.query .. " " .. (req:body() or "?"))
    end)
    local out = raw(port,
      "GET /a?x=1&y=%20 HTTP/1.1\r\nHost: h\r\nX-Two: 1\r\nx-two: 2\r\nEmpty:\r\n\r\n" ..
      "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbody" ..
      "GET /c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    local bodies = {}
    for b in (out .. "HTTP/"):gmatch("\r\n\r\n(.-)HTTP/") do bodies[#bodies + 1] = b end
    assert.same({ "GET /a x=1&y=%20 ", "POST /b  body", "GET /c  " }, bodies)
    assert.equal(3, #seen)
    assert.same({ "1", "2" }, seen[1].headers:get_all("X-TWO"))
    assert.equal("", seen[1].headers.empty)
    assert.equal("1.1", seen[1].version)
    assert.equal(LOCAL, seen[1].remote)
    assert.same({ x = "1", y = " " }, (http.parse_query(seen[1].query)))
    assert.matches("Connection: close", out)
  end)

  it("reads chunked request bodies and writes chunked responses", function()
    local _, port = serve(function(req, res)
      local n = 0
      for line in req:lines() do
        n = n + 1
        res:write(n .. ":" .. line .. ";")
      end
    end)
    local out = raw(port, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" ..
      "4\r\nab\nc\r\n3\r\nde\n\r\n0\r\n\r\n")
    assert.matches("Transfer%-Encoding: chunked", out)
    assert.matches("5\r\n1:ab;\r\n6\r\n2:cde;\r\n", out, 1, true)
    assert.matches("0\r\n\r\n$", out)
  end)

  it("answers HTTP/1.0 with a body ended by the close", function()
    local _, port = serve(function(_, res) res:write("one "); res:write("two") end)
    local out = raw(port, "GET / HTTP/1.0\r\n\r\n")
    assert.matches("^HTTP/1.1 200 OK\r\n", out)
    assert.matches("Connection: close", out)
    assert.matches("\r\n\r\none two$", out)
  end)

  it("honours framing fields the handler sets in any case, and checks custom reasons", function()
    local _, port = serve(function(req, res)
      if req.path == "/length" then
        res.headers["content-length"] = 3 -- the handler frames the body itself
        res:write("abc")
      elseif req.path == "/close" then
        res.headers["CONNECTION"] = "Close"
        res:finish("bye")
      elseif req.path == "/reason" then
        res.status, res.reason = 299, "Fine"
        res:finish("x")
      else
        res.status, res.reason = 200, "OK\r\nX-Evil: 1"
        res:finish("never")
      end
    end)
    local out = raw(port, "GET /length HTTP/1.1\r\nHost: h\r\n\r\nGET /reason HTTP/1.1\r\nHost: h\r\n\r\n"
      .. "GET /close HTTP/1.1\r\nHost: h\r\n\r\n")
    assert.equal("HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabc"
      .. "HTTP/1.1 299 Fine\r\nContent-Length: 1\r\n\r\nx"
      .. "HTTP/1.1 200 OK\r\nCONNECTION: Close\r\nContent-Length: 3\r\n\r\nbye", out) -- then closed
    out = raw(port, "GET /evil HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    assert.matches("^HTTP/1.1 500 Internal Server Error\r\n", out) -- the bad reason raised
  end)

  it("parses the same requests from bytes split anywhere, one at a time included", function()
    local core = require "moonlet.core"
    local wire = "POST /p?q=1 HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nEmpty:\r\nX-Long: " .. ("v"):rep(300)
      .. "\r\nx-a: 2\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n4\r\n abc\r\n0\r\nX-T: t\r\nX-U:\r\n\r\n"
      .. "GET /next HTTP/1.1\r\nHost: other\r\n\r\n"
    -- What the parser makes of the chunks, as text (bodies joined).
    local function parse(chunks)
      local p = core._http_parser { request_mt = {} }
      local out, body = {}, nil
      local function event(kind, v)
        if kind == "body" then body = (body or "") .. v return end
        if body then out[#out + 1] = "body=" .. body; body = nil end
        if kind == "head" then
          local fields = {}
          for name, value in v.headers:each() do fields[#fields + 1] = name .. "=" .. value end
          out[#out + 1] = table.concat({ "head", v.method, v.target, v.path, v.query, v.version,
            tostring(v._done), table.concat(fields, ",") }, " ")
        elseif kind == "trailers" then
          local fields = {}
          for name, value in v:each() do fields[#fields + 1] = name .. "=" .. value end
          out[#out + 1] = "trailers " .. table.concat(fields, ",")
        else
          out[#out + 1] = kind
        end
      end
      for _, chunk in ipairs(chunks) do
        local n, kind, v, events = p:feed(chunk)
        assert(n, kind)
        if kind then event(kind, v) end
        for i = 1, n, 2 do event(events[i], events[i + 1]) end
      end
      return table.concat(out, "\n")
    end
    local whole = parse({ wire })
    assert.equal("head POST /p?q=1 /p q=1 1.1 nil Host=h,X-A=1,Empty=,X-Long=" .. ("v"):rep(300)
      .. ",x-a=2,Transfer-Encoding=chunked\nbody=hello abc\ntrailers X-T=t,X-U=\ndone\n"
      .. "head GET /next /next  1.1 true Host=other", whole)
    for cut = 1, #wire - 1 do
      assert.equal(whole, parse({ wire:sub(1, cut), wire:sub(cut + 1) }), "split at " .. cut)
    end
    local bytes = {}
    for i = 1, #wire do bytes[i] = wire:sub(i, i) end
    assert.equal(whole, parse(bytes))
  end)

  it("parses whole plain heads on its own path into the same requests as http-parser", function()
    local core = require "moonlet.core"
    -- Each wire parsed whole (a plain head takes the fast path) and fed a
    -- byte at a time (always http-parser): the same events or the same error.
    local function parse(chunks, max_header)
      local p = core._http_parser { request_mt = {}, max_header = max_header }
      local out = {}
      local function event(kind, v)
        if kind == "head" then
          local fields = {}
          for name, value in v.headers:each() do fields[#fields + 1] = name .. "=" .. value end
          out[#out + 1] = table.concat({ "head", v.method, v.target, v.path, v.query, v.version,
            tostring(v.keep_alive), tostring(v.upgrade), tostring(v._body_chunked),
            tostring(v._body_length), tostring(v._done), table.concat(fields, ",") }, " ")
        elseif kind == "upgrade" then -- the parser is done: what follows is not its
          out[#out + 1] = kind
        elseif kind == "body" and out[#out]:match("^body ") then -- bodies joined
          out[#out] = out[#out] .. v
        else
          out[#out + 1] = kind .. " " .. tostring(type(v) == "userdata" and #v or v)
        end
      end
      for _, chunk in ipairs(chunks) do
        if out[#out] == "upgrade" then break end
        local n, kind, v, events = p:feed(chunk)
        if not n then
          out[#out + 1] = "error " .. v
          break
        end
        if kind then event(kind, v) end
        for i = 1, n, 2 do event(events[i], events[i + 1]) end
      end
      return table.concat(out, "\n"), p:_plain_heads()
    end
    local H = "Host: h\r\n"
    local cases = { -- wire, heads the fast path takes when it comes whole
      { "GET / HTTP/1.1\r\n" .. H .. "\r\n", 1 },
      { "GET /a?b=1#c?d HTTP/1.1\r\n" .. H .. "X:\tb\r\nEmpty:\r\nBlank: \r\n\r\n", 1 },
      { "GET /x HTTP/1.0\r\n" .. H .. "\r\n", 1 },
      { "GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 1 },
      { "GET /x HTTP/1.0\r\nConnection: close\r\nConnection: keep-alive\r\n\r\n", 1 },
      { "GET /x HTTP/1.1\r\nConnection: Close\r\n\r\n", 1 },
      { "DELETE /x HTTP/1.1\r\n\r\nPATCH /y HTTP/1.1\r\n\r\nOPTIONS /z HTTP/1.1\r\n\r\nHEAD / HTTP/1.1\r\n\r\n", 4 },
      { "PUT /u HTTP/1.1\r\nX-Name: caf\xc3\xa9 \xff!\r\n\r\n", 1 },
      { "POST /p HTTP/1.1\r\n" .. H .. "\r\nGET /q HTTP/1.1\r\n" .. H .. "\r\n", 2 },
      -- http-parser's, whole or not
      { "GET /x HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\nbytes", 0 },
      { "GET /x HTTP/1.1\r\nConnection: upgrade\r\n\r\n", 0 },
      { "GET /x HTTP/1.1\r\nProxy-Connection: close\r\n\r\n", 0 },
      { "GET /x HTTP/1.1\r\nX: trailing \r\n\r\n", 0 },
      { "GET /x HTTP/1.1\r\nX: a\r\n  folded\r\n\r\n", 0 },
      { "GET / HTTP/1.1\nHost: h\n\n", 0 },
      { "\r\nGET / HTTP/1.1\r\n\r\n", 0 },
      { "GET http://h/x HTTP/1.1\r\n\r\n", 0 },
      { "OPTIONS * HTTP/1.1\r\n\r\n", 0 },
      { "CONNECT h:443 HTTP/1.1\r\n\r\nrest", 0 },
      { "POST /p HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 0 },
      { "POST /p HTTP/1.1\r\ncontent-length: 5\r\n\r\nhello", 0 },
      { "POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 0 },
      { "GET / HTTP/1.1\r\n" .. H .. "\r\nPOST /p HTTP/1.1\r\nContent-Length: 2\r\n\r\nok", 1 },
      { "PURGE /x HTTP/1.1\r\n\r\n", 0 },
      { "get / HTTP/1.1\r\n\r\n", 0 },
      { "GET  / HTTP/1.1\r\n\r\n", 0 },
      { "GET / HTTP/1.2\r\n\r\n", 0 },
      { "GET / HTTP/2.0\r\n\r\n", 0 },
      { "GET / http/1.1\r\n\r\n", 0 },
      { "GET /a\1b HTTP/1.1\r\n\r\n", 0 },
      { "GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n", 0 },
      { "GET / HTTP/1.1\r\nX: a\1b\r\n\r\n", 0 },
      { "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n", 0 },
      { "GET / HTTP/1.1\r\nX: a\127\r\n\r\n", 0 },
      { "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", 0 },
      { "GET / HTTP/1.1\r\nX : a\r\n\r\n", 0 },
      { "GET / HTTP/1.1\r\n: a\r\n\r\n", 0 },
      { "GET / HTTP/1.1\r\nNo-Colon\r\n\r\n", 0 },
      { "GET / HTTP/1.1\r\nX: a\r\n\r", 0 },
      { "GET / HTTP/1.1\r\nX: a\r\n", 0 },
    }
    for _, case in ipairs(cases) do
      local wire, plain = case[1], case[2]
      local whole, taken = parse({ wire })
      local bytes = {}
      for i = 1, #wire do bytes[i] = wire:sub(i, i) end
      local slow, none = parse(bytes)
      assert.equal(slow, whole, wire)
      assert.equal(plain, taken, wire)
      assert.equal(0, none)
    end
    -- Over max_header: http-parser's error, from either path.
    local long = "GET /" .. ("a"):rep(40) .. " HTTP/1.1\r\nX-Long: " .. ("v"):rep(30) .. "\r\n\r\n"
    local whole, taken = parse({ long }, 64)
    assert.equal("error HEADER_TOO_LARGE", whole)
    assert.equal(0, taken)
    assert.equal(whole, (parse({ long:sub(1, 20), long:sub(21) }, 64)))
    assert.equal("error HEADER_TOO_LARGE", (parse({ "GET /" .. ("a"):rep(70) .. " HTTP/1.1\r\n\r\n" }, 64)))
  end)

  it("splits the target into path and query as the parser reads it", function()
    local seen = {}
    local _, port = serve(function(req, res)
      seen[#seen + 1] = { req.target, req.path, req.query }
      res:finish("")
    end)
    raw(port, "GET /a?b=1#frag HTTP/1.1\r\nHost: h\r\n\r\nGET /a#x?y HTTP/1.1\r\nHost: h\r\n\r\n"
      .. "GET /? HTTP/1.1\r\nHost: h\r\n\r\nGET /p?q=%20 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    assert.same({ { "/a?b=1#frag", "/a", "b=1" }, { "/a#x?y", "/a", "" }, { "/?", "/", "" },
                  { "/p?q=%20", "/p", "q=%20" } }, seen)
  end)

  it("gives a request's headers in every way: lookups in any case, repeats, order, copies, changes", function()
    local seen
    local _, port = serve(function(req, res)
      local h = req.headers
      local first = { h["x-a"], h:get("X-A"), h["missing"], h["empty"] } -- looked up packed
      local order = {}
      for name, value in h:each() do order[#order + 1] = name .. "=" .. value end
      local all = h:get_all("x-a")
      local copy = m.http.Headers(h)
      h:set("X-A", "replaced")
      h:remove("host")
      seen = { first = first, order = table.concat(order, ","), all = all,
               after = { h["x-a"], h.host, #h:get_all("x-a") }, copy = { copy:get("x-a"), copy.host },
               text = tostring(h) }
      res:finish("")
    end)
    raw(port, "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nEmpty:\r\nx-a: 2\r\nConnection: close\r\n\r\n")
    assert.same({ "1", "1", nil, "" }, seen.first)
    assert.equal("Host=h,X-A=1,Empty=,x-a=2,Connection=close", seen.order)
    assert.same({ "1", "2" }, seen.all)
    assert.same({ "replaced", nil, 1 }, seen.after)
    assert.same({ "1", "h" }, seen.copy)
    assert.equal("Empty: \nConnection: close\nX-A: replaced", seen.text)
  end)

  it("answers 500 for a status that is not an integer from 100 to 999, and takes 200.0 as 200", function()
    local statuses = { ["/string"] = "200", ["/low"] = 99, ["/high"] = 1000, ["/fraction"] = 200.5,
                       ["/table"] = {}, ["/nan"] = 0 / 0, ["/float"] = 200.0, ["/odd"] = 299 }
    local errors = {}
    local _, port = serve(function(req, res)
      res.status = statuses[req.path]
      local ok, err = pcall(res.finish, res, "x")
      if not ok then
        errors[#errors + 1] = err
        error(err, 0)
      end
    end)
    for _, path in ipairs({ "/string", "/low", "/high", "/fraction", "/table", "/nan" }) do
      local out = raw(port, "GET " .. path .. " HTTP/1.1\r\nHost: h\r\n\r\n")
      assert.matches("^HTTP/1.1 500 Internal Server Error\r\n", out)
    end
    assert.equal(6, #errors)
    for _, err in ipairs(errors) do assert.matches("bad response status", err, 1, true) end
    -- the status is checked before the cache of status lines is looked up
    local close = "Host: h\r\nConnection: close\r\n\r\n"
    assert.matches("^HTTP/1.1 200 OK\r\n", raw(port, "GET /float HTTP/1.1\r\n" .. close))
    assert.matches("^HTTP/1.1 299 Unknown\r\n", raw(port, "GET /odd HTTP/1.1\r\n" .. close))
    assert.matches("^HTTP/1.1 500 ", raw(port, "GET /string HTTP/1.1\r\nHost: h\r\n\r\n"))
  end)

  it("keeps no big parsing buffers after a burst of huge heads", function()
    local testmod = require "moonlet_testmod"
    local _, port = serve(function(_, res) res:finish("ok") end)
    local function request(extra)
      local c = assert(m.tcp.connect(LOCAL, port))
      assert(c:write("GET / HTTP/1.1\r\nHost: h\r\n" .. extra))
      return c
    end
    local function finish(c)
      assert(c:write("Connection: close\r\n\r\n"))
      assert.matches("\r\n\r\nok$", c:read("a"))
      c:close()
    end
    finish(request("")) -- everything else made once
    collectgarbage()
    collectgarbage()
    local held = testmod.heap_in_use()
    do
      local conns = {}
      for i = 1, 100 do conns[i] = request("X-Big: " .. ("x"):rep(60000) .. "\r\n") end
      m.sleep(0.3) -- every head is begun: 100 parsers hold 128 KB of buffers each
      for _, c in ipairs(conns) do finish(c) end
    end
    m.sleep(4.5) -- the read buffers' pool is trimmed back to four spares
    collectgarbage()
    collectgarbage()
    local grown = testmod.heap_in_use() - held
    if held == 0 then return end -- malloc replaced (ASan, Valgrind): nothing to read
    -- The 100 parsers' buffers went back to the pool: kept whole, 13 MB;
    -- a spare keeps none over 4 KB.
    assert.is_true(grown < 4e6, ("%.1f MB kept"):format(grown / 1e6))
  end)

  it("sends a plain table put in res.headers as a header list, and answers 500 for anything else", function()
    local _, port = serve(function(req, res)
      if req.path == "/table" then
        res.headers = { ["X-B"] = "2", ["X-A"] = { "1", "3" } }
      elseif req.path == "/bad" then
        res.headers = { ["Bad Name"] = "1" }
      else
        res.headers = 5
      end
      res:finish("x")
    end)
    local out = raw(port, "GET /table HTTP/1.1\r\nHost: h\r\n\r\nGET /bad HTTP/1.1\r\nHost: h\r\n\r\n")
    assert.matches("^HTTP/1.1 200 OK\r\nX%-A: 1\r\nX%-A: 3\r\nX%-B: 2\r\nContent%-Length: 1\r\n\r\nx"
      .. "HTTP/1.1 500 Internal Server Error\r\n", out)
    out = raw(port, "GET /five HTTP/1.1\r\nHost: h\r\n\r\n")
    assert.matches("^HTTP/1.1 500 Internal Server Error\r\n", out)
  end)

  it("keeps checking header values after good ones were remembered", function()
    local _, port = serve(function(req, res)
      res.headers["X-Value"] = "plain" -- remembered as good
      local ok = pcall(function() res.headers["X-Value"] = req.path == "/bad" and "a\r\nb" or "plain" end)
      res:finish(tostring(ok))
    end)
    local out = raw(port, "GET /good HTTP/1.1\r\nHost: h\r\n\r\nGET /bad HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    assert.matches("\r\n\r\ntrue", out)
    assert.matches("\r\n\r\nfalse$", out)
  end)

  it("sends no body for HEAD, 204 and 304", function()
    local _, port = serve(function(req, res)
      if req.path == "/none" then res.status = 204 end
      res:finish("body")
    end)
    local out = raw(port, "HEAD / HTTP/1.1\r\nHost: h\r\n\r\nGET /none HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    assert.matches("^HTTP/1.1 200 OK\r\nContent%-Length: 4\r\n\r\nHTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n$", out)
  end)

  it("answers 100 Continue when the handler reads the body", function()
    local _, port = serve(function(req, res) res:finish("got " .. req:body()) end)
    local s = assert(m.tcp.connect(LOCAL, port))
    s:write("PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
    assert.equal("HTTP/1.1 100 Continue\r", s:read("l"))
    assert.equal("\r", s:read("l"))
    s:write("abc")
    assert.equal("HTTP/1.1 200 OK\r", s:read("l"))
    s:close()
  end)

  it("refuses malformed requests, large heads and large bodies with 4xx", function()
    local calls = 0
    local _, port = serve(function(req, res)
      calls = calls + 1
      local b, _, code = req:body()
      res:finish(b and "ok" or "handler saw " .. code) -- not sent: 413 went out

    end, { max_header = 1024, max_body = 100 })
    assert.matches("^HTTP/1.1 400 Bad Request", raw(port, "NOT HTTP AT ALL\r\n\r\n"))
    assert.matches("^HTTP/1.1 431 ", raw(port, "GET / HTTP/1.1\r\nX: " .. ("a"):rep(2000) .. "\r\n\r\n"))
    assert.matches("^HTTP/1.1 413 ", raw(port, "POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n" .. ("a"):rep(101)))
    assert.equal(0, calls)
    local out = raw(port, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" ..
      ("40\r\n" .. ("a"):rep(64) .. "\r\n"):rep(3) .. "0\r\n\r\n")
    assert.matches("^HTTP/1.1 413 ", out)
    assert.not_matches("handler saw", out)
    assert.equal(1, calls)
  end)

  it("answers 500 when a handler fails, reports it and goes on serving", function()
    local reports, traceback = {}, nil
    local prev = m.on_error(function(err, tb, _, where)
      reports[#reports + 1] = tostring(err) .. " @ " .. where
      traceback = tb
    end)
    local fail_line = debug.getinfo(1, "l").currentline + 2
    local _, port = serve(function(req, res)
      if req.path == "/fail" then error("handler broke") end
      res:finish("fine")
    end)
    assert.matches("^HTTP/1.1 500 Internal Server Error", raw(port, "GET /fail HTTP/1.1\r\nHost: h\r\n\r\n"))
    assert.matches("fine$", raw(port, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n"))
    m.on_error(prev)
    assert.equal(1, #reports)
    assert.matches("handler broke @ http handler GET /fail", reports[1])
    assert.matches("http_spec.lua:" .. fail_line .. ":", traceback, 1, true)
  end)

  it("closes idle keep-alive connections after its timeout", function()
    local _, port = serve(function(_, res) res:finish("x") end, { timeout = 0.1 })
    local s = assert(m.tcp.connect(LOCAL, port))
    s:write("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    local out = s:read("a")
    assert.matches("\r\n\r\nx$", out)
    s:close()
  end)

  it("rejects bad arguments", function()
    assert.has_error(function() http.listen(LOCAL, "eighty", function() end) end,
      "bad argument #2 to 'listen' (port number expected, got string)")
    assert.has_error(function() http.listen(LOCAL, 0) end, "bad argument #3 to 'listen' (function expected, got nil)")
    assert.has_error(function() http.listen(LOCAL, 0, function() end, { max_body = 0 }) end,
      "bad argument #4 to 'listen' (option 'max_body' must be a positive integer)")
    local _, port = serve(function(_, res)
      local ok, err = pcall(res.write, res, 42)
      res:finish(ok and "accepted" or err)
    end)
    assert.matches("bad argument #1 to 'write' %(string expected, got number%)", raw(port, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n"))
  end)
end)
