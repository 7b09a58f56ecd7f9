-- Randomised model test for channels: many random interleavings of send,
-- recv, select (with timeouts), try_send, try_recv, close (at any point) and
-- cancellation across tasks, checked
-- against what must hold: every value whose send succeeded is received
-- exactly once, nothing else is received, and every receiver sees each
-- sender's values in the order they were sent. (A value handed to a waiting
-- receiver is recorded when that receiver runs, so only the order each
-- receiver sees is meaningful, not the order of recording across them.)
local m = require "moonlet"
local U = require "support.util"

local function scenario(seed)
  math.randomseed(seed)
  -- small capacities fill and wrap; a large one keeps its ring in a table
  local ch = m.channel(math.random(1, 20) == 1 and 1100 or math.random(0, 3))
  local idle = m.channel() -- a second select case that never fires
  local sent_ok, received, seen = {}, {}, {}
  local function take(who, v) received[#received + 1] = { who, v } end
  local senders, receivers = {}, {}

  for s = 1, math.random(1, 4) do
    senders[s] = m.spawn(function()
      for k = 1, math.random(1, 8) do
        local v = s * 1000 + k
        local ok, i
        if math.random() < 0.3 then
          -- Through select, sometimes giving up: an offer withdrawn on
          -- timeout must never be received.
          ok, i = pcall(m.select, { { ch, "send", v } }, { timeout = 0.0005 * math.random(0, 2) })
          if ok and i == nil then goto next end
        else
          ok = pcall(ch.send, ch, v)
        end
        if not ok then return end -- cancelled or closed
        sent_ok[v] = true
        ::next::
        if math.random() < 0.3 then m.yield() end
      end
    end)
  end
  for r = 1, math.random(1, 4) do
    receivers[r] = m.spawn(function()
      while true do
        local ok, v, more
        if math.random() < 0.3 then
          local i
          ok, i, v, more = pcall(m.select, { { ch, "recv" }, { idle, "recv" } }, { timeout = 0.001 })
          if ok and i == nil then goto again end
        else
          ok, v, more = pcall(ch.recv, ch)
        end
        if not ok or not more then return end
        take(r, v)
        if math.random() < 0.3 then m.yield() end
        ::again::
      end
    end)
  end

  for _ = 1, math.random(5, 30) do
    local action = math.random(1, 7)
    if action <= 3 then
      m.yield()
    elseif action == 4 then
      senders[math.random(#senders)]:cancel()
    elseif action == 5 then
      receivers[math.random(#receivers)]:cancel()
    elseif action == 6 then
      local v, ok = ch:try_recv()
      if ok then take("main", v) end
    elseif math.random() < 0.3 and not ch:closed() then
      ch:close() -- mid-way: waiting senders raise, receivers drain
    end
  end

  for _, t in ipairs(senders) do pcall(t.await, t) end
  if not ch:closed() then ch:close() end
  for _, t in ipairs(receivers) do pcall(t.await, t) end
  for v in ch:iter() do take("drain", v) end

  local last = {}
  for _, rec in ipairs(received) do
    local who, v = rec[1], rec[2]
    assert(not seen[v], ("seed %d: %d received twice"):format(seed, v))
    seen[v] = true
    assert(sent_ok[v], ("seed %d: %d received but its send failed"):format(seed, v))
    local key = who .. ":" .. v // 1000
    assert((last[key] or 0) < v % 1000,
      ("seed %d: receiver %s saw sender %d out of order"):format(seed, who, v // 1000))
    last[key] = v % 1000
  end
  for v in pairs(sent_ok) do
    assert(seen[v], ("seed %d: %d was sent but never received"):format(seed, v))
  end
end

describe("channels against the model", function()
  it("lose, duplicate and reorder nothing over random schedules", function()
    local runs = U.under_valgrind and 60 or 1500
    for seed = 1, runs do scenario(seed) end
  end)

  it("leaves no task or handle behind", U.assert_clean)
end)
