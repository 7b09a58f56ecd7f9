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

#endif
