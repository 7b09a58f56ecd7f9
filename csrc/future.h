/*
 * future.h - the one-shot result slot shared by futures and tasks.
 */
#ifndef MOONLET_FUTURE_H
#define MOONLET_FUTURE_H

#include "sched.h"

#define MOONLET_FUTURE_MT "moonlet.future"
#define MOONLET_TASK_MT "moonlet.task"

void moonlet__future_init(moonlet_future *f);

/* Settles a pending future with the n values on top of L (popped): results
 * for FS_DONE, one error value for FS_FAILED/FS_CANCELLED. tbref is a ref of
 * the failure's traceback string, or LUA_NOREF; the future takes it over.
 * Wakes the waiters and schedules the done-callbacks. */
void moonlet__future_settle(lua_State *L, moonlet_loop *lp, moonlet_future *f,
                            int state, int n, int tbref);

/* Pushes the results and returns their count, or raises the error. */
int moonlet__future_outcome(lua_State *L, moonlet_loop *lp, moonlet_future *f);

/* Frees the values a settled future holds. */
void moonlet__future_clear(lua_State *L, moonlet_loop *lp, moonlet_future *f);

/* The future of a task or future object at idx, or NULL. */
moonlet_future *moonlet__to_future(lua_State *L, int idx);
moonlet_future *moonlet__check_future(lua_State *L, int idx);

/* Handles for callbacks: on_done, call_soon, call_later, call_every. */
typedef struct moonlet_handle moonlet_handle;

/* Creates a handle that will call the function at fn_idx with the nargs
 * values that follow it; pushes the handle object. */
moonlet_handle *moonlet__handle_new(lua_State *L, moonlet_loop *lp,
                                    int fn_idx, int nargs);
/* Queues a handle to run on a later turn. */
void moonlet__handle_schedule(moonlet_loop *lp, moonlet_handle *h);
/* Parks a handle in a list (a future's callbacks) until scheduled. */
void moonlet__handle_park(moonlet_handle *h, mqueue *list);
/* Moves every parked handle in list to the run queue. */
void moonlet__handle_schedule_all(moonlet_loop *lp, mqueue *list);
/* Drops every parked handle in list without running it. */
void moonlet__handle_drop_all(lua_State *L, moonlet_loop *lp, mqueue *list);

#endif
