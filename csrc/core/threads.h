/*
 * threads.h - the pool of Lua threads finished tasks leave for new ones.
 */
#ifndef MOONLET_THREADS_H
#define MOONLET_THREADS_H

#include "core/loop.h"

/* Puts T, which ended cleanly, on top of the pool. */
void moonlet__thread_put(lua_State *T, moonlet_loop *lp);
/* Moves the newest pooled thread onto L and returns it, or returns NULL
 * (pushing nothing) when the pool is empty. */
lua_State *moonlet__thread_take(lua_State *L, moonlet_loop *lp);
/* Gives t, which never ran and has no thread yet, one with its function
 * on it. Returns NULL when memory is short. */
lua_State *moonlet__thread_bind(moonlet_loop *lp, moonlet_task *t);
/* Whether T ended cleanly, so a new task can take it. */
int moonlet__thread_reusable(lua_State *T);
/* The timer that trims the pool. */
void moonlet__threads_init(moonlet_loop *lp);
void moonlet__threads_close(moonlet_loop *lp);

#endif
