-- moonlet.http: an HTTP client on libcurl (csrc/http/client.c) and an HTTP/1.x
-- server (moonlet/http_server.lua).
--
--   local resp, err, code = http.get(url, {timeout = 10})
--   resp.status, resp.headers["content-type"], resp.body
--
-- Failures to get a response return nil, message, code (curl's error name,
-- "COULDNT_CONNECT", ..., and "ETIMEDOUT" for every timeout); HTTP error
-- statuses are responses like any other.
local core = require "moonlet.core"
local server = require "moonlet.http_server"
local new_headers, headers_mt = core._headers, core._headers_mt
local lines = require "moonlet.lines"
local json = require "moonlet.json"
local argcheck = require("moonlet.args").check
local expect = require("moonlet.args").expect

local H = core._http

local M = {
  listen = server.listen,
  reasons = server.reasons,
  parse_query = server.parse_query,
  unescape = server.unescape,
  Headers = new_headers,
  url = H.url,
}
-- libcurl is loaded when first needed (csrc/http/curl_api.h): so is the
-- version string.
setmetatable(M, { __index = function(_, k)
  if k == "curl_version" then return H.curl_version() end
end })

--- Percent-encodes everything but RFC 3986's unreserved characters.
function M.escape(s)
  if type(s) ~= "string" and type(s) ~= "number" then
    error("bad argument #1 to 'escape' (string expected, got " .. type(s) .. ")", 2)
  end
  return (tostring(s):gsub("[^%w%-%._~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

--- A table as a query string or form body: keys sorted, list values
-- repeated ({tag = {"a", "b"}} gives "tag=a&tag=b").
function M.encode_query(t)
  expect(t, "table", 1, "encode_query")
  local keys, out = {}, {}
  for k in pairs(t) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local v = t[k]
    if v == nil then v = t[tonumber(k)] end
    if type(v) ~= "table" then v = { v } end
    for _, x in ipairs(v) do out[#out + 1] = M.escape(k) .. "=" .. M.escape(tostring(x)) end
  end
  return table.concat(out, "&")
end


-- Responses ----------------------------------------------------------------

local Response = {}

-- The header block is parsed on first use of resp.headers or resp.reason.
Response.__index = function(self, k)
  if k == "headers" or k == "reason" then
    local head = self._head
    local reason = head:match("^[^\r\n]*"):match("^HTTP/%S+%s+%d+%s*(.-)%s*$")
    rawset(self, "headers", core._headers_parse(head))
    rawset(self, "reason", (reason and reason ~= "" and reason) or server.reasons[self.status] or "")
    return rawget(self, k)
  end
  return Response[k]
end

-- The response table comes from the transfer (csrc/http/client.c), with
-- the whole body unless it is streamed.
local function new_response(x, stream)
  local resp = setmetatable(x:response(not stream), Response)
  if stream then resp._x = x else x:close() end
  return resp
end

local function transfer(self, name)
  local x = self._x
  if not x then
    error(name .. ": the body was already read (use stream = true to read it in parts)", 3)
  end
  return x
end

--- The next part of a streamed body (at most n bytes), nil at its end, or
-- nil, message, code when the transfer fails.
function Response:read(n)
  argcheck(n == nil or (math.type(n) == "integer" and n > 0), 1, "read", "positive integer expected")
  return transfer(self, "read"):read(n)
end

--- The body decoded as JSON (objects and arrays as tables, null as
-- moonlet.json.null), or nil, message.
function Response:json()
  if not self.body then
    error("json: the body was not read (stream = true: read it first)", 2)
  end
  return json.decode(self.body)
end

--- Iterates over the lines of a streamed body (without line ends).
function Response:lines()
  local x = transfer(self, "lines")
  return lines(function() return x:read() end)
end

--- Writes a streamed body to path chunk by chunk through moonlet.fs.
-- Returns the number of bytes written, or nil, message, code.
function Response:save(path)
  expect(path, "string", 1, "save")
  local x = transfer(self, "save")
  local f, err, code = core.fs.open(path, "w")
  if not f then return nil, err, code end
  local total = 0
  while true do
    local chunk
    chunk, err, code = x:read()
    if not chunk then break end
    local ok
    ok, err, code = f:write(chunk)
    if not ok then
      x:close() -- nowhere to put the rest
      break
    end
    total = total + #chunk
  end
  f:close()
  if err then return nil, err, code end
  return total
end

--- Aborts a streamed transfer (no-op once read or closed).
function Response:close()
  if self._x then self._x:close() end
  return true
end
Response.__close = Response.close

function Response:__tostring()
  return ("moonlet.http response %d %s (%s)"):format(self.status, self.reason, self.url)
end

-- Clients ------------------------------------------------------------------

local Client = {}
Client.__index = Client

local function check_timeout(v, n, fname, name)
  argcheck(v == nil or (type(v) == "number" and v >= 0), n, fname,
    "option '" .. name .. "' must be a number of seconds")
end

--- The default bound on a response body read whole (not streamed).
M.MAX_BODY = 64 * 1024 * 1024

--- A client: its own connection pool, DNS cache and cookie jar.
--   max_connections, max_per_host  limits on open connections (0: none)
--   user_agent, headers, timeout, connect_timeout  defaults for requests
--   cookies  true (kept in memory) or a file path (loaded, saved at close)
function M.client(opts)
  opts = require("moonlet.args").options(opts, 1, "client", {
    max_connections = true, max_per_host = true, timeout = true, connect_timeout = true,
    cookies = true, user_agent = true, headers = true, max_body = true, decompress = true,
  })
  for _, k in ipairs({ "max_connections", "max_per_host" }) do
    local v = opts[k]
    argcheck(v == nil or (math.type(v) == "integer" and v >= 0), 1, "client",
      "option '" .. k .. "' must be a non-negative integer")
  end
  check_timeout(opts.timeout, 1, "client", "timeout")
  check_timeout(opts.connect_timeout, 1, "client", "connect_timeout")
  argcheck(opts.cookies == nil or type(opts.cookies) == "boolean" or type(opts.cookies) == "string",
    1, "client", "option 'cookies' must be a boolean or a file path")
  argcheck(opts.user_agent == nil or type(opts.user_agent) == "string", 1, "client",
    "option 'user_agent' must be a string")
  argcheck(opts.max_body == nil or (math.type(opts.max_body) == "integer" and opts.max_body > 0), 1,
    "client", "option 'max_body' must be a positive integer")
  argcheck(opts.decompress == nil or type(opts.decompress) == "boolean", 1, "client",
    "option 'decompress' must be a boolean")
  local cookies = opts.cookies
  if cookies == nil then cookies = true end
  return setmetatable({
    _c = H.client { max_connections = opts.max_connections, max_per_host = opts.max_per_host,
                    cookies = cookies },
    user_agent = opts.user_agent or ("moonlet (" .. H.curl_version() .. ")"),
    headers = new_headers(opts.headers),
    timeout = opts.timeout, connect_timeout = opts.connect_timeout,
    max_body = opts.max_body or M.MAX_BODY, decompress = opts.decompress ~= false,
  }, Client)
end

local KNOWN = {
  method = true, url = true, headers = true, body = true, query = true, form = true,
  json = true, timeout = true, connect_timeout = true, follow = true, max_redirects = true,
  verify = true, ca_file = true, proxy = true, http2 = true, stream = true,
  decompress = true, user_agent = true, max_body = true,
}

-- An option check of request (and get, post, ...: they tail-call it),
-- raised at their caller: build runs two calls below it.
-- The message is formatted only on failure (msg with arg for %s).
local function rcheck(cond, msg, arg)
  if not cond then error("bad argument #1 to 'request' (" .. msg:format(arg) .. ")", 4) end
end

local STRING_OPTIONS = { "ca_file", "proxy", "user_agent" }
local TIME_OPTIONS = { "timeout", "connect_timeout" }

-- The header lines curl sends ({"Name: value", ...}, nil for none): the
-- client's headers, the request's over them, then the body's type.
local function header_lines(self, r, body, content_type)
  local headers = self.headers
  if r.headers ~= nil or content_type or getmetatable(headers) ~= headers_mt then
    headers = new_headers(headers)
    for name, value in new_headers(r.headers):each() do headers:set(name, value) end
    if content_type and not headers:get("content-type") then headers:set("Content-Type", content_type) end
  end
  local list
  if #headers > 0 then
    list = {}
    for name, value in headers:each() do
      list[#list + 1] = value == "" and (name .. ";") or (name .. ": " .. value)
    end
  end
  -- curl would otherwise wait for "100 Continue" before larger bodies.
  if body and not headers:get("expect") then
    list = list or {}
    list[#list + 1] = "Expect:"
  end
  return list
end

-- Checks the request and works out what csrc/http/client.c takes beside
-- it: url (with the query), method, header lines, body, timeout,
-- connect_timeout, user_agent, max_body, decompress. The other options it
-- reads from r.
local function build(self, r)
  for k in pairs(r) do
    rcheck(KNOWN[k], "unknown option '%s'", tostring(k))
  end
  rcheck(type(r.url) == "string", "option 'url' must be a string")
  local url = r.url
  rcheck(r.method == nil or type(r.method) == "string", "option 'method' must be a string")
  rcheck(r.body == nil or type(r.body) == "string", "option 'body' must be a string")
  rcheck(r.query == nil or type(r.query) == "table", "option 'query' must be a table")
  rcheck(r.form == nil or type(r.form) == "table", "option 'form' must be a table")
  rcheck(r.headers == nil or type(r.headers) == "table", "option 'headers' must be a table")
  rcheck(r.max_redirects == nil or math.type(r.max_redirects) == "integer", "option 'max_redirects' must be an integer")
  rcheck(r.max_body == nil or (math.type(r.max_body) == "integer" and r.max_body > 0),
    "option 'max_body' must be a positive integer")
  for _, k in ipairs(STRING_OPTIONS) do
    rcheck(r[k] == nil or type(r[k]) == "string", "option '%s' must be a string", k)
  end
  rcheck(r.http2 == nil or type(r.http2) == "boolean" or r.http2 == "prior", "option 'http2' must be a boolean or \"prior\"")
  for _, k in ipairs(TIME_OPTIONS) do
    rcheck(r[k] == nil or (type(r[k]) == "number" and r[k] >= 0), "option '%s' must be a number of seconds", k)
  end
  local n = (r.body and 1 or 0) + (r.form and 1 or 0) + (r.json ~= nil and 1 or 0)
  rcheck(n <= 1, "options 'body', 'form' and 'json' exclude each other")

  if r.query then
    local q = M.encode_query(r.query)
    if q ~= "" then url = url .. (url:find("?", 1, true) and "&" or "?") .. q end
  end
  local body, content_type = r.body, nil
  if r.form then
    body, content_type = M.encode_query(r.form), "application/x-www-form-urlencoded"
  elseif r.json ~= nil then
    local ok, text = pcall(json.encode, r.json)
    rcheck(ok, "%s", tostring(text))
    body, content_type = text, "application/json"
  end
  local method = r.method or (body and "POST") or "GET"
  if method ~= "GET" then
    method = method:upper()
    rcheck(method:match("^[A-Z]+$"), "bad method '%s'", method)
  end
  local timeout = r.timeout
  if timeout == nil then timeout = self.timeout end
  local connect_timeout = r.connect_timeout
  if connect_timeout == nil then connect_timeout = self.connect_timeout end
  local decompress = r.decompress
  if decompress == nil then decompress = self.decompress end
  return url, method, header_lines(self, r, body, content_type), body, timeout,
    connect_timeout, r.user_agent or self.user_agent, r.max_body or self.max_body, decompress
end

--- Sends a request (see the README for its fields) and returns the
-- response, or nil, message, code.
function Client:request(r)
  expect(r, "table", 1, "request")
  local x, err, code = self._c:_perform(r, build(self, r))
  if not x then
    -- A URL libcurl would cut short at a NUL, or that would split the
    -- request line at a CR or LF (found in C, before anything is done).
    if code == "BAD_URL" then error("bad argument #1 to 'request' (" .. err .. ")", 2) end
    return nil, err, code
  end
  return new_response(x, r.stream)
end

local function with(opts, fields, fname, n)
  expect(opts, "table?", n, fname)
  local r = {}
  for k, v in pairs(opts or {}) do r[k] = v end
  for k, v in pairs(fields) do r[k] = v end
  return r
end

local NO_OPTIONS = {}

function Client:get(url, opts)
  expect(url, "string", 1, "get")
  if opts ~= nil then return self:request(with(opts, { url = url, method = "GET" }, "get", 2)) end
  -- A plain get: the client's defaults, nothing to check but the URL
  -- (in C: a bad one comes back as BAD_URL, and request raises for it).
  local x, err, code = self._c:_perform(NO_OPTIONS, url, "GET", header_lines(self, NO_OPTIONS),
    nil, self.timeout, self.connect_timeout, self.user_agent, self.max_body, self.decompress)
  if not x then
    if code == "BAD_URL" then return self:request({ url = url }) end
    return nil, err, code
  end
  return new_response(x, false)
end

function Client:head(url, opts)
  expect(url, "string", 1, "head")
  return self:request(with(opts, { url = url, method = "HEAD" }, "head", 2))
end

function Client:post(url, body, opts)
  expect(url, "string", 1, "post")
  expect(body, "string?", 2, "post")
  return self:request(with(opts, { url = url, method = "POST", body = body }, "post", 3))
end

--- Aborts the client's transfers and closes its connections.
function Client:close()
  self._c:close()
  return true
end
Client.__close = Client.close

function Client.__tostring() return "moonlet.http client" end

-- The module-level functions share one default client.
local default
local function default_client()
  if not default then default = M.client() end
  return default
end

function M.request(r) return default_client():request(r) end
function M.get(url, opts) return default_client():get(url, opts) end
function M.head(url, opts) return default_client():head(url, opts) end
function M.post(url, body, opts) return default_client():post(url, body, opts) end

--- Closes the default client's connections (a later call opens new ones).
function M.close()
  if default then default:close() end
  default = nil
  return true
end

return M
