/*
 * spawn.h - a task's life: spawning, cancellation requests, and its end.
 */
#ifndef MOONLET_SPAWN_H
#define MOONLET_SPAWN_H

#include "core/loop.h"

/* How a task ended: what moonlet__task_finish finds as its outcome. */
enum {
  END_RETURNED,        /* its function returned: the results on top of T */
  END_RAISED,          /* it raised: the error on top of T, T not yet reset */
  END_CANCELLED_NEW,   /* cancelled before it ever ran */
  END_RESUMED_OUTSIDE, /* its thread was run to the end by someone else */
  END_NO_THREAD        /* there was no memory for its thread */
};

/* Spawns the function at top-nargs with the nargs values above it (popping
 * them) and pushes the task object. */
moonlet_task *moonlet__spawn(lua_State *L, moonlet_loop *lp, int nargs);

/* Requests cancellation; returns 0 if the task had already finished. */
int moonlet__task_cancel(lua_State *L, moonlet_loop *lp, moonlet_task *t,
                         int msg_idx);

/* Pushes the Lua object of an unfinished task (nil once it has finished:
 * the loop anchors it only while it runs). */
void moonlet__push_task(lua_State *L, moonlet_loop *lp, moonlet_task *t);

/* The task of the task object at idx, or NULL. */
moonlet_task *moonlet__to_task(lua_State *L, int idx);

/* The task ended (how, with nres results on its thread if it returned):
 * settles its future and gives back its thread and native state. On the
 * shared stack when it ran. Never raises. */
void moonlet__task_finish(moonlet_loop *lp, moonlet_task *t, int how,
                          int nres);

#endif
