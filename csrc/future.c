/*
 * future.c - futures: a one-shot result slot that tasks await, with
 * done-callbacks. Tasks share everything here through moonlet_future, which
 * is their first member; task.c adds what only tasks have.
 */
#include "future.h"

#include <string.h>

void moonlet__future_init(moonlet_future *f) {
  f->state = FS_PENDING;
  f->nres = 0;
  f->vref = f->tbref = LUA_NOREF;
  f->retrieved = 0;
  f->is_task = 0;
  mq_init(&f->waiters);
  mq_init(&f->callbacks);
}

void moonlet__future_settle(lua_State *L, moonlet_loop *lp, moonlet_future *f,
                            int state, int n, int tbref) {
  mqueue *q;
  if (n == 0) {
    f->vref = LUA_NOREF;
  } else if (n == 1) {
    f->vref = moonlet__ref(L, lp); /* nil becomes LUA_REFNIL */
  } else {
    int k;
    lua_createtable(L, n, 0);
    lua_insert(L, -n - 1);
    for (k = n; k >= 1; k--) lua_rawseti(L, -k - 1, k);
    f->vref = moonlet__ref(L, lp);
  }
  f->nres = n;
  f->tbref = tbref;
  f->state = state;
  while ((q = mq_shift(&f->waiters)) != NULL)
    moonlet__wake(mq_data(q, moonlet_wait, node), MW_OK);
  moonlet__handle_schedule_all(lp, &f->callbacks);
}

void moonlet__future_clear(lua_State *L, moonlet_loop *lp, moonlet_future *f) {
  moonlet__unref(L, lp, f->vref);
  moonlet__unref(L, lp, f->tbref);
  f->vref = f->tbref = LUA_NOREF;
}

int moonlet__future_outcome(lua_State *L, moonlet_loop *lp,
                            moonlet_future *f) {
  f->retrieved = 1;
  if (f->state == FS_DONE) {
    int k;
    if (f->nres <= 1) {
      if (f->nres == 1) moonlet__getref(L, lp, f->vref);
      return f->nres;
    }
    luaL_checkstack(L, f->nres + 1, "too many results");
    moonlet__getref(L, lp, f->vref);
    for (k = 1; k <= f->nres; k++) lua_rawgeti(L, -k, k);
    lua_remove(L, -f->nres - 1);
    return f->nres;
  }
  moonlet__getref(L, lp, f->vref);
  return lua_error(L);
}

moonlet_future *moonlet__to_future(lua_State *L, int idx) {
  void *p = luaL_testudata(L, idx, MOONLET_FUTURE_MT);
  if (p) return p;
  p = luaL_testudata(L, idx, MOONLET_TASK_MT);
  if (p) return *(moonlet_future **)p; /* NULL while under construction */
  return NULL;
}

moonlet_future *moonlet__check_future(lua_State *L, int idx) {
  moonlet_future *f = moonlet__to_future(L, idx);
  if (!f) luaL_typeerror(L, idx, "future or task");
  return f;
}

/* --- methods ------------------------------------------------------------- */

static moonlet_future *check_plain(lua_State *L, const char *what) {
  moonlet_future *f = moonlet__check_future(L, 1);
  if (f->is_task)
    luaL_error(L, "cannot %s a task; its function's outcome is its result",
               what);
  if (f->state != FS_PENDING) luaL_error(L, "future already done");
  return f;
}

static int f_set_result(lua_State *L) {
  moonlet_loop *lp = moonlet__loop(L);
  moonlet_future *f = check_plain(L, "set the result of");
  moonlet__future_settle(L, lp, f, FS_DONE, lua_gettop(L) - 1, LUA_NOREF);
  return 0;
}

static int f_set_error(lua_State *L) {
  moonlet_loop *lp = moonlet__loop(L);
  moonlet_future *f = check_plain(L, "set the error of");
  luaL_argcheck(L, !lua_isnoneornil(L, 2), 2, "error value expected");
  lua_settop(L, 2);
  moonlet__future_settle(L, lp, f, FS_FAILED, 1, LUA_NOREF);
  return 0;
}

static int f_cancel(lua_State *L) {
  moonlet_loop *lp = moonlet__loop(L);
  moonlet_future *f = moonlet__check_future(L, 1);
  if (f->state != FS_PENDING) {
    lua_pushboolean(L, 0);
    return 1;
  }
  moonlet__push_error_object(L, "cancelled", luaL_optstring(L, 2, "future cancelled"));
  moonlet__future_settle(L, lp, f, FS_CANCELLED, 1, LUA_NOREF);
  lua_pushboolean(L, 1);
  return 1;
}

