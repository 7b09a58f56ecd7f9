/*
 * embed.h - running inside a host's libuv loop, and closing for hosts.
 */
#ifndef MOONLET_EMBED_H
#define MOONLET_EMBED_H

#include "core/loop.h"

/* The host loop moonlet_open asked for, or NULL. */
uv_loop_t *moonlet__host_requested(lua_State *L);
/* Runs the loop inside host's: 0 or a libuv error. */
int moonlet__host_attach(moonlet_loop *lp, uv_loop_t *host);
/* Closes the loop, and on a host's loop its handles there too. */
void moonlet__close(lua_State *L, moonlet_loop *lp);

#endif
