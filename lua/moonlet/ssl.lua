-- moonlet.ssl: LuaSec (Debian lua-sec) whose connections wait
-- cooperatively. It is LuaSec's module with one function replaced:
-- ssl.wrap(sock, params) returns the TLS connection wrapped so that
-- dohandshake, receive and send run LuaSec in non-blocking mode and wait
-- on the descriptor for what TLS wants (reading or writing) while other
-- tasks run. Everything else (contexts, certificates, sni, info, ...) is
-- LuaSec's own. m.patch() makes require "ssl" return it.
local msocket = require "moonlet.socket"

local real = package.loaded["ssl"]
if not (type(real) == "table" and not real._MOONLET) then
  local path = package.searchpath("ssl", package.path)
  if not path then error("moonlet.ssl needs LuaSec (Debian: lua-sec)", 2) end
  real = dofile(path)
end

local M = {}
for k, v in pairs(real) do M[k] = v end

--- ssl.wrap(sock, params_or_context): as LuaSec's, for moonlet.socket's
-- sockets and LuaSocket's own; the result waits cooperatively.
function M.wrap(sock, cfg)
  local conn, err = real.wrap(sock, cfg)
  if not conn then return nil, err end
  return msocket._wrap_ssl(conn)
end

M._MOONLET = true
return M
