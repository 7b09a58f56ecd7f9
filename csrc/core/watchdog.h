/*
 * watchdog.h - notices a task or callback that keeps the loop from
 * turning (a long computation, a blocking call nobody made cooperative)
 * and reports where it is. The loop marks each step it runs; a watchdog
 * thread, when enabled, samples the marks and, when one step has lasted
 * longer than the threshold, sets a Lua hook on the running thread that
 * takes its traceback at its next instruction, on the loop's own thread.
 */
#ifndef MOONLET_WATCHDOG_H
#define MOONLET_WATCHDOG_H

#include "core/loop.h"

/* The loop runs Lua on L from now on (a task step or a callback). Two
 * relaxed stores: the marks cost nothing measurable, watched or not. */
static inline void moonlet__step_begin(moonlet_loop *lp, lua_State *L) {
  __atomic_store_n(&lp->step_L, L, __ATOMIC_RELAXED);
  __atomic_store_n(&lp->step_seq, (lp->step_seq | 1) + 2, __ATOMIC_RELEASE);
}

/* ... and no longer. */
static inline void moonlet__step_end(moonlet_loop *lp) {
  __atomic_store_n(&lp->step_seq, (lp->step_seq + 1) & ~(uint64_t)1,
                   __ATOMIC_RELEASE);
}

void moonlet__open_watchdog(lua_State *L, moonlet_loop *lp);

#endif
