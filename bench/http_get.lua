-- A keep-alive GET over a LuaSocket connection, for the benchmark clients:
-- sends the request, reads the head and a Content-Length body, returns
-- the body.   local get = dofile("bench/http_get.lua"); get(sock, "/path")
return function(sock, path, extra)
  assert(sock:send("GET " .. path .. " HTTP/1.1\r\nHost: localhost\r\n" .. (extra or "") .. "\r\n"))
  local len
  while true do
    local l = assert(sock:receive("*l"))
    if l == "" then break end
    len = len or tonumber(l:match("^[Cc]ontent%-[Ll]ength: (%d+)"))
  end
  return assert(sock:receive(len))
end
