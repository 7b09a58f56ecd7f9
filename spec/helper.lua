-- Loaded by busted before the specs (see .busted): finds the build.
local build = os.getenv("MOONLET_TEST_BUILD") or "build"
package.cpath = "./" .. build .. "/?.so;" .. package.cpath
