-- m.patch: gevent's monkey.patch_all for Lua. Blocking standard calls are
-- replaced by moonlet's cooperative ones, so that unmodified libraries
-- built on them let other tasks run while they wait.
local args = require "moonlet.args"

local P = {}

-- LuaSocket: require "socket" and "socket.core" give moonlet.socket.
local function patch_socket()
  local loaded = package.loaded["socket"]
  if loaded and not loaded._MOONLET then
    error("m.patch(): LuaSocket was loaded before it; what captured it would still block the"
      .. " loop (call m.patch() before the first require \"socket\")", 3)
  end
  local ms = require "moonlet.socket"
  package.loaded["socket.core"] = ms
  package.loaded["socket"] = ms
end

-- LuaSec: require "ssl" gives moonlet.ssl (loaded when first required:
-- OpenSSL is not started for programs that never use it). LuaSec keeps
-- no socket of its own, so a module loaded earlier is patched in place.
local function patch_ssl()
  local loaded = package.loaded["ssl"]
  if loaded then
    if not loaded._MOONLET then loaded.wrap = require("moonlet.ssl").wrap end
  elseif package.searchpath("ssl", package.path) then
    package.preload["ssl"] = function() return require "moonlet.ssl" end
  end
end

-- os.execute and io.popen run the command through m.process.
local function patch_os()
  local po = require "moonlet.popen"
  os.execute, io.popen = po.execute, po.popen -- luacheck: ignore 122
end

local PARTS = { socket = true, ssl = true, os = true }

--- m.patch([{socket=, ssl=, os=}]): socket and ssl default to true, os
-- to false. Returns the patched socket module (or nil without socket).
function P.patch(opts)
  opts = args.options(opts, 1, "patch", PARTS)
  for k, v in pairs(opts) do args.expect(v, "boolean", 1, "patch (option '" .. k .. "')") end
  if opts.socket ~= false then patch_socket() end
  if opts.ssl ~= false then patch_ssl() end
  if opts.os then patch_os() end
  return opts.socket ~= false and package.loaded["socket"] or nil
end

return P
