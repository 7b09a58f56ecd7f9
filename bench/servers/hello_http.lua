-- The plaintext benchmark through moonlet's HTTP server (m.http.listen):
-- the handler sets one header and finishes with "Hello, World!".
-- Usage: lua5.4 bench/servers/hello_http.lua [port]   (port 0: pick one)
local m = require "moonlet"

local srv = assert(m.http.listen("127.0.0.1", tonumber(arg[1]) or 8080, function(_, res)
  res.headers:set("Content-Type", "text/plain")
  res:finish("Hello, World!")
end))
print(("listening on http://%s:%d/"):format(srv:address()))
io.stdout:flush()
srv:serve_forever()
