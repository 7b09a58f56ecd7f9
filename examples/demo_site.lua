-- A site to crawl without a network: moonlet's HTTP server generating
-- interlinked pages with realistic latency, redirects, missing pages, slow
-- pages, pages that fail once (503), a robots.txt and a private area.
--   lua5.4 examples/demo_site.lua [--pages N] [--port P]
-- prints "listening on http://127.0.0.1:PORT/" and serves until killed.
-- As a module (require or dofile) it gives the link graph to the specs.
local m = require "moonlet"

local Site = {}

-- Deterministic pseudo-random numbers from a page number.
local function mix(i, salt)
  local x = (i * 2654435761 + salt * 40503) % 4294967296
  x = (x ~ (x >> 13)) * 1274126177 % 4294967296
  return x ~ (x >> 16)
end

--- The targets page i links to, in page order: other pages, and now and
-- then a redirect, a missing page, a slow page, a flaky page or a private
-- page (which robots.txt forbids).
function Site.links(i, n)
  local out = { "/page/" .. ((i + 1) % n) }
  for k = 1, 4 do out[#out + 1] = "/page/" .. (mix(i, k) % n) end
  local r = mix(i, 99) % 20
  if r == 0 then out[#out + 1] = "/go/" .. (mix(i, 5) % n)      -- 301 to a page
  elseif r == 1 then out[#out + 1] = "/missing/" .. i          -- 404
  elseif r == 2 then out[#out + 1] = "/slow/" .. i             -- 300 ms
  elseif r == 3 then out[#out + 1] = "/flaky/" .. i            -- 503 once
  elseif r == 4 then out[#out + 1] = "/private/" .. i end      -- disallowed
  return out
end

--- The paths a polite crawler starting at /page/0 fetches, with the status
-- each ends with. A redirect's links are those of the page it leads to; the
-- page itself is fetched only when something links to it directly.
function Site.expected(n)
  local seen, order, status = { ["/page/0"] = true }, { "/page/0" }, {}
  local i = 1
  while order[i] do
    local path = order[i]
    local kind, num = path:match("^/(%a+)/(%d+)$")
    num = tonumber(num)
    status[path] = kind == "missing" and 404 or 200
    if kind ~= "missing" then
      for _, l in ipairs(Site.links(num, n)) do
        if not seen[l] and not l:find("^/private/") then
          seen[l] = true
          order[#order + 1] = l
        end
      end
    end
    i = i + 1
  end
  return status
end

local function page(i, n)
  local parts = { ("<html><head><title>Page %d</title></head><body><h1>Page %d</h1>"):format(i, i) }
  for _, l in ipairs(Site.links(i, n)) do
    parts[#parts + 1] = ('<p>See <a href="%s">%s</a> and more text to make the page realistic.</p>'):format(l, l)
  end
  parts[#parts + 1] = '<p><a href="#top">top</a> <a href="mailto:x@example.com">mail</a></p></body></html>'
  return table.concat(parts, "\n")
end

--- Serves the site on host:port; returns the server. latency = false
-- turns the simulated delays off.
function Site.serve(host, port, n, latency)
  local failed_once = {}
  return assert(m.http.listen(host, port, function(req, res)
    local kind, num = req.path:match("^/(%a+)/(%d+)$")
    num = tonumber(num)
    if latency ~= false then m.sleep((5 + mix(num or 0, 7) % 25) / 1000) end
    if req.path == "/robots.txt" then
      res.headers["Content-Type"] = "text/plain"
      return res:finish("User-agent: *\nDisallow: /private/\n")
    end
    if not num or num >= n then kind = "missing" end
    if kind == "go" then
      res.status = 301
      res.headers.Location = "/page/" .. num
      return res:finish()
    elseif kind == "slow" then
      if latency ~= false then m.sleep(0.3) end
    elseif kind == "flaky" then
      if not failed_once[num] then
        failed_once[num] = true
        res.status = 503
        return res:finish("try again")
      end
    elseif kind == "private" then
      res.status = 403
      return res:finish("robots.txt said no")
    elseif kind ~= "page" then
      res.status = 404
      return res:finish("no such page")
    end
    res.headers["Content-Type"] = "text/html; charset=utf-8"
    res:finish(page(num, n))
  end, { backlog = 1024 }))
end

if arg and arg[0] and arg[0]:match("demo_site%.lua$") then -- run as a script
  local n, port = 2000, 0
  local i = 1
  while arg[i] do
    if arg[i] == "--pages" then n = tonumber(arg[i + 1]); i = i + 1
    elseif arg[i] == "--port" then port = tonumber(arg[i + 1]); i = i + 1
    else io.stderr:write("usage: demo_site.lua [--pages N] [--port P]\n"); os.exit(2) end
    i = i + 1
  end
  local srv = Site.serve("127.0.0.1", port, n)
  local host, bound = srv:address()
  print(("listening on http://%s:%d/ (%d pages)"):format(host, bound, n))
  io.stdout:flush()
  srv:serve_forever()
end

return Site
