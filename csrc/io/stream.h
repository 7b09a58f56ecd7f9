/*
 * stream.h - byte streams (TCP, Unix-domain pipes, process pipes) read like
 * Lua files, and the servers that accept them. Process pipes are made by
 * the process binding with moonlet__stream_pipe.
 */
#ifndef MOONLET_STREAM_H
#define MOONLET_STREAM_H

#include "io/io.h"

/* Pushes a new, unconnected pipe stream object and returns its handle;
 * raises when out of memory (nothing pushed then). */
uv_pipe_t *moonlet__stream_pipe(lua_State *L, moonlet_loop *lp);

/* The read buffers the loop keeps spare for its streams (for m.stats). */
int moonlet__stream_spare_buffers(moonlet_loop *lp);
/* Whether h is the timer that trims them (not one of the user's handles). */
int moonlet__stream_own_handle(moonlet_loop *lp, const uv_handle_t *h);

#endif
