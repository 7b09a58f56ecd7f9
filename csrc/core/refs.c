/*
 * refs.c - values the loop keeps for C (refs), and the metatables it
 * knows by kind, for type checks that compare addresses.
 */
#include <stdlib.h>

#include "core/loop.h"
#include "core/refs.h"

/* Refs are slots of one table. Free slot numbers wait in a C array (LIFO),
 * so taking and giving back one touch the table once; luaL_ref keeps its
 * free list in the table and reads and writes it three times. A slot is
 * taken anew only when none is free, so the table stays a dense array. */
int moonlet__ref(lua_State *L, moonlet_loop *lp) {
  int r;
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return LUA_REFNIL;
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, lp->refs);
  lua_pushvalue(L, -2);
  r = lp->nfree_refs > 0 ? lp->free_refs[lp->nfree_refs - 1] : lp->nrefs + 1;
  lua_rawseti(L, -2, r); /* may raise (memory): nothing taken yet */
  if (r == lp->nrefs + 1)
    lp->nrefs++;
  else
    lp->nfree_refs--;
  lua_pop(L, 2);
  return r;
}

void moonlet__getref(lua_State *L, moonlet_loop *lp, int ref) {
  if (ref < 0) {
    lua_pushnil(L);
    return;
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, lp->refs);
  lua_rawgeti(L, -1, ref);
  lua_remove(L, -2);
}

void moonlet__unref(lua_State *L, moonlet_loop *lp, int ref) {
  if (ref < 0) return;
  lua_rawgeti(L, LUA_REGISTRYINDEX, lp->refs);
  lua_pushnil(L);
  lua_rawseti(L, -2, ref);
  lua_pop(L, 1);
  if (lp->closed) return; /* the array is gone */
  if (lp->nfree_refs == lp->cap_free_refs) {
    int cap = lp->cap_free_refs ? 2 * lp->cap_free_refs : 64;
    int *a = realloc(lp->free_refs, (size_t)cap * sizeof *a);
    if (!a) return; /* the slot stays empty for good: no harm */
    lp->free_refs = a;
    lp->cap_free_refs = cap;
  }
  lp->free_refs[lp->nfree_refs++] = ref;
}

void moonlet__refs_close(moonlet_loop *lp) {
  free(lp->free_refs);
  lp->free_refs = NULL;
  lp->nfree_refs = lp->cap_free_refs = 0;
}

void moonlet__setfuncs(lua_State *L, moonlet_loop *lp, const luaL_Reg *funcs) {
  lua_pushlightuserdata(L, lp);
  luaL_setfuncs(L, funcs, 1);
}

/* Our metatables stay in the registry for the life of the state, and Lua
 * never moves objects, so a type check compares addresses. */
int moonlet__objkind(lua_State *L, moonlet_loop *lp, int idx) {
  const void *mt;
  int k;
  if (!lua_touserdata(L, idx) || !lua_getmetatable(L, idx)) return -1;
  mt = lua_topointer(L, -1);
  lua_pop(L, 1);
  for (k = 0; k < MOONLET_MT_COUNT; k++)
    if (mt == lp->mt_ptr[k]) return k;
  return -1;
}

void moonlet__register_mt(lua_State *L, moonlet_loop *lp, int kind) {
  lp->mt_ptr[kind] = lua_topointer(L, -1);
  lp->mt[kind] = luaL_ref(L, LUA_REGISTRYINDEX);
}

void moonlet__setmt(lua_State *L, moonlet_loop *lp, int idx, int kind) {
  idx = lua_absindex(L, idx);
  lua_rawgeti(L, LUA_REGISTRYINDEX, lp->mt[kind]);
  lua_setmetatable(L, idx);
}
