-- The crawler (examples/crawl.lua, a child process) against the demo site
-- (examples/demo_site.lua, served by this process): it must find exactly
-- the pages a polite breadth-first crawl reaches, with their statuses.
local m = require "moonlet"
local U = require "support.util"
teardown(U.assert_clean) -- the leak check every spec file ends with
local Site = dofile("examples/demo_site.lua")

local PAGES = U.under_valgrind and 60 or 300

local function crawl(args)
  local env = m.process.environ()
  env.LUA_PATH = "./lua/?.lua;./lua/?/init.lua;;"
  env.LUA_CPATH = "./" .. U.build .. "/?.so;;"
  local argv = { "lua5.4", "examples/crawl.lua" }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  return m.process.run(argv, { env = env, timeout = 120 })
end

local function read_out(path)
  local got = {}
  for line in io.lines(path) do
    local status, url = line:match("^(%S+) (%S+)$")
    got[url:match("^http://[^/]+(/.*)$")] = tonumber(status) or status
  end
  os.remove(path)
  return got
end

describe("examples/crawl.lua", function()
  local srv, base
  setup(function()
    srv = Site.serve("127.0.0.1", 0, PAGES, false)
    base = ("http://%s:%d"):format(srv:address())
  end)
  teardown(function() srv:close() end)

  it("finds exactly the pages of the demo site, with their statuses", function()
    local out = os.tmpname()
    local stdout, stderr, code = crawl({ base .. "/page/0", "--concurrency", "20", "--out", out })
    assert.equal(0, code, stderr)
    local got = read_out(out)
    assert.same(Site.expected(PAGES), got)
    assert.matches("crawled %d+ pages in [%d.]+ s", stdout)
    assert.matches("errors:   HTTP 404 x%d+", stdout)
    assert.matches("skipped by robots.txt: [1-9]", stdout)
    assert.matches("retries:  [1-9]", stdout) -- the flaky pages failed once
  end)

  it("stops at --max-pages", function()
    local out = os.tmpname()
    local _, stderr, code = crawl({ base .. "/page/0", "--max-pages", "25", "--out", out })
    assert.equal(0, code, stderr)
    local n = 0
    for _ in pairs(read_out(out)) do n = n + 1 end
    assert.equal(25, n)
  end)

  it("rejects bad arguments with its usage", function()
    local _, stderr, code = crawl({ "--concurrency" })
    assert.equal(2, code)
    assert.matches("usage: crawl.lua URL", stderr)
    _, stderr, code = crawl({ "ftp://127.0.0.1/" })
    assert.equal(1, code)
    assert.matches("only http and https", stderr)
    local stdout
    stdout, stderr, code = crawl({ "--help" })
    assert.equal(0, code, stderr)
    assert.matches("%-%-concurrency N +pages fetched at once %(default 50%)", stdout)
    assert.matches("%-%-per%-host N .*%(default 8%)", stdout)
  end)
end)

describe("examples/demo.lua (make demo)", function()
  it("starts the demo site, crawls it and prints the summary", function()
    local env = m.process.environ()
    env.LUA_PATH = "./lua/?.lua;./lua/?/init.lua;;"
    env.LUA_CPATH = "./" .. U.build .. "/?.so;;"
    local out, err, code = m.process.run({ "lua5.4", "examples/demo.lua", "200" }, { env = env, timeout = 120 })
    assert.equal(0, code, err)
    assert.matches("demo site listening on http://127.0.0.1:%d+/ %(200 pages%)", out)
    assert.matches("crawled %d+ pages in [%d.]+ s", out)
    assert.matches("statuses: 200 x%d+, 404 x%d+", out)
  end)
end)
