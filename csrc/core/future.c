/*
 * future.c - futures: a one-shot result slot that tasks await, with
 * done-callbacks. Tasks share everything here through moonlet_future, which
 * is their first member; task.c adds what only tasks have.
 *
 * The object's first user value holds the parked done-callbacks while the
 * future is pending, then its outcome (one value, a table of several, or the
 * error), so the collector frees them with the object. A plain future has no finalizer,
 * which keeps creating one cheap; only when it fails does it get the
 * metatable with __gc, to report an error nobody retrieved.
 */
#include "core/callback.h"
#include "core/errors.h"
#include "core/future.h"

void moonlet__future_init(moonlet_future *f) {
  f->tag = MOONLET_TAG_FUTURE;
  f->state = FS_PENDING;
  f->nres = 0;
  f->retrieved = 0;
  f->is_task = 0;
  f->has_callbacks = 0;
  mq_init(&f->waiters);
}

void moonlet__future_settle(lua_State *L, moonlet_loop *lp, moonlet_future *f,
                            int obj, int state, int n) {
  mqueue *q;
  obj = lua_absindex(L, obj);
  if (f->has_callbacks) {
    /* The slot that held them is about to hold the outcome. */
    lua_getiuservalue(L, obj, MOONLET_UV_RESULT);
    lua_insert(L, -n - 1);
  }
  if (n == 1) {
    lua_setiuservalue(L, obj, MOONLET_UV_RESULT);
  } else if (n > 1) {
    int k;
    lua_createtable(L, n, 0);
    lua_insert(L, -n - 1);
    for (k = n; k >= 1; k--) lua_rawseti(L, -k - 1, k);
    lua_setiuservalue(L, obj, MOONLET_UV_RESULT);
  }
  f->nres = n;
  f->state = state;
  if (state == FS_FAILED && !f->is_task)
    moonlet__setmt(L, lp, obj, MOONLET_MT_FUTURE_FAILED);
  while ((q = mq_shift(&f->waiters)) != NULL)
    moonlet__wake(mq_data(q, moonlet_wait, node), MW_OK);
  if (f->has_callbacks) {
    f->has_callbacks = 0;
    moonlet__handle_schedule_parked(L, lp, -1);
    lua_pop(L, 1);
  }
}

void moonlet__future_fail_quietly(lua_State *L, moonlet_loop *lp,
                                  moonlet_future *f, int obj) {
  f->has_callbacks = 0;
  moonlet__future_settle(L, lp, f, obj, FS_FAILED, 1);
}

int moonlet__future_outcome(lua_State *L, moonlet_future *f, int obj) {
  f->retrieved = 1;
  if (f->state == FS_DONE) {
    int k;
    if (f->nres == 0) return 0;
    lua_getiuservalue(L, obj, MOONLET_UV_RESULT);
    if (f->nres == 1) return 1;
    luaL_checkstack(L, f->nres, "too many results");
    for (k = 1; k <= f->nres; k++) lua_rawgeti(L, -k, k);
    lua_remove(L, -f->nres - 1);
    return f->nres;
  }
  lua_getiuservalue(L, obj, MOONLET_UV_RESULT);
  return lua_error(L);
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
  moonlet__future_settle(L, lp, f, 1, FS_DONE, lua_gettop(L) - 1);
  return 0;
}

static int f_set_error(lua_State *L) {
  moonlet_loop *lp = moonlet__loop(L);
  moonlet_future *f = check_plain(L, "set the error of");
  luaL_argcheck(L, !lua_isnoneornil(L, 2), 2, "error value expected");
  lua_settop(L, 2);
  moonlet__future_settle(L, lp, f, 1, FS_FAILED, 1);
  return 0;
}

static int f_cancel(lua_State *L) {
  moonlet_loop *lp = moonlet__loop(L);
  moonlet_future *f = moonlet__check_future(L, 1);
  if (f->state != FS_PENDING) {
    lua_pushboolean(L, 0);
    return 1;
  }
  moonlet__push_error_object(L, "cancelled",
                             luaL_optstring(L, 2, "future cancelled"));
  moonlet__future_settle(L, lp, f, 1, FS_CANCELLED, 1);
  lua_pushboolean(L, 1);
  return 1;
}

static int await_k(lua_State *L, int status, lua_KContext ctx) {
  moonlet_wait *w = (moonlet_wait *)ctx;
  (void)status;
  moonlet__check_wake(L, w);
  return moonlet__future_outcome(L, w->data, 1);
}

void moonlet__describe_await(lua_State *L, moonlet_wait *w) {
  moonlet_future *f = w->data;
  if (f->is_task) {
    moonlet_task *t = (moonlet_task *)f;
    lua_pushinteger(L, (lua_Integer)t->id);
    lua_setfield(L, -2, "task");
  } else {
    lua_pushliteral(L, "future");
    lua_setfield(L, -2, "future");
  }
}

static int f_await(lua_State *L) {
  moonlet_loop *lp = moonlet__loop(L);
  moonlet_future *f = moonlet__check_future(L, 1);
  moonlet_wait *w;
  if (lp->current && f == &lp->current->fut)
    return luaL_error(L, "a task cannot await itself");
  w = moonlet__enter_block(L, lp); /* a cancellation point, even when done */
  if (f->state != FS_PENDING) {
    moonlet__end_wait(w);
    return moonlet__future_outcome(L, f, 1);
  }
  /* w->data is for await_k; the object stays at index 1 */
  moonlet__wait_in(w, &f->waiters, f, "await", moonlet__describe_await);
  return moonlet__block(L, lp, w, await_k);
}

