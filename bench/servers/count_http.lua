-- The plaintext answer served N times, then the process exits: for
-- counting instructions per request under callgrind (bench/http_instructions.sh).
--   lua5.4 bench/servers/count_http.lua http|realistic|raw N PORTFILE
-- http: m.http.listen (one header, res:finish); realistic: the same
-- server answering bench/servers/realistic.lua's request as
-- hello_http.lua does (three header fields, a 1 KB JSON body); raw: m.tcp
-- streams answering each request head with a fixed response, as
-- examples/hello_server.lua does.
local m = require "moonlet"

local mode, N, portfile = arg[1], tonumber(arg[2]), arg[3]
local served = 0
local function count(k)
  served = served + k
  if served >= N then os.exit(0) end
end

local srv
local FILLER = ("x"):rep(1000)
if mode == "http" then
  srv = assert(m.http.listen("127.0.0.1", 0, function(_, res)
    res.headers:set("Content-Type", "text/plain")
    res:finish("Hello, World!")
    count(1)
  end))
elseif mode == "realistic" then
  srv = assert(m.http.listen("127.0.0.1", 0, function(req, res)
    local id = req.query:match("id=([^&]*)") or ""
    res.headers:set("Content-Type", "application/json")
    res.headers:set("Cache-Control", "no-store")
    res.headers:set("X-Request-Id", req.headers["x-request-id"] or "")
    res:finish('{"id":"' .. id .. '","items":"' .. FILLER .. '"}')
    count(1)
  end))
else
  local RESPONSE = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!"
  srv = assert(m.tcp.listen("127.0.0.1", 0, function(s)
    local pending = ""
    while true do
      local chunk = s:read()
      if not chunk then return end
      pending = pending .. chunk
      local k, from = 0, 1
      while true do
        local e = pending:find("\r\n\r\n", from, true)
        if not e then break end
        k, from = k + 1, e + 4
      end
      if k > 0 then
        pending = pending:sub(from)
        s:write(RESPONSE:rep(k))
        count(k)
      end
    end
  end))
end
local _, port = srv:address()
local f = assert(io.open(portfile, "w"))
f:write(port)
f:close()
srv:serve_forever()
