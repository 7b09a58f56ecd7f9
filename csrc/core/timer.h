/*
 * timer.h - sleeping: the heap of timed waits behind one uv timer, and
 * moonlet.sleep, yield and now.
 */
#ifndef MOONLET_TIMER_H
#define MOONLET_TIMER_H

#include "core/loop.h"

/* Puts w in the sleep heap, due ms from the loop's now; sets w->detach.
 * Returns 0 or -1 (out of memory). */
int moonlet__sleep_start(moonlet_loop *lp, moonlet_wait *w, uint64_t ms);
/* Takes w out of the sleep heap if it is there. */
void moonlet__sleep_stop(moonlet_wait *w);
/* Seconds to milliseconds for the sleep heap, rounded up and clamped. */
uint64_t moonlet__ms(double s);

/* The sleep heap's timer. */
void moonlet__timer_init(moonlet_loop *lp);
void moonlet__timer_close(moonlet_loop *lp);

void moonlet__open_timer(lua_State *L, moonlet_loop *lp);

#endif
