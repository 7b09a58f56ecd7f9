// A C++ host: built by tools/check-host.sh against the installed copy with
// pkg-config flags only, once linked with libmoonlet.so and once with
// libmoonlet.a. It runs a task that sleeps and prints the versions.
#include <cstdio>
#include <cstring>

#include "moonlet.h"
extern "C" {
#include <lualib.h>
}

int main() {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  if (moonlet_open(L, nullptr) != MOONLET_OK) return 1;
  if (luaL_dostring(L, "local m = require 'moonlet'\n"
                       "return m.spawn(function() m.sleep(0.01); return m._VERSION end)") != LUA_OK)
    return 2;
  if (moonlet_run(L, -1) != MOONLET_OK) return 3;
  lua_getfield(L, -1, "result");
  lua_pushvalue(L, -2);
  lua_call(L, 1, 1);
  std::printf("%s (header %s)\n", lua_tostring(L, -1), MOONLET_VERSION_STRING);
  int same = std::strcmp(lua_tostring(L, -1), "moonlet " MOONLET_VERSION_STRING) == 0;
  moonlet_close(L);
  lua_close(L);
  return same ? 0 : 4;
}
