-- The least any server with moonlet's Lua handler API makes per request,
-- without a socket, a parser or a head: a request table with the parser's
-- ten fields and a header list, a response table with its own list, a
-- traced call of the handler, which sets one field and finishes; and the
-- collection of all of it. bench/http_object_floor.sh counts its
-- instructions per request, to set beside bench/http_instructions.sh's.
--   lua5.4 bench/http_object_floor.lua N
local core = require "moonlet.core"
local new_headers = core._headers
local N = assert(tonumber(arg[1]), "usage: http_object_floor.lua N")

local Response = {}
Response.__index = Response
function Response:finish(data)
  self.finished = true
  self.body = data
end

local function handler(_, res)
  res.headers:set("Content-Type", "text/plain")
  res:finish("Hello, World!")
end

local Request = {}
local function traceback(e) return debug.traceback(e) end
for _ = 1, N do
  local req = setmetatable({ method = "GET", target = "/", path = "/", query = "", version = "1.1",
    headers = new_headers(), keep_alive = true, _body_chunked = false, upgrade = false, _done = true }, Request)
  req.remote = "127.0.0.1"
  local res = setmetatable({ status = 200, headers = new_headers(), _req = req, _c = false,
    _keep_alive = true }, Response)
  req._res = res
  assert(xpcall(handler, traceback, req, res))
end
