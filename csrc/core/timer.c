/*
 * timer.c - sleep, yield and the clock.
 *
 * Sleeping waits sit in one binary min-heap per loop, ordered by deadline
 * and then by arrival, driven by a single libuv timer set to the earliest
 * deadline. A sleeping task then costs 16 bytes of heap entry and key
 * instead of a libuv timer handle of its own.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/loop.h"
#include "core/timer.h"

static int earlier(const moonlet_wait *a, const moonlet_wait *b) {
  if (a->deadline != b->deadline) return a->deadline < b->deadline;
  return (int32_t)(a->seq - b->seq) < 0;
}

static void heap_set(moonlet_loop *lp, uint32_t i, moonlet_wait *w) {
  lp->sleepers[i] = w;
  w->heap_idx = i;
}

static void sift_up(moonlet_loop *lp, uint32_t i) {
  moonlet_wait *w = lp->sleepers[i];
  while (i > 0) {
    uint32_t parent = (i - 1) / 2;
    if (!earlier(w, lp->sleepers[parent])) break;
    heap_set(lp, i, lp->sleepers[parent]);
    i = parent;
  }
  heap_set(lp, i, w);
}

static void sift_down(moonlet_loop *lp, uint32_t i) {
  moonlet_wait *w = lp->sleepers[i];
  uint32_t n = lp->nsleepers;
  for (;;) {
    uint32_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && earlier(lp->sleepers[c + 1], lp->sleepers[c])) c++;
    if (!earlier(lp->sleepers[c], w)) break;
    heap_set(lp, i, lp->sleepers[c]);
    i = c;
  }
  heap_set(lp, i, w);
}

static void heap_remove(moonlet_loop *lp, moonlet_wait *w) {
  uint32_t i = w->heap_idx, last = --lp->nsleepers;
  w->heap_idx = UINT32_MAX;
  if (i == last) return;
  heap_set(lp, i, lp->sleepers[last]);
  sift_down(lp, i);
  sift_up(lp, lp->sleepers[i]->heap_idx);
}

static void on_sleep_timer(uv_timer_t *h);

/* Points the loop's timer at the earliest deadline, or stops it. */
static void arm(moonlet_loop *lp) {
  uint64_t now = uv_now(lp->uv), at;
  if (lp->nsleepers == 0) {
    uv_timer_stop(&lp->sleep_timer);
    return;
  }
  at = lp->sleepers[0]->deadline;
  uv_timer_start(&lp->sleep_timer, on_sleep_timer, at > now ? at - now : 0, 0);
}

/* Records how late the timer fired for the earliest deadline. */
static void sample_lag(moonlet_loop *lp, uint64_t deadline_ms) {
  uint64_t now_us = uv_hrtime() / 1000, due_us = deadline_ms * 1000;
  uint64_t lag = now_us > due_us ? now_us - due_us : 0;
  lp->lag_us[lp->nlag++ % MOONLET_LAG_SAMPLES] =
      lag > UINT32_MAX ? UINT32_MAX : (uint32_t)lag;
}

static void on_sleep_timer(uv_timer_t *h) {
  moonlet_loop *lp = h->data;
  uint64_t now = uv_now(lp->uv);
  if (lp->nsleepers > 0) sample_lag(lp, lp->sleepers[0]->deadline);
  while (lp->nsleepers > 0 && lp->sleepers[0]->deadline <= now) {
    moonlet_wait *w = lp->sleepers[0];
    heap_remove(lp, w);
    moonlet__wake(w, MW_OK);
  }
  arm(lp);
}

void moonlet__sleep_stop(moonlet_wait *w) {
  moonlet_loop *lp = w->loop;
  if (w->heap_idx == UINT32_MAX) return;
  heap_remove(lp, w);
  arm(lp);
}

int moonlet__sleep_start(moonlet_loop *lp, moonlet_wait *w, uint64_t ms) {
  if (lp->nsleepers == lp->cap_sleepers) {
    uint32_t cap = lp->cap_sleepers ? lp->cap_sleepers * 2 : 64;
    moonlet_wait **s = realloc(lp->sleepers, cap * sizeof *s);
    if (!s) return -1;
    lp->sleepers = s;
    lp->cap_sleepers = cap;
  }
  /* From the moment of the call: the loop's cached time lags by whatever
   * ran since the turn began, and a deadline taken from it comes early. */
  uv_update_time(lp->uv);
  w->deadline = uv_now(lp->uv) + ms;
  w->seq = lp->sleep_seq++;
  heap_set(lp, lp->nsleepers++, w);
  sift_up(lp, w->heap_idx);
  w->detach = moonlet__sleep_stop;
  if (w->heap_idx == 0) arm(lp);
  return 0;
}

uint64_t moonlet__ms(double s) {
  if (!(s > 0)) return 0;
  if (s > 4.0e15) s = 4.0e15; /* far beyond any program's life */
  return (uint64_t)ceil(s * 1000.0);
}

static int wake_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  moonlet__check_wake(L, (moonlet_wait *)ctx);
  return 0;
}

/* Ready again on a later turn, after what is ready now. */
static int yield_now(lua_State *L, moonlet_loop *lp, moonlet_wait *w) {
  if (!w->task) {
    /* The main chunk: let one turn of the loop run. */
    lp->driving = 1;
    uv_run(lp->uv, UV_RUN_NOWAIT);
    lp->driving = 0;
    moonlet__end_wait(w);
    return 0;
  }
  moonlet__wake(w, MW_OK);
  return moonlet__block(L, lp, w, wake_k);
}

static int l_sleep(lua_State *L) {
  moonlet_loop *lp = moonlet__loop(L);
  double s = luaL_checknumber(L, 1);
  moonlet_wait *w;
  luaL_argcheck(L, s == s, 1, "not a number");
  w = moonlet__enter_block(L, lp);
  if (s <= 0) return yield_now(L, lp, w);
  w->what = "sleep";
  if (moonlet__sleep_start(lp, w, moonlet__ms(s)) != 0) {
    moonlet__end_wait(w);
    return luaL_error(L, "not enough memory");
  }
  return moonlet__block(L, lp, w, wake_k);
}

static int l_yield(lua_State *L) {
  moonlet_loop *lp = moonlet__loop(L);
  return yield_now(L, lp, moonlet__enter_block(L, lp));
}

static int l_now(lua_State *L) {
  lua_pushnumber(L, (lua_Number)uv_hrtime() / 1e9);
  return 1;
}

void moonlet__timer_init(moonlet_loop *lp) {
  uv_timer_init(lp->uv, &lp->sleep_timer);
  lp->sleep_timer.data = lp;
}

void moonlet__timer_close(moonlet_loop *lp) {
  uv_close((uv_handle_t *)&lp->sleep_timer, NULL);
  free(lp->sleepers);
  lp->sleepers = NULL;
  lp->nsleepers = lp->cap_sleepers = 0;
}

void moonlet__open_timer(lua_State *L, moonlet_loop *lp) {
  static const luaL_Reg funcs[] = {
      {"sleep", l_sleep}, {"yield", l_yield}, {"now", l_now}, {NULL, NULL}};
  moonlet__setfuncs(L, lp, funcs);
}
