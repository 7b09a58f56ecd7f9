/*
 * refs.h - values the loop keeps for C (refs: slots of one table), and the
 * metatables it knows by kind.
 */
#ifndef MOONLET_REFS_H
#define MOONLET_REFS_H

#include <lauxlib.h>
#include <lua.h>

typedef struct moonlet_loop moonlet_loop;

/* Metatables the loop knows, for fast type checks. The *_FAILED variants
 * add a finalizer that reports an error nobody retrieved. */
enum {
  MOONLET_MT_FUTURE,
  MOONLET_MT_FUTURE_FAILED,
  MOONLET_MT_TASK,
  MOONLET_MT_TASK_FAILED,
  MOONLET_MT_CHANNEL,
  MOONLET_MT_STREAM,
  MOONLET_MT_SERVER,
  MOONLET_MT_UDP,
  MOONLET_MT_PROCESS,
  MOONLET_MT_SIGNAL,
  MOONLET_MT_FILE,
  MOONLET_MT_HTTP_CLIENT,
  MOONLET_MT_HTTP_XFER,
  MOONLET_MT_COUNT
};

/* Registers funcs into the table on top with the loop as upvalue. */
void moonlet__setfuncs(lua_State *L, moonlet_loop *lp, const luaL_Reg *funcs);

/* The MOONLET_MT_* kind of the object at idx, or -1. */
int moonlet__objkind(lua_State *L, moonlet_loop *lp, int idx);
/* Pops a new metatable and records it as kind. */
void moonlet__register_mt(lua_State *L, moonlet_loop *lp, int kind);
/* Sets the metatable kind on the object at idx. */
void moonlet__setmt(lua_State *L, moonlet_loop *lp, int idx, int kind);

int moonlet__ref(lua_State *L, moonlet_loop *lp);        /* pops a value */
void moonlet__getref(lua_State *L, moonlet_loop *lp, int ref);
void moonlet__unref(lua_State *L, moonlet_loop *lp, int ref);
/* Frees the list of free slots (the table goes with the Lua state). */
void moonlet__refs_close(moonlet_loop *lp);

#endif