static int f_result(lua_State *L) {
  moonlet_future *f = moonlet__check_future(L, 1);
  if (f->state == FS_PENDING) return luaL_error(L, "future is not done");
  lua_settop(L, 1);
  return moonlet__future_outcome(L, f, 1);
}

static int f_error(lua_State *L) {
  moonlet_future *f = moonlet__check_future(L, 1);
  if (f->state == FS_PENDING) return luaL_error(L, "future is not done");
  f->retrieved = 1;
  if (f->state == FS_DONE) return 0;
  lua_getiuservalue(L, 1, MOONLET_UV_RESULT);
  return 1;
}

static int f_done(lua_State *L) {
  moonlet_future *f = moonlet__check_future(L, 1);
  lua_pushboolean(L, f->state != FS_PENDING);
  return 1;
}

static int f_cancelled(lua_State *L) {
  moonlet_future *f = moonlet__check_future(L, 1);
  lua_pushboolean(L, f->state == FS_CANCELLED);
  return 1;
}

static const char *const state_names[] = {"pending", "done", "failed",
                                          "cancelled"};

static int f_status(lua_State *L) {
  moonlet_future *f = moonlet__check_future(L, 1);
  lua_pushstring(L, state_names[f->state]);
  return 1;
}

static int f_on_done(lua_State *L) {
  moonlet_loop *lp = moonlet__loop(L);
  moonlet_future *f = moonlet__check_future(L, 1);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_settop(L, 2);
  lua_pushvalue(L, 1); /* the callback gets the future */
  moonlet__handle_new(L, lp, 2, 1);
  if (f->state == FS_PENDING) {
    moonlet__handle_park(L, -1, 1);
    f->has_callbacks = 1;
  } else {
    moonlet__handle_schedule(L, lp, -1);
  }
  return 1;
}

static int f_tostring(lua_State *L) {
  moonlet_future *f = moonlet__check_future(L, 1);
  lua_pushfstring(L, "moonlet.future: %p (%s)", (void *)f,
                  state_names[f->state]);
  return 1;
}

/* Only failed futures have this finalizer: report if nobody looked. */
static int f_gc(lua_State *L) {
  moonlet_future *f = moonlet__to_future(L, 1);
  if (f && f->state == FS_FAILED && !f->retrieved) {
    f->retrieved = 1;
    lua_getiuservalue(L, 1, MOONLET_UV_RESULT);
    moonlet__report(L, moonlet__loop(L), lua_gettop(L), NULL, 1,
                    "a future whose error nobody retrieved");
  }
  return 0;
}

/* The metatable is its second upvalue: creating futures is hot. */
static int l_future(lua_State *L) {
  moonlet_future *f = lua_newuserdatauv(L, sizeof *f, MOONLET_FUTURE_UVS);
  moonlet__future_init(f);
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_setmetatable(L, -2);
  return 1;
}

/* Shared by futures and tasks (tasks override cancel). */
static const luaL_Reg moonlet__future_methods[] = {
    {"set_result", f_set_result}, {"set_error", f_set_error},
    {"cancel", f_cancel},         {"await", f_await},
    {"result", f_result},         {"error", f_error},
    {"done", f_done},             {"cancelled", f_cancelled},
    {"status", f_status},         {"on_done", f_on_done},
    {NULL, NULL}};

static void set_method(lua_State *L, moonlet_loop *lp, const char *name,
                       lua_CFunction fn) {
  lua_pushlightuserdata(L, lp);
  lua_pushcclosure(L, fn, 1);
  lua_setfield(L, -2, name);
}

void moonlet__future_metatable(lua_State *L, moonlet_loop *lp,
                               const char *name, int kind,
                               lua_CFunction tostring, lua_CFunction gc,
                               const luaL_Reg *extra) {
  luaL_newmetatable(L, name);
  set_method(L, lp, "__tostring", tostring);
  /* No __gc field at all without gc: even a false one makes a finalizer. */
  if (gc) set_method(L, lp, "__gc", gc);
  lua_newtable(L);
  moonlet__setfuncs(L, lp, moonlet__future_methods);
  if (extra) moonlet__setfuncs(L, lp, extra);
  lua_setfield(L, -2, "__index");
  moonlet__register_mt(L, lp, kind);
}

void moonlet__open_future(lua_State *L, moonlet_loop *lp) {
  if (!lp->mt[MOONLET_MT_FUTURE]) {
    moonlet__future_metatable(L, lp, MOONLET_FUTURE_MT, MOONLET_MT_FUTURE,
                              f_tostring, NULL, NULL);
    moonlet__future_metatable(L, lp, MOONLET_FUTURE_MT ".failed",
                              MOONLET_MT_FUTURE_FAILED, f_tostring, f_gc, NULL);
  }
  lua_pushlightuserdata(L, lp);
  lua_rawgeti(L, LUA_REGISTRYINDEX, lp->mt[MOONLET_MT_FUTURE]);
  lua_pushcclosure(L, l_future, 2);
  lua_setfield(L, -2, "future"); /* into the module table */
}
