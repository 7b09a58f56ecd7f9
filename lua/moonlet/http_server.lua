-- moonlet.http server: HTTP/1.x on moonlet.tcp streams. Requests are parsed
-- by http-parser (csrc/http/parse.c); each connection runs in its own task
-- and serves its requests in order (keep-alive and pipelining), calling
-- handler(req, res) for each.
local core = require "moonlet.core"
local net = require "moonlet.net"
local lines = require "moonlet.lines"
local argcheck = require("moonlet.args").check
local expect = require("moonlet.args").expect
local checkport = require("moonlet.args").port

local M = {}

local Cancelled = core.Cancelled

M.reasons = {
  [100] = "Continue", [101] = "Switching Protocols", [200] = "OK",
  [201] = "Created", [202] = "Accepted", [204] = "No Content",
  [206] = "Partial Content", [301] = "Moved Permanently", [302] = "Found",
  [303] = "See Other", [304] = "Not Modified", [307] = "Temporary Redirect",
  [308] = "Permanent Redirect", [400] = "Bad Request", [401] = "Unauthorized",
  [403] = "Forbidden", [404] = "Not Found", [405] = "Method Not Allowed",
  [408] = "Request Timeout", [409] = "Conflict", [410] = "Gone",
  [411] = "Length Required", [413] = "Content Too Large",
  [414] = "URI Too Long", [429] = "Too Many Requests",
  [431] = "Request Header Fields Too Large", [500] = "Internal Server Error",
  [501] = "Not Implemented", [502] = "Bad Gateway",
  [503] = "Service Unavailable", [504] = "Gateway Timeout",
}

--- Decodes %XX escapes (and "+" as space when form is true).
function M.unescape(s, form)
  expect(s, "string", 1, "unescape")
  if form then s = s:gsub("+", " ") end
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

--- Decodes a query string: "a=1&b=2&a=3" gives {a = "3", b = "2"} (the
-- last value wins) and {a = {"1", "3"}, b = {"2"}}.
function M.parse_query(q)
  expect(q, "string?", 1, "parse_query")
  local last, all = {}, {}
  for pair in (q or ""):gmatch("[^&;]+") do
    local k, v = pair:match("^([^=]*)=?(.*)$")
    k, v = M.unescape(k, true), M.unescape(v, true)
    last[k] = v
    all[k] = all[k] or {}
    table.insert(all[k], v)
  end
  return last, all
end

-- A connection: its stream, its parser and the events parsed but not yet
-- consumed.

-- The connection's next bytes, within the request's deadline (head, then
-- body) if it has one, or nil, message, code. When the deadline is nearer
-- than the stream's own timeout, a read that times out is the request
-- timing out (the loop's timers go by its cached clock, which may fire
-- them a little before core.now() says the deadline is reached).
local function read_more(c)
  local deadline, by_deadline = c.deadline, false
  if deadline then
    local left = deadline - core.now()
    if left <= 0 then
      c.timed_out = true
      return core._fail("ETIMEDOUT", "request timed out")
    end
    by_deadline = left <= c.opts.timeout
    c.stream:set_timeout(math.min(left, c.opts.timeout))
  end
  local data, err, code = c.stream:read()
  if deadline then c.stream:set_timeout(c.opts.timeout) end -- for writes
  if not data then
    if code == "ETIMEDOUT" and by_deadline then
      c.timed_out = true
      return core._fail("ETIMEDOUT", "request timed out")
    end
    c.io_failed = true
    return nil, err or "connection closed", code or "EOF"
  end
  return data
end

-- The next event. reading_head: the bytes read start a head, whose
-- deadline runs from its first bytes; data: bytes serve_conn read already.
local function next_event(c, reading_head, data)
  local i = c.i
  if i <= c.n then -- parsed before
    local out = c.out
    local kind, v = out[i], out[i + 1]
    out[i], out[i + 1] = nil, nil
    c.i = i + 2
    return kind, v
  end
  while true do
    if not data then
      local err, code
      data, err, code = read_more(c)
      if not data then return nil, err, code end
    end
    local n, kind, v, out = c.parser:feed(data, c.out)
    data = nil
    if not n then return nil, kind, v end
    if n > 0 then c.out, c.i, c.n = out, 1, n end
    if kind then return kind, v end
    -- A head begun and not complete: its deadline runs from these bytes.
    -- (A head complete in one read needs none.)
    if reading_head and not c.deadline then c.deadline = core.now() + c.opts.header_timeout end
  end
