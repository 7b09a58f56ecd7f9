/*
 * errors.c - the Cancelled and Timeout error objects, the protected call
 * used for every callback, and reporting errors nobody handled.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/errors.h"
#include "core/loop.h"

static const char *const kinds[] = {"cancelled", "timeout", NULL};
static const char *const class_names[] = {"moonlet.Cancelled",
                                          "moonlet.Timeout"};

static int kind_index(const char *kind) {
  int i;
  for (i = 0; kinds[i]; i++)
    if (strcmp(kinds[i], kind) == 0) return i;
  return -1;
}

void moonlet__push_error_object(lua_State *L, const char *kind,
                                const char *message) {
  int i = kind_index(kind);
  lua_createtable(L, 0, 3);
  lua_pushstring(L, kind);
  lua_setfield(L, -2, "kind");
  lua_pushstring(L, message);
  lua_setfield(L, -2, "message");
  luaL_traceback(L, L, NULL, 1);
  lua_setfield(L, -2, "traceback");
  luaL_setmetatable(L, class_names[i]);
}

int moonlet__raise_cancelled(lua_State *L, moonlet_loop *lp, moonlet_task *t) {
  const char *msg = "task cancelled";
  if (lp->closing) msg = "the loop is closing";
  if (t && t->cancel_ref >= 0) {
    moonlet__getref(L, lp, t->cancel_ref);
    if (lua_type(L, -1) == LUA_TSTRING) msg = lua_tostring(L, -1);
  }
  moonlet__push_error_object(L, "cancelled", msg);
  return lua_error(L);
}

void moonlet__check_failed(const char *what, const char *file, int line) {
  fprintf(stderr, "moonlet: internal check failed: %s (%s:%d)\n", what, file,
          line);
  abort();
}

/* libuv's message, unless it names a cause that may not be the one:
 * "connection timed out" for a file or a lock. */
static const char *failure_message(int err) {
  if (err == UV_ETIMEDOUT) return "timed out";
  return uv_strerror(err);
}

int moonlet__push_error(lua_State *L, const char *code, const char *message) {
  lua_pushnil(L);
  lua_pushfstring(L, "%s: %s", code, message);
  lua_pushstring(L, code);
  return 3;
}

int moonlet__push_failure(lua_State *L, int err, const char *detail) {
  if (!detail) return moonlet__push_error(L, uv_err_name(err), failure_message(err));
  lua_pushfstring(L, "%s: %s", failure_message(err), detail);
  moonlet__push_error(L, uv_err_name(err), lua_tostring(L, -1));
  lua_remove(L, -4);
  return 3;
}

int moonlet__is_error_kind(lua_State *L, int idx, const char *kind) {
  int i, r = 0;
  if (!lua_getmetatable(L, idx)) return 0;
  for (i = 0; kinds[i] && !r; i++) {
    if (kind && strcmp(kind, kinds[i]) != 0) continue;
    luaL_getmetatable(L, class_names[i]);
    r = lua_rawequal(L, -1, -2);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return r;
}

static int error_tostring(lua_State *L) {
  lua_getfield(L, 1, "kind");
  lua_getfield(L, 1, "message");
  lua_pushfstring(L, "%s: %s", luaL_optstring(L, -2, "error"),
                  luaL_optstring(L, -1, ""));
  return 1;
}

/* Message handler: keeps the traceback next to the error (in the
 * registry slot below) without changing the error value itself. */
static const char tb_key = 'k';

static int traceback_handler(lua_State *L) {
  luaL_traceback(L, L, NULL, 1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &tb_key);
  return 1;
}

int moonlet__pcall(lua_State *L, moonlet_loop *lp, int nargs,
                   const char *where) {
  int base = lua_gettop(L) - nargs, st;
  lua_pushcfunction(L, traceback_handler);
  lua_insert(L, base);
  st = lua_pcall(L, nargs, 0, base);
  lua_remove(L, base);
  if (st != LUA_OK) {
    const char *tb;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &tb_key);
    tb = lua_tostring(L, -1);
    moonlet__report(L, lp, lua_gettop(L) - 1, tb, 0, where);
    lua_pushnil(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &tb_key);
    lua_pop(L, 2);
  }
  return st;
}

