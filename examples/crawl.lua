-- A breadth-first web crawler on moonlet tasks and moonlet.http.
--   lua5.4 examples/crawl.lua URL [--concurrency N] [--max-pages N]
--          [--per-host N] [--delay S] [--same-host] [--out FILE]
-- Follows <a href> links (resolved, fragments dropped, each URL once),
-- honours robots.txt, keeps at most --per-host requests in flight per host
-- and --delay seconds between their starts, retries transient failures
-- with backoff, shows progress and ends with a summary. --out FILE gets
-- one line per URL fetched: "STATUS URL" (or "ERROR_CODE URL").
local m = require "moonlet"
local http = m.http

local USAGE = [[
usage: crawl.lua URL [options]
  --concurrency N   pages fetched at once (default 50)
  --max-pages N     stop after N pages (default: no limit)
  --per-host N      requests in flight per host (default 8)
  --delay S         seconds between request starts per host (default 0)
  --same-host       follow links to URL's host only (default: any host)
  --out FILE        write "STATUS URL" per URL fetched (default: none)
  --help            show this]]

local function parse_args(argv)
  local o = { concurrency = 50, max_pages = math.huge, per_host = 8, delay = 0, same_host = false }
  local numeric = { ["--concurrency"] = "concurrency", ["--max-pages"] = "max_pages",
                    ["--per-host"] = "per_host", ["--delay"] = "delay" }
  local i = 1
  while argv[i] do
    local a = argv[i]
    if numeric[a] then
      local v = tonumber(argv[i + 1])
      if not v or v < 0 then return nil, a .. " needs a number" end
      o[numeric[a]] = v
      i = i + 1
    elseif a == "--help" or a == "-h" then
      return nil, "help"
    elseif a == "--same-host" then
      o.same_host = true
    elseif a == "--out" then
      if not argv[i + 1] then return nil, "--out needs a file name" end
      o.out = argv[i + 1]
      i = i + 1
    elseif a:sub(1, 2) == "--" or o.url then
      return nil, "unknown argument " .. a
    else
      o.url = a
    end
    i = i + 1
  end
  if not o.url then return nil, "no URL given" end
  o.concurrency = math.max(1, math.floor(o.concurrency))
  o.per_host = math.max(1, math.floor(o.per_host))
  return o
end

