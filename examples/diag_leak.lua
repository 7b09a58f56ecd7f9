-- A program that leaks tasks, and how the task dump finds them: each
-- "request" starts a helper that waits for a reply nobody sends. After a
-- while, m.tasks_info() grouped by spawn site (debug mode) shows where the
-- unfinished tasks come from and what they wait on.
local m = require "moonlet"
m.debug(true)

local function handle_request(i)
  local reply = m.channel()
  m.spawn(function()
    reply:recv() -- the leak: nobody ever sends on reply
  end):set_name("helper-" .. i)
  return i * 2
end

for i = 1, 50 do handle_request(i) end
m.sleep(0.01)

local by_site = {}
for _, t in ipairs(m.tasks_info()) do
  local key = (t.spawned or "?") .. " waiting on " .. (t.waiting and t.waiting.kind or t.status)
  by_site[key] = (by_site[key] or 0) + 1
end
for site, n in pairs(by_site) do print(("%d tasks spawned at %s"):format(n, site)) end
print(("m.stats().tasks = %d"):format(m.stats().tasks))
for _, t in ipairs(m.tasks()) do t:cancel() end
m.sleep(0)
