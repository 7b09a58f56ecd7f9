-- socket.dns for moonlet.socket: LuaSocket's resolver functions, with
-- results and error strings shaped as LuaSocket's, looking names up
-- through m.dns (libuv's thread pool) so that the calling task waits and
-- the loop turns. gethostname and the service part of getnameinfo read
-- no network and stay LuaSocket's.
local core = require "moonlet.core"

local function is_ipv4(s) return s:match("^%d+%.%d+%.%d+%.%d+$") ~= nil end
local function is_ip(s) return is_ipv4(s) or s:find(":", 1, true) ~= nil end

return function(real)
  local dns = {}
  for k, v in pairs(real) do dns[k] = v end

  -- LuaSocket's "resolved" table: the name, its aliases (none known
  -- here) and its IPv4 addresses.
  local function resolved(name, ips) return { name = name, alias = {}, ip = ips } end

  -- The IPv4 addresses of a name, or nil.
  local function ipv4s(host)
    local list = core.dns.lookup(host, { family = 4, all = true })
    if not list or #list == 0 then return nil end
    local ips, seen = {}, {}
    for _, a in ipairs(list) do
      if not seen[a.address] then
        seen[a.address] = true
        ips[#ips + 1] = a.address
      end
    end
    return ips
  end

  --- toip(host) -> first IPv4 address, resolved | nil, "host not found"
  function dns.toip(host)
    host = tostring(host)
    if is_ipv4(host) then
      local name = core.dns.reverse(host)
      return host, resolved(name or host, { host })
    end
    if is_ip(host) then return nil, "host not found" end
    local ips = ipv4s(host)
    if not ips then return nil, "host not found" end
    return ips[1], resolved(host, ips)
  end

  --- tohostname(host) -> name, resolved | nil, "host not found"
  function dns.tohostname(host)
    host = tostring(host)
    local ips = is_ipv4(host) and { host } or (not is_ip(host) and ipv4s(host))
    if not ips then return nil, "host not found" end
    local name = core.dns.reverse(ips[1])
    if not name then return nil, "host not found" end
    return name, resolved(name, ips)
  end

  --- getaddrinfo(host) -> { {family = "inet"|"inet6", addr = ip}, ... }
  function dns.getaddrinfo(host)
    host = tostring(host)
    local list = core.dns.lookup(host, { all = true })
    if not list or #list == 0 then return nil, "host or service not provided, or not known" end
    local out, seen = {}, {}
    for _, a in ipairs(list) do
      if not seen[a.address] then
        seen[a.address] = true
        out[#out + 1] = { family = a.family == 6 and "inet6" or "inet", addr = a.address }
      end
    end
    return out
  end

  --- getnameinfo(host, port) -> { names }, service
  function dns.getnameinfo(host, port)
    local names
    if host then
      local ip = host
      if not is_ip(host) then ip = core.dns.lookup(host) end
      local name = ip and core.dns.reverse(ip)
      if not name then return nil, "host or service not provided, or not known" end
      names = { name }
    end
    local service
    if port then
      local _, s = real.getnameinfo(nil, port)
      service = s
    end
    return names, service
  end

  return dns
end
