-- moonlet.http over TLS and HTTP/2 against a real nginx the spec starts
-- (single process, its own prefix and a self-signed certificate made here
-- with openssl), and TLS failures against servers that are not TLS.
local m = require "moonlet"
local U = require "support.util"
local tls_nginx = require "support.tls_nginx"
local http = m.http

local LOCAL = "127.0.0.1"
local BIG = U.under_valgrind and 2 or 20 -- MiB

describe("moonlet.http over TLS and HTTP/2 (nginx)", function()
  local server, dir, base, ca
  local before_all, after_all = U.descriptor_check(function()
    assert(m.tcp.listen(LOCAL, 0)):close()
    assert(m.process.run({ "true" }))
  end)
  setup(function()
    before_all()
    server = tls_nginx.start([[
    location /files/ { root %s; }
    location / { default_type text/plain; return 200 "hello over $server_protocol\n"; }]])
    dir, ca = server.dir, server.ca
    assert(m.fs.mkdir(dir .. "/files"))
    local f = assert(io.open(dir .. "/files/big.bin", "wb"))
    local block = ("0123456789abcdef"):rep(65536)
    for _ = 1, BIG do f:write(block) end
    f:close()
    base = ("https://localhost:%d"):format(server.port)
  end)
  teardown(function()
    server.stop()
    http.close()
    after_all()
  end)

  local client
  before_each(function() client = http.client() end)
  after_each(function() client:close() end)

  it("refuses a certificate it cannot verify", function()
    local r, msg, code = client:get(base .. "/")
    assert.is_nil(r)
    assert.equal("PEER_FAILED_VERIFICATION", code)
    assert.matches("certificate", msg)
  end)

  it("speaks HTTP/2 to a server it trusts through ca_file", function()
    local r = assert(client:get(base .. "/", { ca_file = ca }))
    assert.equal(200, r.status)
    assert.equal("2", r.http_version)
    assert.equal("hello over HTTP/2.0\n", r.body)
    assert.equal("OK", r.reason) -- HTTP/2 has no reason phrase: the standard one
    r = assert(client:get(("https://127.0.0.1:%s/"):format(base:match("%d+$")), { ca_file = ca }))
    assert.equal(200, r.status) -- the certificate names the IP too
  end)

  it("skips verification with verify = false, and falls back to HTTP/1.1 on request", function()
    local r = assert(client:get(base .. "/", { verify = false }))
    assert.equal("2", r.http_version)
    r = assert(client:get(base .. "/", { verify = false, http2 = false }))
    assert.equal("1.1", r.http_version)
    assert.equal("hello over HTTP/1.1\n", r.body)
  end)

  it("multiplexes 200 concurrent requests", function()
    local tasks = {}
    for i = 1, 200 do
      tasks[i] = m.spawn(function()
        local r = assert(client:get(base .. "/?i=" .. i, { ca_file = ca }))
        return r.http_version .. " " .. r.status
      end)
    end
    for _, v in ipairs(m.gather(tasks)) do assert.equal("2 200", v) end
  end)

  it("streams a file over HTTP/2 and aborts a download mid-way", function()
    local r = assert(client:get(base .. "/files/big.bin", { ca_file = ca, stream = true }))
    assert.equal(tostring(BIG << 20), r.headers["content-length"])
    local got = 0
    while got < (1 << 20) do got = got + #assert(r:read()) end
    r:close()
    local path = os.tmpname()
    r = assert(client:get(base .. "/files/big.bin", { ca_file = ca, stream = true }))
    assert.equal(BIG << 20, assert(r:save(path)))
    os.remove(path)
    local t = m.spawn(function()
      local s = assert(client:get(base .. "/files/big.bin", { ca_file = ca, stream = true }))
      while s:read() do m.sleep(0.001) end
    end)
    m.sleep(0.05)
    t:cancel()
    assert.is_false(pcall(t.await, t))
    assert.equal(200, assert(client:get(base .. "/", { ca_file = ca })).status)
  end)

  it("reports a TLS handshake with a server that does not speak TLS", function()
    local srv = assert(m.tcp.listen(LOCAL, 0, function(s)
      s:write("this is not TLS\r\n\r\n")
    end))
    local _, port = srv:address()
    local r, _, code = client:get(("https://%s:%d/"):format(LOCAL, port))
    assert.is_nil(r)
    assert.equal("SSL_CONNECT_ERROR", code)
    srv:close()
  end)
end)
