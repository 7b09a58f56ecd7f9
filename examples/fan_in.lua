-- Go-style fan-out/fan-in: three sources at different speeds, merged with
-- select, with an overall deadline from m.after and a per-wait timeout.
local m = require "moonlet"

m.run(function()
  local function source(name, every, n)
    local ch = m.channel()
    m.spawn(function()
      for i = 1, n do
        m.sleep(every)
        ch:send(("%s #%d"):format(name, i))
      end
      ch:close()
    end)
    return ch
  end

  local sources = { fast = source("fast", 0.002, 5), slow = source("slow", 0.005, 3) }
  local stuck = m.channel() -- never sends: select simply never picks it
  local deadline = m.after(0.5)
  local received = 0

  while next(sources) do
    -- A closed channel is always ready, so finished sources leave the
    -- cases (in Go one sets the channel to nil).
    local cases, names = { { deadline, "recv" }, { stuck, "recv" } }, {}
    for name, ch in pairs(sources) do
      cases[#cases + 1] = { ch, "recv" }
      names[#cases] = name
    end
    local i, v, ok = m.select(cases, { timeout = 0.1 })
    if i == nil then
      print("nothing for 100 ms")
    elseif i == 1 then
      print("deadline reached")
      break
    elseif not ok then
      sources[names[i]] = nil
      print(names[i] .. " source finished")
    else
      received = received + 1
      print("got " .. v)
    end
  end
  deadline:stop()
  print(("received %d messages"):format(received))
end)
