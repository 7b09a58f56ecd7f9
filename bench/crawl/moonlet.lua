-- The crawl benchmark's moonlet client: N distinct URLs through `conc`
-- tasks sharing one moonlet.http client; prints its wall and CPU time.
local m = require "moonlet"
local base, n, conc = arg[1], tonumber(arg[2]), tonumber(arg[3])

m.run(function()
  -- As the Go client: no compression asked for (DisableCompression).
  local client = m.http.client { max_connections = conc, decompress = false }
  local next_i, bad = 0, 0
  local t0, c0 = m.now(), os.clock()
  local workers = {}
  for w = 1, conc do
    workers[w] = m.spawn(function()
      while next_i < n do
        next_i = next_i + 1
        local i = next_i
        local r = client:get(base .. "/p/" .. i)
        local want = "page /p/" .. i .. " "
        if not r or r.status ~= 200 or #r.body ~= 2048 or r.body:sub(1, #want) ~= want then
          bad = bad + 1
        end
      end
    end)
  end
  m.gather(workers)
  print(("ok %d bad %d wall %.4f cpu %.4f"):format(n - bad, bad, m.now() - t0, os.clock() - c0))
  client:close()
end)
