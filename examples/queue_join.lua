-- A queue with task_done/join. A put hands the item straight to a waiting
-- getter, which runs on the next turn: the log shows the order.
local m = require "moonlet"

m.run(function()
  local q = m.queue()
  local log = {}
  local function say(s) log[#log + 1] = s; print(s) end

  for w = 1, 2 do
    m.spawn(function()
      while true do
        say(("worker %d: waiting"):format(w))
        local item = q:get()
        if item == nil then return end -- closed
        say(("worker %d: got %s"):format(w, item))
        m.sleep(0.001)
        q:task_done()
      end
    end)
  end

  m.yield() -- both workers are now waiting in get
  say("main: put a")
  q:put("a") -- handed straight to worker 1, who runs on the next turn
  say("main: put b")
  q:put("b")
  say("main: put c (no one waits: it is stored)")
  q:put("c")
  say("main: join")
  q:join()
  say("main: every item is done")
  q:close()
end)