static int await_k(lua_State *L, int status, lua_KContext ctx) {
  moonlet_wait *w = (moonlet_wait *)ctx;
  (void)status;
  moonlet__check_wake(L, w);
  return moonlet__future_outcome(L, w->loop, moonlet__check_future(L, 1));
}

static int f_await(lua_State *L) {
  moonlet_loop *lp = moonlet__loop(L);
  moonlet_future *f = moonlet__check_future(L, 1);
  moonlet_wait *w;
  if (lp->current && f == &lp->current->fut)
    return luaL_error(L, "a task cannot await itself");
  w = moonlet__enter_block(L, lp);
  if (f->state != FS_PENDING) return moonlet__future_outcome(L, lp, f);
  lua_settop(L, 1);
  mq_push(&f->waiters, &w->node);
  w->detach = moonlet__detach_node;
  return moonlet__block(L, lp, w, await_k);
}

static int f_result(lua_State *L) {
  moonlet_future *f = moonlet__check_future(L, 1);
  if (f->state == FS_PENDING) return luaL_error(L, "future is not done");
  lua_settop(L, 1);
  return moonlet__future_outcome(L, moonlet__loop(L), f);
}

static int f_error(lua_State *L) {
  moonlet_future *f = moonlet__check_future(L, 1);
  if (f->state == FS_PENDING) return luaL_error(L, "future is not done");
  f->retrieved = 1;
  if (f->state == FS_DONE) return 0;
  moonlet__getref(L, moonlet__loop(L), f->vref);
  return 1;
}

static int f_done(lua_State *L) {
  lua_pushboolean(L, moonlet__check_future(L, 1)->state != FS_PENDING);
  return 1;
}

static int f_cancelled(lua_State *L) {
  lua_pushboolean(L, moonlet__check_future(L, 1)->state == FS_CANCELLED);
  return 1;
}

static const char *const state_names[] = {"pending", "done", "failed",
                                          "cancelled"};

static int f_status(lua_State *L) {
  lua_pushstring(L, state_names[moonlet__check_future(L, 1)->state]);
  return 1;
}

static int f_on_done(lua_State *L) {
  moonlet_loop *lp = moonlet__loop(L);
  moonlet_future *f = moonlet__check_future(L, 1);
  moonlet_handle *h;
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_settop(L, 2);
  lua_pushvalue(L, 1); /* the callback gets the future */
  h = moonlet__handle_new(L, lp, 2, 1);
  if (f->state == FS_PENDING)
    moonlet__handle_park(h, &f->callbacks);
  else
    moonlet__handle_schedule(lp, h);
  return 1;
}

static int f_tostring(lua_State *L) {
  moonlet_future *f = moonlet__check_future(L, 1);
  lua_pushfstring(L, "moonlet.future: %p (%s)", (void *)f,
                  state_names[f->state]);
  return 1;
}

/* A failure nobody looked at is reported when its future is collected. */
static int f_gc(lua_State *L) {
  moonlet_loop *lp = moonlet__loop(L);
  moonlet_future *f = luaL_checkudata(L, 1, MOONLET_FUTURE_MT);
  if (f->state == FS_FAILED && !f->retrieved) {
    moonlet__getref(L, lp, f->vref);
    moonlet__report(L, lp, lua_gettop(L), NULL, 1,
                    "a future whose error nobody retrieved");
    lua_pop(L, 1);
  }
  moonlet__future_clear(L, lp, f);
  moonlet__handle_drop_all(L, lp, &f->callbacks);
  f->state = FS_CANCELLED;
  return 0;
}

static int l_future(lua_State *L) {
  moonlet_future *f = lua_newuserdatauv(L, sizeof *f, 0);
  moonlet__future_init(f);
  luaL_setmetatable(L, MOONLET_FUTURE_MT);
  return 1;
}

/* Shared by futures and tasks (task.c overrides cancel). */
const luaL_Reg moonlet__future_methods[] = {
    {"set_result", f_set_result}, {"set_error", f_set_error},
    {"cancel", f_cancel},         {"await", f_await},
    {"result", f_result},         {"error", f_error},
    {"done", f_done},             {"cancelled", f_cancelled},
    {"status", f_status},         {"on_done", f_on_done},
    {NULL, NULL}};

void moonlet__open_future(lua_State *L, moonlet_loop *lp) {
  static const luaL_Reg meta[] = {
      {"__tostring", f_tostring}, {"__gc", f_gc}, {NULL, NULL}};
  static const luaL_Reg funcs[] = {{"future", l_future}, {NULL, NULL}};
  if (luaL_newmetatable(L, MOONLET_FUTURE_MT)) {
    moonlet__setfuncs(L, lp, meta);
    lua_newtable(L);
    moonlet__setfuncs(L, lp, moonlet__future_methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  moonlet__setfuncs(L, lp, funcs); /* into the module table */
}
