/*
 * moonlet.h - moonlet's C interface for hosts and C modules.
 *
 * This part covers blocking C work on libuv's thread pool (moonlet.work).
 * It is header-only: a C module or host registers work functions without
 * linking against moonlet, because the functions and their values are plain
 * C and registration goes through the Lua registry.
 */
#ifndef MOONLET_H
#define MOONLET_H

#include <lauxlib.h>
#include <lua.h>
#include <stddef.h>

/* --- work functions ------------------------------------------------------ */

/* A value crossing to a pool thread: nil, boolean, integer, number or
 * string (type is LUA_TNIL, LUA_TBOOLEAN, LUA_TNUMBER or LUA_TSTRING;
 * is_int tells an integer from a float). */
typedef struct moonlet_value {
  int type;
  int is_int;
  union {
    int b;
    lua_Integer i;
    lua_Number n;
    char *s;          /* results: malloc'd by the work function; freed by moonlet */
  } v;
  size_t len;         /* strings */
} moonlet_value;

#define MOONLET_WORK_MAXRESULTS 8

/* One call of a work function. It runs on a pool thread: it must not touch
 * any lua_State. Arguments are copies (strings are NUL-terminated). */
typedef struct moonlet_work_call {
  int nargs;
  const moonlet_value *args;
  int nresults;                         /* set by the function */
  moonlet_value results[MOONLET_WORK_MAXRESULTS];
  char error[256];                      /* message when it returns non-zero */
} moonlet_work_call;

/* Returns 0, or non-zero with a message in call->error (moonlet.work then
 * raises "work 'name': message"). */
typedef int (*moonlet_work_fn)(moonlet_work_call *call);

#define MOONLET_WORK_REGISTRY "moonlet.work"

/* Makes fn callable from Lua as moonlet.work(name, ...), in this Lua state
 * (call it after require "moonlet" or before: the table is shared). */
static inline void moonlet_register_work(lua_State *L, const char *name,
                                         moonlet_work_fn fn) {
  union { moonlet_work_fn fn; void *p; } u;
  u.fn = fn;
  luaL_getsubtable(L, LUA_REGISTRYINDEX, MOONLET_WORK_REGISTRY);
  lua_pushlightuserdata(L, u.p);
  lua_setfield(L, -2, name);
  lua_pop(L, 1);
}

#endif
