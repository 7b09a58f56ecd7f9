/*
 * task.c - task objects: spawn, current, tasks, and what tasks add to the
 * future methods (cancel, name, traceback). A task's life is in spawn.c,
 * its steps in sched.c.
 */
#include "core/errors.h"
#include "core/future.h"
#include "core/spawn.h"
#include "core/task.h"


/* The task behind the object at idx; raises for other values. */
static moonlet_task *check_task(lua_State *L, int idx) {
  moonlet_task *t = moonlet__to_task(L, idx);
  if (!t) luaL_typeerror(L, idx, "task");
  return t;
}

static int l_spawn(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  moonlet__spawn(L, moonlet__loop(L), lua_gettop(L) - 1);
  return 1;
}

static int l_current(lua_State *L) {
  moonlet_loop *lp = moonlet__loop(L);
  if (!lp->current) return 0;
  moonlet__push_task(L, lp, lp->current);
  return 1;
}

static int l_tasks(lua_State *L) {
  moonlet_loop *lp = moonlet__loop(L);
  mqueue *q;
  int n = 0;
  lua_createtable(L, (int)lp->nlive, 0);
  for (q = lp->live.next; q != &lp->live; q = q->next) {
    moonlet__push_task(L, lp, mq_data(q, moonlet_task, live_node));
    lua_rawseti(L, -2, ++n);
  }
  return 1;
}

static int t_cancel(lua_State *L) {
  moonlet_task *t = check_task(L, 1);
  lua_pushboolean(L, moonlet__task_cancel(L, moonlet__loop(L), t, 2));
  return 1;
}

/* Pushes the name of the task object at idx. */
static void push_name(lua_State *L, int idx, moonlet_task *t) {
  if (lua_getiuservalue(L, idx, MOONLET_UV_NAME) != LUA_TSTRING) {
    lua_pop(L, 1);
    lua_pushfstring(L, "task-%I", (lua_Integer)t->id);
  }
}

static int t_name(lua_State *L) {
  push_name(L, 1, check_task(L, 1));
  return 1;
}

static int t_set_name(lua_State *L) {
  check_task(L, 1);
  luaL_checkstring(L, 2);
  lua_settop(L, 2);
  lua_setiuservalue(L, 1, MOONLET_UV_NAME);
  return 1;
}

static int t_traceback(lua_State *L) {
  moonlet_task *t = check_task(L, 1);
  if (t->state == TS_DONE) {
    if (t->fut.state == FS_DONE) return 0;
    if (lua_getiuservalue(L, 1, MOONLET_UV_THREAD) == LUA_TSTRING) return 1;
    /* A moonlet error object carries its own traceback. */
    lua_getiuservalue(L, 1, MOONLET_UV_RESULT);
    if (lua_istable(L, -1)) lua_getfield(L, -1, "traceback");
    return 1;
  }
  if (t->state == TS_NEW) {
    lua_pushliteral(L, "stack traceback:\n\t(not started)");
    return 1;
  }
  luaL_traceback(L, t->T, NULL, 0);
  return 1;
}

static const char *task_status(moonlet_task *t) {
  static const char *const done[] = {"pending", "done", "failed", "cancelled"};
  switch (t->state) {
    case TS_NEW: return "pending";
    case TS_RUNNING: return "running";
    case TS_DONE: return done[t->fut.state];
    default: return "suspended";
  }
}

static int t_status(lua_State *L) {
  lua_pushstring(L, task_status(check_task(L, 1)));
  return 1;
}

static int t_tostring(lua_State *L) {
  moonlet_task *t = check_task(L, 1);
  lua_pushliteral(L, "moonlet.task: ");
  push_name(L, 1, t);
  lua_pushfstring(L, " (%s)", task_status(t));
  lua_concat(L, 3);
  return 1;
}

/* --- inspection ----------------------------------------------------------- */

static void set_string(lua_State *L, const char *k, const char *v) {
  lua_pushstring(L, v);
  lua_setfield(L, -2, k);
}

static void set_number(lua_State *L, const char *k, double v) {
  lua_pushnumber(L, v);
  lua_setfield(L, -2, k);
}

/* Pushes what t waits on: {kind=, timeout_in=, ...details}. */
static void push_waiting(lua_State *L, moonlet_loop *lp, moonlet_wait *w) {
  lua_createtable(L, 0, 4);
  set_string(L, "kind", w->what ? w->what : "?");
  if (w->heap_idx != UINT32_MAX) {
    uint64_t now = uv_now(lp->uv);
    set_number(L, "timeout_in",
               w->deadline > now ? (double)(w->deadline - now) / 1000.0 : 0.0);
  }
  if (w->describe) w->describe(L, w);
}

/* Pushes the inspection table of t, whose object is at idx; L is the
 * caller's thread (t itself when it is the one running). */