end

-- A bare error answer on a connection that will be closed.
local function refuse(c, status, text)
  local body = (text or M.reasons[status]) .. "\n"
  -- The stream may be closed already (the loop ending): nothing to say then.
  local ok, err = pcall(c.stream.write, c.stream, ("HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s")
    :format(status, M.reasons[status], #body, body))
  if not ok and getmetatable(err) == Cancelled then error(err, 0) end
end

local new_headers = core._headers

local Request = {}
-- req.trailers is made when first asked for (most requests have none).
Request.__index = function(self, k)
  local method = Request[k]
  if method ~= nil or k ~= "trailers" then return method end
  local t = new_headers()
  rawset(self, "trailers", t)
  return t
end

--- The next chunk of the request body, or nil at its end (or nil, message,
-- code when the body is too large or the connection fails).
function Request:read()
  if self._done then return nil end
  local c = self._res._c
  if self._continue then
    self._continue = false
    local ok, err, code = c.stream:write("HTTP/1.1 100 Continue\r\n\r\n")
    if not ok then self._failed = code; return nil, err, code end
  end
  local kind, v, code = next_event(c)
  if kind == "trailers" then
    self.trailers = v
    kind, v, code = next_event(c)
  end
  if kind == "body" then
    self._got = self._got + #v
    if self._got > c.opts.max_body then
      self._failed = "BODY_TOO_LARGE"
      local res = self._res
      if not res.head_sent then -- answer now; the handler's answer is dropped
        refuse(c, 413)
        res.head_sent, res.finished = true, true
      end
      return nil, "request body too large", "BODY_TOO_LARGE"
    end
    return v
  elseif kind == "done" then
    self._done = true
    return nil
  end
  self._failed = code or "PROTOCOL"
  return nil, v, code
end

--- Takes the connection over after an Upgrade or CONNECT request: returns
-- the stream and the bytes that followed the head in the same packet. The
-- server sends nothing more on it and closes it when the handler returns.
function Request:hijack()
  local c = self._res._c
  if not self.upgrade then error("hijack: not an Upgrade or CONNECT request", 2) end
  if c.hijacked then error("hijack: the connection was already taken", 2) end
  local rest = ""
  while c.i <= c.n do
    local kind, v = next_event(c)
    if kind == "upgrade" then rest = v end
  end
  c.hijacked = true
  self._res.head_sent, self._res.finished = true, true
  return c.stream, rest
end

--- The whole body as one string (at most the server's max_body bytes).
function Request:body()
  if self._body then return self._body end
  local parts = {}
  while true do
    local chunk, err, code = self:read()
    if not chunk then
      if err then return nil, err, code end
      break
    end
    parts[#parts + 1] = chunk
  end
  self._body = table.concat(parts)
  return self._body
end

--- Iterates over the body's lines (without their line ends).
function Request:lines()
  return lines(function() return self:read() end)
end

local Response = {}
Response.__index = Response

-- "HTTP/1.1 200 OK\r\n" and the like, made once per status.
local status_lines = {}
local http_head = core._http_head

-- The status line of a response that has no line made yet (checked, and
-- remembered when the reason is the standard one). A status that is an
-- integral float (200.0) is that integer, as everywhere in Lua.
local function status_line(status, reason)
  if type(status) ~= "number" or math.tointeger(status) == nil or status < 100 or status > 999 then
    error("bad response status " .. tostring(status), 4)
  end
  status = math.tointeger(status)
  local standard = not reason
  reason = reason or M.reasons[status] or "Unknown"
  if type(reason) ~= "string" or reason:find("[\r\n%z]") then
    error("bad response reason " .. string.format("%q", tostring(reason)) .. " (a string without CR, LF or NUL expected)", 4)
  end
  local line = ("HTTP/1.1 %d %s\r\n"):format(status, reason)
  if standard then status_lines[status] = line end
  return line
end

-- The status line and headers; body_len is the whole body's length when
-- finish() sends it at once, nil when the body is streamed.
local function head(self, body_len)
  local status, reason = self.status, self.reason
  local line = not reason and status_lines[status] or status_line(status, reason)
  local req = self._req
  local no_body = status < 200 or status == 204 or status == 304
  local out, chunked, keep_alive = http_head(line, self.headers, body_len, no_body,
    req.version == "1.1", self._keep_alive)
  -- Flags are set only when true: the response table stays at eight fields.
  if no_body or req.method == "HEAD" then self._no_body = true end
  if chunked then self._chunked = true end
  self._keep_alive = keep_alive
  self.head_sent = true
  return out
end

local function send(self, data)
  local ok, err, code = self._c.stream:write(data)
  if not ok then
    self._broken = true
    return nil, err, code
  end
  return true
end

local function frame(self, data)
  if self._no_body or data == "" then return "" end
  if self._chunked then return ("%x\r\n"):format(#data) .. data .. "\r\n" end
  return data
end

--- Sends the head (unless sent) and data as part of a streamed body.
function Response:write(data)
  if type(data) ~= "string" then expect(data, "string", 1, "write") end
  if self.finished then error("response already finished", 2) end
  local out = not self.head_sent and head(self, nil) or ""
  out = out .. frame(self, data)
  if out == "" then return true end
  return send(self, out)
end

--- Ends the response, sending data (optional) as its last part. With
-- nothing sent yet, the body goes out with a Content-Length.
function Response:finish(data)
  if data ~= nil and type(data) ~= "string" then expect(data, "string?", 1, "finish") end
  if self.finished then return true end
  self.finished = true
  data = data or ""
  local out = ""
  if not self.head_sent then
    out = head(self, #data)
    if not self._no_body and not self._chunked and data ~= "" then
      -- The common case: the head and a whole body, in one write.
      local ok, err, code = self._c.stream:write(out, data)
      if not ok then self._broken = true end
      return ok, err, code
    end
  end
  out = out .. frame(self, data)
  if self._chunked and not self._no_body then out = out .. "0\r\n\r\n" end
  if out == "" then return true end
  return send(self, out)
end

--- Sets the status and headers in one call (a table {Name = value}).
function Response:set(status, headers)
  if status then self.status = status end
  for k, v in pairs(headers or {}) do self.headers:set(k, v) end
  return self
end

local function failed_status(code)
  if code == "HEADER_TOO_LARGE" or code == "HEADER_OVERFLOW" then return 431 end
  if code == "BODY_TOO_LARGE" then return 413 end
  return 400
end

local call_traced = net._call_traced

-- One request, given the connection's next event: returns true to go on
-- with the next one.
local function serve_one(c, handler, kind, v, code)
  if kind ~= "head" then
    -- A malformed or too slow request gets an answer; a connection that
    -- failed or went idle does not.
    if c.timed_out then refuse(c, 408)
    elseif not c.io_failed then refuse(c, failed_status(code), v) end
    return false
  end
  -- Made by the parser, path, query and headers included, and _done
  -- when the request has no body (the common case: nothing more to set).
  local req = v
  req.remote = c.remote
  if not req._done then
    local length = req._body_length
    if length and length > c.opts.max_body then
      refuse(c, 413)
      return false
    end
    req._got, req._done, req._continue, req._failed = 0, false, false, false
    if length or req._body_chunked then
      c.deadline = core.now() + c.opts.body_timeout
      local expectation = req.headers:get("expect")
      req._continue = expectation and expectation:lower() == "100-continue" and req.version == "1.1"
    elseif c.i <= c.n and c.out[c.i] == "done" then -- an upgrade without a body
      next_event(c)
      req._done = true
    end
  end
  -- head_sent, finished, and the flags _no_body, _chunked and _broken
  -- are absent (false) until set.
  local res = setmetatable({
    status = 200, headers = new_headers(), _req = req, _c = c, _keep_alive = req.keep_alive,
  }, Response)
  req._res = res
  local ok, err, traceback = call_traced(handler, req, res)
  if not ok then
    if getmetatable(err) == Cancelled then error(err, 0) end
    core._report(err, traceback, core.current(), "http handler " .. req.method .. " " .. req.target)
    if not res.head_sent then refuse(c, 500) end
    return false
  end
  if res._broken or c.hijacked then return false end
  if not req._done and req._failed then
    if not res.head_sent and not c.io_failed then
      refuse(c, c.timed_out and 408 or failed_status(req._failed))
    end
    return false
  end
  if not res.finished then res:finish() end
  -- After an Upgrade head the parser is done: the connection ends here.
  if res._broken or not res._keep_alive or req.upgrade then return false end
  -- The next request starts after this one's body: read what is left.
  if not req._done then
    if req._continue then return false end -- the client waits for our go
    while req:read() do end
    if not req._done then return false end
  end
  return true
end

-- An idle keep-alive connection waits for its next head here, holding no
-- request objects, on the shortest stack: the collector shrinks a
-- thread's stack to twice what it uses only when it holds more than three
-- times that, and what a request grew is most of an idle connection's
-- memory. c has eight fields (a ninth would double its hash part): the
-- rare flags of a failure come only at its end. It is the connection's
-- task (net's direct handler): it closes the stream; handlers' errors are
-- caught around each call.
local function serve_conn(stream, handler, opts)
  local _ <close> = stream
  local c = {
    stream = stream,
    parser = core._http_parser { max_header = opts.max_header, request_mt = Request },
    out = false, i = 1, n = 0, opts = opts, remote = (stream:peer()), deadline = false,
  }
  stream:set_timeout(opts.timeout) -- next_event puts it back after a deadline
  repeat
    c.deadline = false
    local data
    if c.i > c.n then -- nothing parsed is waiting: wait for the peer
      data = stream:read()
      if not data then return end -- gone, or idle too long: nothing to answer
    end
  until not serve_one(c, handler, next_event(c, true, data))
end

-- Below the descriptor limit, with room for what handlers open: at the
-- limit new clients wait in the kernel's backlog instead of being reset.
local function default_max_connections()
  return math.max(16, math.min(10000, core._fd_limit() - 64))
end

local function check_size(v, name)
  argcheck(v == nil or (math.type(v) == "integer" and v > 0), 4, "listen",
    "option '" .. name .. "' must be a positive integer")
end

--- Serves HTTP on host:port: handler(req, res) runs for every request,
-- in the connection's task. Returns the server (address, close,
-- serve_forever), or nil, message, code.
function M.listen(host, port, handler, opts)
  expect(host, "string", 1, "listen")
  port = checkport(port, 2, "listen")
  expect(handler, "function", 3, "listen")
  expect(opts, "table?", 4, "listen")
  opts = require("moonlet.args").options(opts, 4, "listen", {
    max_header = true, max_body = true, timeout = true, header_timeout = true,
    body_timeout = true, backlog = true, max_connections = true,
  })
  check_size(opts.max_header, "max_header")
  check_size(opts.max_body, "max_body")
  for _, k in ipairs({ "timeout", "header_timeout", "body_timeout" }) do
    argcheck(opts[k] == nil or (type(opts[k]) == "number" and opts[k] > 0),
      4, "listen", "option '" .. k .. "' must be a positive number of seconds")
  end
  local o = {
    max_header = opts.max_header or 65536,
    max_body = opts.max_body or 16 * 1024 * 1024,
    timeout = opts.timeout or 60,
    header_timeout = opts.header_timeout or 20,
    body_timeout = opts.body_timeout or 300,
  }
  return net.tcp.listen(host, port, function(stream)
    return serve_conn(stream, handler, o)
  end, { backlog = opts.backlog or 1024, max_connections = opts.max_connections or default_max_connections() }, true)
end

return M
