/*
 * task.h - the task object's Lua methods, and reporting failed tasks whose
 * error nobody retrieved.
 */
#ifndef MOONLET_TASK_H
#define MOONLET_TASK_H

#include "core/loop.h"

/* Reports the failed tasks still alive whose error nobody retrieved, as
 * their finalizer would. */
void moonlet__report_unretrieved(lua_State *L, moonlet_loop *lp);

void moonlet__open_task(lua_State *L, moonlet_loop *lp);

#endif
