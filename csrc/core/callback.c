/*
 * callback.c - handles for plain callbacks: on_done, call_soon, call_later,
 * call_every. A callback runs on the scheduler's stack in the loop's
 * callback thread, never inside a task, so it cannot block.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/callback.h"
#include "core/context.h"
#include "core/errors.h"
#include "core/future.h"
#include "core/watchdog.h"

#define HANDLE_MT "moonlet.handle"

enum { H_IDLE, H_READY, H_PARKED, H_TIMER, H_DONE };

/* The handle object's first user value holds {fn, args...}, its second the
 * context it runs with (context.h); while it is queued or
 * its timer runs, self_ref keeps the object alive; while parked, the future
 * it waits for does. */
struct moonlet_handle {
  moonlet_runnable run;   /* link in the run queue */
  moonlet_loop *loop;
  int nargs;
  int self_ref;
  int where;
  uv_timer_t *timer;      /* call_later/call_every; freed in its close cb */
  mqueue timer_node;      /* link in loop->timers */
};

static void free_timer(uv_handle_t *h) { free(h); }

/* The handle will not run again: let go of it. */
static void handle_finish(lua_State *L, moonlet_handle *h) {
  if (h->timer) {
    uv_close((uv_handle_t *)h->timer, free_timer);
    h->timer = NULL;
    mq_remove(&h->timer_node);
  }
  h->where = H_DONE;
  moonlet__unref(L, h->loop, h->self_ref); /* may make h collectable */
  h->self_ref = LUA_NOREF;
}

static void invoke(moonlet_loop *lp, moonlet_handle *h) {
  lua_State *L = lp->LC;
  int k;
  if (!lua_checkstack(L, h->nargs + 4)) {
    /* Outside any protected call: raising here would unwind the loop. */
    fputs("moonlet: not enough memory to run a callback\n", stderr);
    return;
  }
  moonlet__getref(L, lp, h->self_ref);
  lua_getiuservalue(L, -1, 2);
  moonlet__context_enter(L, lp, -1);
  lua_pop(L, 1);
  lua_getiuservalue(L, -1, 1);
  for (k = 1; k <= h->nargs + 1; k++) lua_rawgeti(L, -k, k);
  lua_remove(L, -h->nargs - 2); /* the packed table */
  lua_remove(L, -h->nargs - 2); /* the handle */
  lp->in_callback = 1;
  moonlet__step_begin(lp, L);
  moonlet__pcall(L, lp, h->nargs, "a callback");
  moonlet__step_end(lp);
  lp->in_callback = 0;
  lua_pushnil(L);
  moonlet__context_enter(L, lp, -1);
  lua_settop(L, 0);
}

static void run_handle(moonlet_loop *lp, moonlet_runnable *r) {
  moonlet_handle *h = mq_data(r, moonlet_handle, run);
  if (h->where != H_READY) return;
  h->where = H_IDLE;
  invoke(lp, h);
  if (h->where == H_IDLE) handle_finish(lp->LC, h);
}

moonlet_handle *moonlet__handle_new(lua_State *L, moonlet_loop *lp, int fn_idx,
                                    int nargs) {
  moonlet_handle *h;
  int k;
  fn_idx = lua_absindex(L, fn_idx);
  h = lua_newuserdatauv(L, sizeof *h, 2);
  h->run.run = run_handle;
  mq_init(&h->run.node);
  mq_init(&h->timer_node);
  h->loop = lp;
  h->nargs = nargs;
  h->self_ref = LUA_NOREF;
  h->where = H_IDLE;
  h->timer = NULL;
  luaL_setmetatable(L, HANDLE_MT);
  lua_createtable(L, nargs + 1, 0);
  for (k = 0; k <= nargs; k++) {
    lua_pushvalue(L, fn_idx + k);
    lua_rawseti(L, -2, k + 1);
  }
  lua_setiuservalue(L, -2, 1);
  moonlet__context_push(L, lp);
  lua_setiuservalue(L, -2, 2);
  return h;
}

static void anchor(lua_State *L, moonlet_handle *h, int idx) {
  if (h->self_ref != LUA_NOREF) return;
  lua_pushvalue(L, idx);
  h->self_ref = moonlet__ref(L, h->loop);
}

void moonlet__handle_schedule(lua_State *L, moonlet_loop *lp, int idx) {
  moonlet_handle *h = lua_touserdata(L, idx);
  anchor(L, h, idx);
  h->where = H_READY;
  moonlet__enqueue(lp, &h->run);
}

void moonlet__handle_park(lua_State *L, int idx, int obj) {
  moonlet_handle *h = lua_touserdata(L, idx);
  idx = lua_absindex(L, idx);
  obj = lua_absindex(L, obj);
  if (lua_getiuservalue(L, obj, MOONLET_UV_RESULT) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, obj, MOONLET_UV_RESULT);
  }
  lua_pushvalue(L, idx);
  lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
  lua_pop(L, 1);
  h->where = H_PARKED;
}

