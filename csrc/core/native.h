/*
 * native.h - the native state of tasks that suspend natively or run a C
 * fiber (registers, stack slice buffer), lent by the loop and kept for
 * reuse when the task ends.
 */
#ifndef MOONLET_NATIVE_H
#define MOONLET_NATIVE_H

#include "core/loop.h"

/* t's native state, lent from the loop if it has none yet; NULL if memory
 * is short. */
moonlet_native *moonlet__native_lend(moonlet_loop *lp, moonlet_task *t);
/* The same, raising if memory is short (nothing has changed then). */
moonlet_native *moonlet__task_native(lua_State *L, moonlet_loop *lp,
                                     moonlet_task *t);
/* Takes back the native state of t, which ended. */
void moonlet__native_give(moonlet_loop *lp, moonlet_task *t);
/* Bytes of slice buffers the loop keeps with its pooled native states. */
size_t moonlet__pooled_native_bytes(const moonlet_loop *lp);
/* Frees the pooled native states. */
void moonlet__native_close(moonlet_loop *lp);

#endif