static void report_stderr(lua_State *L, int err_idx, const char *tb,
                          const char *where) {
  const char *msg = luaL_tolstring(L, err_idx, NULL);
  fprintf(stderr, "moonlet: unhandled error in %s: %s\n", where, msg);
  if (tb) fprintf(stderr, "%s\n", tb);
  fflush(stderr);
  lua_pop(L, 1);
}

typedef struct report_args {
  moonlet_loop *lp;
  const char *tb, *where;
} report_args;

/* (error, object or nil, report_args): to on_error if set, else (or if it
 * fails) to stderr. Run protected: a __tostring or a handler may raise. */
static int report_protected(lua_State *L) {
  report_args *a = lua_touserdata(L, 3);
  moonlet_loop *lp = a->lp;
  lua_settop(L, 2);
  if (lp->on_error_ref >= 0) {
    moonlet__getref(L, lp, lp->on_error_ref);
    lua_pushvalue(L, 1);
    if (a->tb) lua_pushstring(L, a->tb); else lua_pushnil(L);
    lua_pushvalue(L, 2);
    lua_pushstring(L, a->where);
    if (lua_pcall(L, 4, 0, 0) == LUA_OK) return 0;
    report_stderr(L, lua_gettop(L), NULL, "the on_error handler");
    lua_pop(L, 1);
  }
  if (lp->c_on_error) { /* the host's (moonlet_on_error) */
    lp->c_on_error(a->where, luaL_tolstring(L, 1, NULL), a->tb, lp->c_on_error_ud);
    return 0;
  }
  report_stderr(L, 1, a->tb, a->where);
  return 0;
}

void moonlet__report(lua_State *L, moonlet_loop *lp, int err_idx,
                     const char *tb, int obj_idx, const char *where) {
  report_args a;
  a.lp = lp;
  a.tb = tb;
  a.where = where;
  err_idx = lua_absindex(L, err_idx);
  if (obj_idx) obj_idx = lua_absindex(L, obj_idx);
  /* Never raises: callers report from places no Lua code protects. */
  if (!lua_checkstack(L, 4)) {
    fprintf(stderr, "moonlet: unhandled error in %s (no memory to show it)\n",
            where);
    return;
  }
  lua_pushcfunction(L, report_protected);
  lua_pushvalue(L, err_idx);
  if (obj_idx) lua_pushvalue(L, obj_idx); else lua_pushnil(L);
  lua_pushlightuserdata(L, &a);
  if (lua_pcall(L, 3, 0, 0) != LUA_OK) {
    fprintf(stderr, "moonlet: unhandled error in %s; showing it failed: %s\n",
            where, lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1)
                                                  : "(not a string)");
    fflush(stderr);
    lua_pop(L, 1);
  }
}

static int l_on_error(lua_State *L) {
  moonlet_loop *lp = moonlet__loop(L);
  if (!lua_isnoneornil(L, 1)) luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_settop(L, 1);
  moonlet__getref(L, lp, lp->on_error_ref); /* the previous handler */
  moonlet__unref(L, lp, lp->on_error_ref);
  lp->on_error_ref = LUA_NOREF;
  if (!lua_isnil(L, 1)) {
    lua_pushvalue(L, 1);
    lp->on_error_ref = moonlet__ref(L, lp);
  }
  return 1;
}

/* _report(err, traceback, obj, where): reports an error nobody handles,
 * for Lua code that catches it on behalf of the user (server handlers). */
static int l_report(lua_State *L) {
  const char *tb = lua_tostring(L, 2);
  const char *where = luaL_checkstring(L, 4);
  lua_settop(L, 4);
  moonlet__report(L, moonlet__loop(L), 1, tb, lua_isnil(L, 3) ? 0 : 3, where);
  return 0;
}

void moonlet__open_errors(lua_State *L, moonlet_loop *lp) {
  static const luaL_Reg funcs[] = {{"on_error", l_on_error},
                                   {"_report", l_report},
                                   {NULL, NULL}};
  static const char *const fields[] = {"Cancelled", "Timeout"};
  int i;
  for (i = 0; kinds[i]; i++) {
    if (luaL_newmetatable(L, class_names[i])) {
      lua_pushstring(L, kinds[i]);
      lua_setfield(L, -2, "kind");
      lua_pushcfunction(L, error_tostring);
      lua_setfield(L, -2, "__tostring");
    }
    lua_setfield(L, -2, fields[i]);
  }
  moonlet__setfuncs(L, lp, funcs);
}