void moonlet__handle_schedule_parked(lua_State *L, moonlet_loop *lp, int list) {
  lua_Integer i, n = (lua_Integer)lua_rawlen(L, list);
  list = lua_absindex(L, list);
  for (i = 1; i <= n; i++) {
    moonlet_handle *h;
    lua_rawgeti(L, list, i);
    h = lua_touserdata(L, -1);
    if (h && h->where == H_PARKED) moonlet__handle_schedule(L, lp, -1);
    lua_pop(L, 1);
  }
}

static void on_timer(uv_timer_t *t) {
  moonlet_handle *h = t->data;
  moonlet_loop *lp = h->loop;
  int repeat = uv_timer_get_repeat(t) != 0;
  invoke(lp, h);
  if (!repeat && h->where == H_TIMER) handle_finish(lp->LC, h);
}

/* --- Lua API ------------------------------------------------------------- */

static int h_cancel(lua_State *L) {
  moonlet_handle *h = luaL_checkudata(L, 1, HANDLE_MT);
  moonlet_loop *lp = h->loop;
  int pending = h->where == H_READY || h->where == H_PARKED ||
                h->where == H_TIMER;
  if (h->where == H_READY) {
    /* Take it out of the run queue; the count must follow. */
    mq_remove(&h->run.node);
    lp->nready--;
  }
  if (h->where != H_DONE) handle_finish(L, h);
  lua_pushboolean(L, pending);
  return 1;
}

static int h_cancelled(lua_State *L) {
  moonlet_handle *h = luaL_checkudata(L, 1, HANDLE_MT);
  lua_pushboolean(L, h->where == H_DONE);
  return 1;
}

static int h_tostring(lua_State *L) {
  moonlet_handle *h = luaL_checkudata(L, 1, HANDLE_MT);
  static const char *const names[] = {"idle", "scheduled", "waiting",
                                      "timer", "done"};
  lua_pushfstring(L, "moonlet.handle: %p (%s)", (void *)h, names[h->where]);
  return 1;
}

static int l_call_soon(lua_State *L) {
  moonlet_loop *lp = moonlet__loop(L);
  luaL_checktype(L, 1, LUA_TFUNCTION);
  moonlet__handle_new(L, lp, 1, lua_gettop(L) - 1);
  moonlet__handle_schedule(L, lp, -1);
  return 1;
}

static uint64_t check_ms(lua_State *L, int idx, int positive) {
  double s = luaL_checknumber(L, idx);
  luaL_argcheck(L, s == s, idx, "not a number");
  if (positive) luaL_argcheck(L, s > 0, idx, "interval must be positive");
  if (s <= 0) return 0;
  if (s > 4.0e15) s = 4.0e15; /* libuv clamps what would overflow */
  return (uint64_t)ceil(s * 1000.0);
}

static int start_timer(lua_State *L, int repeat) {
  moonlet_loop *lp = moonlet__loop(L);
  uint64_t ms = check_ms(L, 1, repeat);
  moonlet_handle *h;
  uv_timer_t *t;
  luaL_checktype(L, 2, LUA_TFUNCTION);
  if (lp->closed) return luaL_error(L, "moonlet: the loop is closed");
  t = malloc(sizeof *t);
  if (!t) return luaL_error(L, "not enough memory");
  h = moonlet__handle_new(L, lp, 2, lua_gettop(L) - 2);
  anchor(L, h, -1);
  uv_timer_init(lp->uv, t);
  t->data = h;
  h->timer = t;
  h->where = H_TIMER;
  mq_push(&lp->timers, &h->timer_node);
  uv_update_time(lp->uv); /* due ms from now, not from the turn's start */
  uv_timer_start(t, on_timer, ms, repeat ? ms : 0);
  if (lp->on_ready) lp->on_ready(lp);
  return 1;
}

static int l_call_later(lua_State *L) { return start_timer(L, 0); }
static int l_call_every(lua_State *L) { return start_timer(L, 1); }

/* At close: pending call_later/call_every handles are cancelled. */
static void timers_close(lua_State *L, moonlet_loop *lp) {
  mqueue *q;
  while ((q = mq_shift(&lp->timers)) != NULL) {
    moonlet_handle *h = mq_data(q, moonlet_handle, timer_node);
    mq_init(&h->timer_node);
    handle_finish(L, h);
  }
}

void moonlet__open_callback(lua_State *L, moonlet_loop *lp) {
  static const luaL_Reg methods[] = {{"cancel", h_cancel},
                                     {"cancelled", h_cancelled},
                                     {NULL, NULL}};
  static const luaL_Reg funcs[] = {{"call_soon", l_call_soon},
                                   {"call_later", l_call_later},
                                   {"call_every", l_call_every},
                                   {NULL, NULL}};
  if (luaL_newmetatable(L, HANDLE_MT)) {
    lua_pushcfunction(L, h_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  moonlet__setfuncs(L, lp, funcs);
  moonlet__on_close(lp, MOONLET_CLOSE_HANDLES, timers_close);
}
