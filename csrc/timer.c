/*
 * timer.c - sleep, yield and the clock.
 */
#include <math.h>

#include "sched.h"

static void sleep_done(uv_timer_t *t) {
  moonlet__wake((moonlet_wait *)t->data, MW_OK);
}

static void sleep_detach(moonlet_wait *w) { uv_timer_stop(&w->timer); }

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
    w->status = MW_OK;
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
  if (s > 4.0e15) s = 4.0e15;
  uv_timer_start(&w->timer, sleep_done, (uint64_t)ceil(s * 1000.0), 0);
  w->detach = sleep_detach;
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

void moonlet__open_timer(lua_State *L, moonlet_loop *lp) {
  static const luaL_Reg funcs[] = {
      {"sleep", l_sleep}, {"yield", l_yield}, {"now", l_now}, {NULL, NULL}};
  moonlet__setfuncs(L, lp, funcs);
}
