/*
 * context.c - task-local context (context.h). A context is an immutable
 * table: setting a value makes a new table for the caller, so the snapshots
 * that spawned tasks and scheduled callbacks hold never change under them,
 * and a program that never sets one pays nothing at spawn.
 *
 * A task's and the main chunk's context are refs; a callback's sits in slot
 * 1 of a box the loop keeps, false when it has none, so that setting it
 * never allocates (callbacks start outside any protected call).
 */
#include "core/context.h"

void moonlet__context_push(lua_State *L, moonlet_loop *lp) {
  if (lp->current) {
    moonlet__getref(L, lp, lp->current->ctx_ref);
  } else if (lp->in_callback) {
    moonlet__getref(L, lp, lp->cb_box_ref);
    lua_rawgeti(L, -1, 1);
    lua_remove(L, -2);
    if (!lua_toboolean(L, -1)) {
      lua_pop(L, 1);
      lua_pushnil(L);
    }
  } else {
    moonlet__getref(L, lp, lp->main_ctx_ref);
  }
}

void moonlet__context_enter(lua_State *L, moonlet_loop *lp, int idx) {
  idx = lua_absindex(L, idx);
  moonlet__getref(L, lp, lp->cb_box_ref);
  if (lua_isnil(L, idx)) lua_pushboolean(L, 0); else lua_pushvalue(L, idx);
  lua_rawseti(L, -2, 1); /* an array slot that is never nil: no allocation */
  lua_pop(L, 1);
}

int moonlet__context_inherit(lua_State *L, moonlet_loop *lp) {
  moonlet__context_push(L, lp);
  return moonlet__ref(L, lp); /* nil: LUA_REFNIL, nothing taken */
}

/* _context_get() -> the caller's context table, or nil */
static int l_get(lua_State *L) {
  moonlet__context_push(L, moonlet__loop(L));
  return 1;
}

/* _context_replace(t) : t (a table nobody changes any more) or nil becomes
 * the caller's context. */
static int l_replace(lua_State *L) {
  moonlet_loop *lp = moonlet__loop(L);
  int *slot, ref;
  if (!lua_isnoneornil(L, 1)) luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  if (!lp->current && lp->in_callback) {
    moonlet__context_enter(L, lp, 1);
    return 0;
  }
  slot = lp->current ? &lp->current->ctx_ref : &lp->main_ctx_ref;
  ref = moonlet__ref(L, lp);
  moonlet__unref(L, lp, *slot);
  *slot = ref;
  return 0;
}

/* _debug([on]) -> whether debug mode is on (after setting it) */
static int l_debug(lua_State *L) {
  moonlet_loop *lp = moonlet__loop(L);
  if (!lua_isnone(L, 1)) lp->debug = lua_toboolean(L, 1);
  lua_pushboolean(L, lp->debug);
  return 1;
}

void moonlet__open_context(lua_State *L, moonlet_loop *lp) {
  static const luaL_Reg funcs[] = {{"_context_get", l_get},
                                   {"_context_replace", l_replace},
                                   {"_debug", l_debug},
                                   {NULL, NULL}};
  moonlet__setfuncs(L, lp, funcs);
  if (lp->cb_box_ref == LUA_NOREF) {
    lua_createtable(L, 1, 0);
    lua_pushboolean(L, 0);
    lua_rawseti(L, -2, 1);
    lp->cb_box_ref = moonlet__ref(L, lp);
  }
}
