/*
 * context.h - task-local context: a table of values a task sees, that the
 * tasks it spawns and the callbacks it schedules inherit (a snapshot, taken
 * then), and nobody else sees. Like asyncio's contextvars.
 */
#ifndef MOONLET_CONTEXT_H
#define MOONLET_CONTEXT_H

#include "core/loop.h"

/* A new ref to the caller's context table (the running task's, callback's
 * or the main chunk's), or LUA_NOREF when it has none: for a task being
 * spawned, a callback being scheduled. */
int moonlet__context_inherit(lua_State *L, moonlet_loop *lp);
/* Pushes the caller's context table, or nil. */
void moonlet__context_push(lua_State *L, moonlet_loop *lp);

/* The context table at idx (or nil) becomes the running callback's; the
 * callback's runner sets it before and clears it (nil) after. Never
 * allocates. */
void moonlet__context_enter(lua_State *L, moonlet_loop *lp, int idx);

void moonlet__open_context(lua_State *L, moonlet_loop *lp);

#endif