-- robots.txt: the Allow/Disallow rules of the groups for every agent ("*");
-- the longest matching rule wins, Allow on a tie.
local function parse_robots(text)
  local rules, applies, in_agents = {}, false, false
  for line in (text .. "\n"):gmatch("([^\r\n]*)\r?\n") do
    line = line:gsub("#.*", ""):match("^%s*(.-)%s*$")
    local key, value = line:match("^([%w%-]+)%s*:%s*(.-)$")
    key = key and key:lower()
    if key == "user-agent" then
      if not in_agents then applies = false end
      in_agents = true
      if value == "*" then applies = true end
    elseif key == "allow" or key == "disallow" then
      in_agents = false
      if applies and value ~= "" then rules[#rules + 1] = { allow = key == "allow", prefix = value } end
    end
  end
  return rules
end

local function allowed(rules, path)
  local best, allow = -1, true
  for _, r in ipairs(rules) do
    if path:sub(1, #r.prefix) == r.prefix and
       (#r.prefix > best or (#r.prefix == best and r.allow)) then
      best, allow = #r.prefix, r.allow
    end
  end
  return allow
end

local TRANSIENT = {
  COULDNT_CONNECT = true, ETIMEDOUT = true, RECV_ERROR = true,
  SEND_ERROR = true, GOT_NOTHING = true, PARTIAL_FILE = true, HTTP2 = true,
  [429] = true, [500] = true, [502] = true, [503] = true, [504] = true,
}

local function crawl(o)
  local start = assert(http.url(o.url))
  if start.scheme ~= "http" and start.scheme ~= "https" then
    return nil, "only http and https URLs can be crawled"
  end
  local client = http.client {
    max_connections = o.concurrency, max_per_host = o.per_host,
    user_agent = "moonlet-crawl/1.0", timeout = 20, connect_timeout = 5,
  }
  local out = o.out and assert(io.open(o.out, "w"))
  local stats = { pages = 0, bytes = 0, errors = {}, statuses = {}, retries = 0, skipped = 0 }
  local seen, queued, started = { [start.url] = true }, 1, 0
  local frontier = m.queue()
  frontier:put(start.url)
  local hosts = {} -- host -> {robots = future, sem = semaphore, next = time}

  local function host_of(u)
    local key = u.scheme .. "://" .. u.host .. ":" .. u.port
    local h = hosts[key]
    if not h then
      h = { sem = m.semaphore(o.per_host), next = 0 }
      hosts[key] = h
      h.robots = m.spawn(function()
        local r = client:get(key .. "/robots.txt", { timeout = 10 })
        if r and r.status == 200 then return parse_robots(r.body) end
        return {}
      end)
    end
    return h
  end

  -- One request with the host's politeness and retries; returns the
  -- response or nil, code.
  local function fetch(url, h)
    local attempt = 0
    while true do
      h.sem:acquire()
      local now = m.now()
      local wait = h.next - now
      h.next = math.max(now, h.next) + o.delay
      if wait > 0 then m.sleep(wait) end
      local r, _, code = client:get(url)
      h.sem:release()
      local kind = r and r.status or code
      if not TRANSIENT[kind] or attempt == 3 then
        if r then return r end
        return nil, code
      end
      attempt = attempt + 1
      stats.retries = stats.retries + 1
      m.sleep(0.1 * 2 ^ attempt)
    end
  end

  local function links(r)
    local ctype = r.headers["content-type"] or ""
    if not ctype:find("html", 1, true) then return {} end
    local found = {}
    for href in r.body:gmatch("<[aA]%s[^>]-[hH][rR][eE][fF]%s*=%s*[\"']([^\"']*)[\"']") do
      local u = http.url(r.url, href)
      if u and (u.scheme == "http" or u.scheme == "https") and
         (not o.same_host or u.host == start.host) then
        found[#found + 1] = u.url
      end
    end
    return found
  end

  local function visit(url)
    local u = http.url(url)
    local h = host_of(u)
    if not allowed(h.robots:await(), u.path .. (u.query and "?" .. u.query or "")) then
      stats.skipped = stats.skipped + 1 -- it does not count against --max-pages
      return
    end
    if started >= o.max_pages then return end
    started = started + 1
    local r, code = fetch(url, h)
    stats.pages = stats.pages + 1
    if out then out:write(tostring(r and r.status or code), " ", url, "\n") end
    if not r then
      stats.errors[code] = (stats.errors[code] or 0) + 1
      return
    end
    stats.statuses[r.status] = (stats.statuses[r.status] or 0) + 1
    if r.status >= 400 then
      local k = "HTTP " .. r.status
      stats.errors[k] = (stats.errors[k] or 0) + 1
    end
    stats.bytes = stats.bytes + #r.body
    for _, l in ipairs(links(r)) do
      if not seen[l] and queued < o.max_pages + stats.skipped then
        seen[l] = true
        queued = queued + 1
        frontier:put(l)
      end
    end
  end

  local t0 = m.now()
  local tty = os.execute("test -t 2")
  local function progress(final)
    local el = m.now() - t0
    local nerr = 0
    for _, n in pairs(stats.errors) do nerr = nerr + n end
    local line = ("%6d pages  %5d queued  %4d errors  %8.1f KB  %6.1f pages/s  %5.1f s")
      :format(stats.pages, frontier:size(), nerr, stats.bytes / 1024, stats.pages / math.max(el, 1e-6), el)
    if tty then io.stderr:write("\r", line, final and "\n" or "")
    else io.stderr:write(line, "\n") end
    io.stderr:flush()
  end
  local ticker = m.call_every(tty and 0.2 or 1, function() progress(false) end)

  local workers = {}
  for i = 1, o.concurrency do
    workers[i] = m.spawn(function()
      while true do
        local url = frontier:get()
        if url == nil then return end
        local ok, err = pcall(visit, url)
        frontier:task_done()
        if not ok then
          if getmetatable(err) == m.Cancelled then error(err, 0) end
          io.stderr:write("\ncrawler error on ", url, ": ", tostring(err), "\n")
        end
      end
    end)
  end
  frontier:join()
  frontier:close()
  m.gather(workers)
  ticker:cancel()
  progress(true)
  for _, h in pairs(hosts) do h.robots:cancel() end
  client:close()
  if out then out:close() end
  stats.elapsed = m.now() - t0
  return stats
end

local function summary(s)
  print(("\ncrawled %d pages in %.2f s (%.1f pages/s), %.1f KB of bodies")
    :format(s.pages, s.elapsed, s.pages / math.max(s.elapsed, 1e-6), s.bytes / 1024))
  local st = {}
  for code, n in pairs(s.statuses) do st[#st + 1] = ("%d x%d"):format(code, n) end
  table.sort(st)
  print("statuses: " .. (#st > 0 and table.concat(st, ", ") or "none"))
  local errs = {}
  for kind, n in pairs(s.errors) do errs[#errs + 1] = ("%s x%d"):format(kind, n) end
  table.sort(errs)
  print("errors:   " .. (#errs > 0 and table.concat(errs, ", ") or "none"))
  print(("retries:  %d   skipped by robots.txt: %d"):format(s.retries, s.skipped))
end

local o, err = parse_args(arg)
if err == "help" then
  print(USAGE)
  os.exit(0)
elseif not o then
  io.stderr:write(err, "\n", USAGE, "\n")
  os.exit(2)
end
local stats
stats, err = m.run(crawl, o)
if not stats then
  io.stderr:write("crawl.lua: ", err, "\n")
  os.exit(1)
end
summary(stats)
