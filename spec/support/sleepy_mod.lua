-- A module whose chunk blocks while it is being required.
local m = require "moonlet"
local before = m.now()
m.sleep(0.001)
m.yield()
return { value = 42, slept = m.now() - before }
