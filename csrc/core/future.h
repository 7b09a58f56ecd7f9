/*
 * future.h - the one-shot result slot shared by futures and tasks.
 */
#ifndef MOONLET_FUTURE_H
#define MOONLET_FUTURE_H

#include "core/loop.h"

#define MOONLET_FUTURE_MT "moonlet.future"
#define MOONLET_TASK_MT "moonlet.task"

void moonlet__future_init(moonlet_future *f);

/* Settles a pending future, whose object is at obj, with the n values on
 * top of L (popped): results for FS_DONE, one error value for FS_FAILED
 * and FS_CANCELLED. Wakes the waiters and schedules the done-callbacks. */
void moonlet__future_settle(lua_State *L, moonlet_loop *lp, moonlet_future *f,
                            int obj, int state, int n);

/* Settles the pending future at obj as failed with the error on top of L
 * (popped), allocating nothing: for a memory error where nothing may raise.
 * Its done-callbacks are dropped (scheduling them allocates). */
void moonlet__future_fail_quietly(lua_State *L, moonlet_loop *lp,
                                  moonlet_future *f, int obj);

/* For a wait on the future in w->data: the awaited task's id, for dumps. */
void moonlet__describe_await(lua_State *L, moonlet_wait *w);

/* Pushes the results and returns their count, or raises the error. */
int moonlet__future_outcome(lua_State *L, moonlet_future *f, int obj);

/* The future of a task or future object at idx, or NULL. Inline: every
 * future method starts with it. Futures and tasks start with a
 * moonlet_future; nothing else does. */
static inline moonlet_future *moonlet__to_future(lua_State *L, int idx) {
  return moonlet__tagged(L, idx, MOONLET_TAG_FUTURE);
}

static inline moonlet_future *moonlet__check_future(lua_State *L, int idx) {
  moonlet_future *f = moonlet__to_future(L, idx);
  if (!f) luaL_typeerror(L, idx, "future or task");
  return f;
}

/* Creates and records the metatable kind, named name: __tostring, __gc if
 * gc is not NULL, and __index with the future methods plus extra (or NULL).
 * Tasks use it too. */
void moonlet__future_metatable(lua_State *L, moonlet_loop *lp,
                               const char *name, int kind,
                               lua_CFunction tostring, lua_CFunction gc,
                               const luaL_Reg *extra);

void moonlet__open_future(lua_State *L, moonlet_loop *lp);

#endif
