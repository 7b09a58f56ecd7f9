/*
 * callback.c - handles for plain callbacks: on_done, call_soon, call_later,
 * call_every. A callback runs on the scheduler's stack in the loop's
 * callback thread, never inside a task, so it cannot block.
 */
#include <math.h>
#include <stdlib.h>

#include "future.h"

#define HANDLE_MT "moonlet.handle"

enum { H_IDLE, H_READY, H_PARKED, H_TIMER, H_DONE };

struct moonlet_handle {
  moonlet_runnable run;   /* link in the run queue or a future's list */
  moonlet_loop *loop;
  int fn_ref;             /* {fn, args...} in refs */
  int nargs;
  int self_ref;           /* keeps the handle object alive while pending */
  int where;
  uv_timer_t *timer;      /* call_later/call_every; freed in its close cb */
  mqueue timer_node;      /* link in loop->timers */
};

static void free_timer(uv_handle_t *h) { free(h); }

/* The handle will not run again: drop what it keeps alive. */
static void handle_finish(lua_State *L, moonlet_handle *h) {
  moonlet_loop *lp = h->loop;
  if (h->timer) {
    uv_close((uv_handle_t *)h->timer, free_timer);
    h->timer = NULL;
    mq_remove(&h->timer_node);
  }
  h->where = H_DONE;
  moonlet__unref(L, lp, h->fn_ref);
  h->fn_ref = LUA_NOREF;
  moonlet__unref(L, lp, h->self_ref); /* may make h collectable */
}

static void invoke(moonlet_loop *lp, moonlet_handle *h) {
  lua_State *L = lp->LC;
  int k;
  moonlet__getref(L, lp, h->fn_ref);
  luaL_checkstack(L, h->nargs + 2, NULL);
  for (k = 1; k <= h->nargs + 1; k++) lua_rawgeti(L, -k, k);
  lua_remove(L, -h->nargs - 2);
  lp->in_callback = 1;
  moonlet__pcall(L, lp, h->nargs, "a callback");
  lp->in_callback = 0;
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
  int k, fn_ref;
  fn_idx = lua_absindex(L, fn_idx);
  lua_createtable(L, nargs + 1, 0);
  for (k = 0; k <= nargs; k++) {
    lua_pushvalue(L, fn_idx + k);
    lua_rawseti(L, -2, k + 1);
  }
  fn_ref = moonlet__ref(L, lp);
  h = lua_newuserdatauv(L, sizeof *h, 0);
  h->run.run = run_handle;
  mq_init(&h->run.node);
  mq_init(&h->timer_node);
  h->loop = lp;
  h->fn_ref = fn_ref;
  h->nargs = nargs;
  h->where = H_IDLE;
  h->timer = NULL;
  luaL_setmetatable(L, HANDLE_MT);
  lua_pushvalue(L, -1);
  h->self_ref = moonlet__ref(L, lp);
  return h;
}

void moonlet__handle_schedule(moonlet_loop *lp, moonlet_handle *h) {
  mq_remove(&h->run.node);
  h->where = H_READY;
  moonlet__enqueue(lp, &h->run);
}

void moonlet__handle_park(moonlet_handle *h, mqueue *list) {
  h->where = H_PARKED;
  mq_push(list, &h->run.node);
}

void moonlet__handle_schedule_all(moonlet_loop *lp, mqueue *list) {
  mqueue *q;
  while ((q = mq_shift(list)) != NULL)
    moonlet__handle_schedule(lp, mq_data(q, moonlet_handle, run.node));
}

void moonlet__handle_drop_all(lua_State *L, moonlet_loop *lp, mqueue *list) {
  mqueue *q;
  (void)lp;
  while ((q = mq_shift(list)) != NULL)
    handle_finish(L, mq_data(q, moonlet_handle, run.node));
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
  } else if (h->where == H_PARKED) {
    mq_remove(&h->run.node);
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
  moonlet__handle_schedule(lp, moonlet__handle_new(L, lp, 1, lua_gettop(L) - 1));
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
  uv_timer_init(lp->uv, t);
  t->data = h;
  h->timer = t;
  h->where = H_TIMER;
  mq_push(&lp->timers, &h->timer_node);
  uv_timer_start(t, on_timer, ms, repeat ? ms : 0);
  return 1;
}

static int l_call_later(lua_State *L) { return start_timer(L, 0); }
static int l_call_every(lua_State *L) { return start_timer(L, 1); }

void moonlet__timers_close(lua_State *L, moonlet_loop *lp) {
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
}
