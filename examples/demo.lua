-- make demo: the crawler against a local site, no network needed. Starts
-- examples/demo_site.lua (moonlet's HTTP server generating interlinked
-- pages with latency, redirects, 404s, slow and flaky pages) in a child
-- process and crawls it with examples/crawl.lua, showing its progress.
--   lua5.4 examples/demo.lua [pages]
local m = require "moonlet"

local lua = arg[-1] or "lua5.4"
local pages = tonumber(arg[1]) or 3000

m.run(function()
  local site = assert(m.process.spawn { lua, "examples/demo_site.lua", "--pages", tostring(pages),
                                        stdout = "pipe" })
  local line = site.stdout:read("l")
  local url = line and line:match("(http://%S+)")
  if not url then
    site:kill()
    error("the demo site did not start")
  end
  print("demo site " .. line)
  print("crawling it with 100 concurrent tasks:\n")
  local crawler = assert(m.process.spawn { lua, "examples/crawl.lua", url .. "page/0",
                                           "--concurrency", "100", "--per-host", "100" })
  local status = crawler:wait()
  site:kill()
  site:wait()
  site:close()
  if status ~= 0 then os.exit(1) end
end)
