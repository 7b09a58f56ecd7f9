/*
 * callback.h - callback handles: on_done, call_soon, call_later,
 * call_every.
 */
#ifndef MOONLET_CALLBACK_H
#define MOONLET_CALLBACK_H

#include "core/loop.h"

/* Handles for callbacks: on_done, call_soon, call_later, call_every. */
typedef struct moonlet_handle moonlet_handle;

/* Creates a handle that will call the function at fn_idx with the nargs
 * values that follow it; pushes the handle object. */
moonlet_handle *moonlet__handle_new(lua_State *L, moonlet_loop *lp,
                                    int fn_idx, int nargs);
/* Queues the handle object at idx to run on a later turn. */
void moonlet__handle_schedule(lua_State *L, moonlet_loop *lp, int idx);
/* Parks the handle object at idx with the future object at obj, until the
 * future settles; the future keeps it alive. */
void moonlet__handle_park(lua_State *L, int idx, int obj);
/* Queues every handle in the list of parked handles at index list. */
void moonlet__handle_schedule_parked(lua_State *L, moonlet_loop *lp, int list);

void moonlet__open_callback(lua_State *L, moonlet_loop *lp);

#endif
