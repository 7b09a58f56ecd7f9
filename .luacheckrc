-- luacheck over lua/, spec/, examples/ and bench/ (make lint, part of make test).
std = "lua54"
max_line_length = 150
files["spec"] = { std = "+busted" }
-- The example host's C code gives its Lua a 'host' table.
files["examples/host"] = { read_globals = { "host" } }
-- wrk's request scripts fill wrk's own table.
files["bench/servers/realistic.lua"] = { globals = { "wrk" } }
