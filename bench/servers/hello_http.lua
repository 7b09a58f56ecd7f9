-- The plaintext benchmark through moonlet's HTTP server (m.http.listen):
-- the handler sets one header and finishes with "Hello, World!". Under
-- /api/, the answer to bench/servers/realistic.lua's request: a 1 KB JSON
-- body naming the query's id, and three header fields.
-- Usage: lua5.4 bench/servers/hello_http.lua [port]   (port 0: pick one)
local m = require "moonlet"

local FILLER = ("x"):rep(1000)
local srv = assert(m.http.listen("127.0.0.1", tonumber(arg[1]) or 8080, function(req, res)
  if req.path:sub(1, 5) ~= "/api/" then
    res.headers:set("Content-Type", "text/plain")
    return res:finish("Hello, World!")
  end
  local id = req.query:match("id=([^&]*)") or ""
  res.headers:set("Content-Type", "application/json")
  res.headers:set("Cache-Control", "no-store")
  res.headers:set("X-Request-Id", req.headers["x-request-id"] or "")
  res:finish('{"id":"' .. id .. '","items":"' .. FILLER .. '"}')
end))
print(("listening on http://%s:%d/"):format(srv:address()))
io.stdout:flush()
srv:serve_forever()
