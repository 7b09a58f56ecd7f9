-- A producer feeding a consumer that reads the channel like a generator:
-- `for v in ch:iter()` runs until the producer closes the channel.
local m = require "moonlet"

m.run(function()
  local lines = m.channel(4)

  m.spawn(function()
    for i = 1, 6 do
      lines:send(("line %d"):format(i))
      print(("producer: sent line %d (%d buffered)"):format(i, #lines))
    end
    lines:close()
    print("producer: closed the channel")
  end)

  local count = 0
  for line in lines:iter() do
    count = count + 1
    print("consumer: got " .. line)
    m.sleep(0.001) -- a slow consumer: the producer runs ahead up to the buffer
  end
  print(("consumer: done after %d lines"):format(count))
end)
