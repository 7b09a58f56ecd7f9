/*
 * module.h - the moonlet.core module: finding the loop of a Lua state.
 */
#ifndef MOONLET_MODULE_H
#define MOONLET_MODULE_H

#include "core/loop.h"

/* The loop of L's moonlet, or NULL before it is opened. */
moonlet_loop *moonlet__loop_of(lua_State *L);

#endif