static void push_info(lua_State *L, moonlet_loop *lp, moonlet_task *t, int idx) {
  int waiting = 0;
  const char *status;
  lua_State *at = t->wait.L ? t->wait.L : t->T;
  switch (t->state) {
    case TS_NEW: status = "new"; break;
    case TS_RUNNING: status = "running"; break;
    default:
      waiting = t->wait.status == MW_PENDING;
      status = waiting ? "suspended" : "ready";
  }
  lua_createtable(L, 0, 9);
  lua_pushinteger(L, (lua_Integer)t->id);
  lua_setfield(L, -2, "id");
  push_name(L, idx, t);
  lua_setfield(L, -2, "name");
  set_string(L, "status", status);
  {
    uint64_t now = uv_now(lp->uv);
    set_number(L, "since", now > t->since ? (double)(now - t->since) / 1000.0 : 0.0);
  }
  if (t->state == TS_FAST || t->state == TS_NATIVE)
    set_string(L, "switch", t->state == TS_FAST ? "fast" : "native");
  if (lua_getiuservalue(L, idx, MOONLET_UV_ORIGIN) == LUA_TSTRING)
    lua_setfield(L, -2, "spawned");
  else
    lua_pop(L, 1);
  if (waiting) {
    push_waiting(L, lp, &t->wait);
    lua_setfield(L, -2, "waiting");
  }
  if (t->state == TS_RUNNING)
    luaL_traceback(L, L, NULL, 1);
  else if (t->state != TS_NEW && at)
    luaL_traceback(L, at, NULL, 0);
  else
    lua_pushliteral(L, "stack traceback:\n\t(not started)");
  lua_setfield(L, -2, "traceback");
}

/* _tasks_info() -> a table per unfinished task, oldest first */
static int l_tasks_info(lua_State *L) {
  moonlet_loop *lp = moonlet__loop(L);
  mqueue *q;
  int n = 0;
  lua_createtable(L, (int)lp->nlive, 0);
  for (q = lp->live.next; q != &lp->live; q = q->next) {
    moonlet_task *t = mq_data(q, moonlet_task, live_node);
    moonlet__push_task(L, lp, t);
    push_info(L, lp, t, lua_gettop(L));
    lua_rawseti(L, -3, ++n);
    lua_pop(L, 1);
  }
  return 1;
}

/* Reports the failed task at idx if nobody looked at its error. */
static void report_if_unretrieved(lua_State *L, moonlet_loop *lp, int idx) {
  moonlet_task *t = moonlet__to_task(L, idx);
  int top = lua_gettop(L);
  idx = lua_absindex(L, idx);
  if (!t || t->fut.state != FS_FAILED || t->fut.retrieved) return;
  t->fut.retrieved = 1;
  lua_getiuservalue(L, idx, MOONLET_UV_RESULT);
  lua_getiuservalue(L, idx, MOONLET_UV_THREAD); /* the traceback */
  lua_pushliteral(L, "task '");
  push_name(L, idx, t);
  lua_pushliteral(L, "' failed and nobody awaited it");
  if (lua_getiuservalue(L, idx, MOONLET_UV_ORIGIN) == LUA_TSTRING) {
    lua_pushfstring(L, " (spawned at %s)", lua_tostring(L, -1));
    lua_remove(L, -2);
    lua_concat(L, 4);
  } else {
    lua_pop(L, 1);
    lua_concat(L, 3);
  }
  moonlet__report(L, lp, top + 1, lua_tostring(L, top + 2), idx,
                  lua_tostring(L, -1));
  lua_settop(L, top);
}

/* Only failed tasks have this finalizer: report if nobody looked. */
static int t_gc(lua_State *L) {
  report_if_unretrieved(L, moonlet__loop(L), 1);
  return 0;
}

void moonlet__report_unretrieved(lua_State *L, moonlet_loop *lp) {
  lua_Integer i, n = 0;
  int list;
  if (!lua_checkstack(L, 6)) return;
  /* The keys first: reporting runs Lua code, which may collect. */
  lua_newtable(L);
  list = lua_gettop(L);
  moonlet__getref(L, lp, lp->failed_ref);
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    lua_pop(L, 1);
    lua_pushvalue(L, -1);
    lua_rawseti(L, list, ++n);
  }
  lua_pop(L, 1);
  for (i = 1; i <= n; i++) {
    lua_rawgeti(L, list, i);
    report_if_unretrieved(L, lp, -1);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

void moonlet__open_task(lua_State *L, moonlet_loop *lp) {
  static const luaL_Reg methods[] = {
      {"cancel", t_cancel},       {"name", t_name},
      {"set_name", t_set_name},   {"traceback", t_traceback},
      {"status", t_status},       {NULL, NULL}};
  static const luaL_Reg funcs[] = {{"spawn", l_spawn},
                                   {"current", l_current},
                                   {"tasks", l_tasks},
                                   {"_tasks_info", l_tasks_info},
                                   {NULL, NULL}};
  if (!lp->mt[MOONLET_MT_TASK]) {
    moonlet__future_metatable(L, lp, MOONLET_TASK_MT, MOONLET_MT_TASK,
                              t_tostring, NULL, methods);
    moonlet__future_metatable(L, lp, MOONLET_TASK_MT ".failed",
                              MOONLET_MT_TASK_FAILED, t_tostring, t_gc, methods);
  }
  moonlet__setfuncs(L, lp, funcs);
}
