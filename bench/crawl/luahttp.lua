-- The crawl benchmark's lua-http client (cqueues): N distinct URLs through
-- `conc` coroutines; prints its wall and CPU time. lua-http 0.4 keeps no
-- connection pool, so every request opens a connection.
local cqueues = require "cqueues"
local request = require "http.request"
local base, n, conc = arg[1], tonumber(arg[2]), tonumber(arg[3])

local cq = cqueues.new()
local next_i, bad = 0, 0
local t0, c0 = cqueues.monotime(), os.clock()
for _ = 1, conc do
  cq:wrap(function()
    while next_i < n do
      next_i = next_i + 1
      local i = next_i
      local headers, stream = request.new_from_uri(base .. "/p/" .. i):go(30)
      local body = stream and stream:get_body_as_string()
      local want = "page /p/" .. i .. " "
      if not headers or headers:get(":status") ~= "200" or not body or #body ~= 2048 or
         body:sub(1, #want) ~= want then
        bad = bad + 1
      end
      if stream then stream:shutdown() end
    end
  end)
end
assert(cq:loop())
print(("ok %d bad %d wall %.4f cpu %.4f"):format(n - bad, bad, cqueues.monotime() - t0, os.clock() - c0))
