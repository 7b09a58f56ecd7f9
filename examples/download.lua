-- Concurrent downloads streamed to disk: every URL in its own task, each
-- body written chunk by chunk (never whole in memory), a log line as each
-- finishes, and gather with return_errors so one failure does not stop the
-- others.
--   lua5.4 examples/download.lua DIR URL...
-- With no arguments it serves a few files itself (one large, one slow, one
-- missing, one on a port nobody listens on) and downloads those.
local m = require "moonlet"
local http = m.http

-- One download: returns the path and byte count, or raises.
local function download(client, url, dir, t0)
  local name = url:match("([^/?#]+)[^/]*$") or "index.html"
  local path = dir .. "/" .. name
  local resp <close>, err, code = client:get(url, { stream = true, timeout = 60 })
  if not resp then error(("%s: %s (%s)"):format(url, err, code), 0) end
  if resp.status ~= 200 then error(("%s: HTTP %d %s"):format(url, resp.status, resp.reason), 0) end
  local n
  n, err, code = resp:save(path)
  if not n then error(("%s: %s (%s)"):format(url, err, code), 0) end
  print(("%6.2f s  done  %-40s %9d bytes -> %s"):format(m.now() - t0, url, n, path))
  return path, n
end

local function download_all(dir, urls)
  local client = http.client { max_per_host = 4 }
  local t0 = m.now()
  local tasks = {}
  for i, url in ipairs(urls) do
    tasks[i] = m.spawn(function()
      local ok, path_or_err, n = pcall(download, client, url, dir, t0)
      if not ok then
        print(("%6.2f s  FAIL  %s"):format(m.now() - t0, tostring(path_or_err)))
        error(path_or_err, 0)
      end
      return { path = path_or_err, bytes = n }
    end)
  end
  local results = m.gather(tasks, { return_errors = true })
  client:close()
  local ok, bytes = 0, 0
  for i = 1, #urls do
    if type(results[i]) == "table" and results[i].bytes then
      ok, bytes = ok + 1, bytes + results[i].bytes
    end
  end
  print(("%d of %d downloaded, %d bytes in %.2f s"):format(ok, #urls, bytes, m.now() - t0))
  return ok == #urls
end

-- The self-contained demo: a local server with files of several kinds.
local function demo()
  local files = {
    ["small.txt"] = ("hello\n"):rep(100),
    ["large.bin"] = ("0123456789abcdef"):rep(1 << 20), -- 16 MiB
    ["slow.txt"] = "worth the wait\n",
  }
  local srv = assert(http.listen("127.0.0.1", 0, function(req, res)
    local name = req.path:sub(2)
    local body = files[name]
    if not body then
      res.status = 404
      return res:finish("no such file\n")
    end
    if name == "slow.txt" then m.sleep(0.5) end
    res.headers["Content-Length"] = #body
    for i = 1, #body, 65536 do res:write(body:sub(i, i + 65535)) end
  end))
  local host, port = srv:address()
  local base = ("http://%s:%d/"):format(host, port)
  local closed = assert(m.tcp.listen("127.0.0.1", 0))
  local _, dead_port = closed:address()
  closed:close()
  local dir = os.tmpname()
  os.remove(dir)
  assert(m.fs.mkdir(dir))
  download_all(dir, {
    base .. "small.txt", base .. "large.bin", base .. "slow.txt",
    base .. "missing.txt", ("http://127.0.0.1:%d/nobody.txt"):format(dead_port),
  })
  for _, f in ipairs(m.fs.list(dir)) do m.fs.remove(dir .. "/" .. f.name) end
  m.fs.remove(dir)
  srv:close()
end

m.run(function()
  if #arg == 0 then return demo() end
  if #arg < 2 then
    io.stderr:write("usage: download.lua DIR URL...\n")
    os.exit(2)
  end
  local urls = table.move(arg, 2, #arg, 1, {})
  if not download_all(arg[1], urls) then os.exit(1) end
end)
