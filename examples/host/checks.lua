-- Configuration of examples/host/health.c: the list of checks, each a
-- function that returns a detail string or raises. A real configuration
-- would point at real services; this one starts its own on 127.0.0.1 so
-- the example runs anywhere.
local m = require "moonlet"

local echo = assert(m.tcp.listen("127.0.0.1", 0, function(s)
  for line in s:lines("L") do s:write(line) end
end))
local web = assert(m.http.listen("127.0.0.1", 0, function(req, res)
  if req.path == "/health" then return res:finish("all good") end
  res.status = 503
  res:finish("down for maintenance")
end))
local _, echo_port = echo:address()
local web_url = ("http://%s:%d"):format(web:address())

return {
  { name = "tcp echo", run = function()
      local s = assert(m.tcp.connect("127.0.0.1", echo_port, { timeout = 1 }))
      s:write("ping\n")
      local reply = s:read("l")
      s:close()
      assert(reply == "ping", "bad echo: " .. tostring(reply))
      return "echoed ping"
    end },
  { name = "http /health", run = function()
      local r = assert(m.http.get(web_url .. "/health", { timeout = 1 }))
      assert(r.status == 200, "status " .. r.status)
      return r.status .. " " .. r.body
    end },
  { name = "http /status", run = function()
      local r = assert(m.http.get(web_url .. "/status", { timeout = 1 }))
      assert(r.status == 200, "status " .. r.status .. " " .. r.body)
      return r.body
    end },
  { name = "process uname", run = function()
      local out, err, code = m.process.run({ "uname", "-s" }, { timeout = 1 })
      assert(code == 0, err)
      return out:gsub("%s+$", "")
    end },
  { name = "checksum thread", run = function()
      return ("fnv1a(hello) = %08x"):format(host.checksum("hello"))
    end },
  { name = "slow dependency", timeout = 0.2, run = function()
      m.sleep(5)
      return "never"
    end },
  { name = "closed port", run = function()
      local l = assert(m.tcp.listen("127.0.0.1", 0))
      local _, port = l:address()
      l:close()
      assert(m.tcp.connect("127.0.0.1", port, { timeout = 1 }))
    end },
}
