/*
 * testmod.c - a test-only C module for the specs: C frames between Lua and
 * a blocking call, which only native switching can suspend across; and
 * what malloc holds, for specs of memory kept.
 */
#include <lauxlib.h>
#include <lua.h>
#include <malloc.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include "moonlet.h"

/* call(f, ...): calls f with lua_call, which is not yieldable. */
static int t_call(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}

/* nest(depth, f): calls f from under depth C frames, each with a local
 * buffer that must survive f's suspension; returns f's result and whether
 * every buffer is intact. */
static int nest(lua_State *L, int depth) {
  volatile char buf[256];
  int ok, r;
  memset((char *)buf, depth & 0xff, sizeof buf);
  if (depth == 0) {
    lua_pushvalue(L, 2);
    lua_call(L, 0, 1);
    r = 1;
  } else {
    r = nest(L, depth - 1);
  }
  ok = 1;
  for (size_t i = 0; i < sizeof buf; i++)
    if (buf[i] != (char)(depth & 0xff)) ok = 0;
  return r && ok;
}

static int t_nest(lua_State *L) {
  int depth = (int)luaL_checkinteger(L, 1);
  int ok;
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_settop(L, 2);
  ok = nest(L, depth);
  lua_pushboolean(L, ok);
  return 2;
}

/* overflow(): unbounded C recursion, to hit the shared stack's guard. */
#pragma GCC diagnostic ignored "-Winfinite-recursion"
static int overflow_depth(volatile int n) {
  volatile char pad[1024];
  pad[0] = (char)n;
  return overflow_depth(n + 1) + pad[0];
}

static int t_overflow(lua_State *L) {
  lua_pushinteger(L, overflow_depth(0));
  return 1;
}

/* Work functions a module adds for moonlet.work, as an embedder would. */
static int work_reverse(moonlet_work_call *c) {
  size_t i, n;
  char *r;
  if (c->nargs != 1 || c->args[0].type != LUA_TSTRING) {
    strcpy(c->error, "one string expected");
    return -1;
  }
  n = c->args[0].len;
  r = malloc(n + 1);
  if (!r) {
    strcpy(c->error, "not enough memory");
    return -1;
  }
  for (i = 0; i < n; i++) r[i] = c->args[0].v.s[n - 1 - i];
  c->nresults = 2;
  c->results[0].type = LUA_TSTRING;
  c->results[0].v.s = r;
  c->results[0].len = n;
  c->results[1].type = LUA_TNUMBER;
  c->results[1].is_int = 1;
  c->results[1].v.i = (lua_Integer)n;
  return 0;
}

/* Returns the registration's user pointer (a string) and its argument. */
static int work_tagged(moonlet_work_call *c) {
  const char *tag = c->ud;
  char *r = malloc(strlen(tag) + 1);
  if (!r) {
    strcpy(c->error, "not enough memory");
    return -1;
  }
  strcpy(r, tag);
  c->nresults = 1;
  c->results[0].type = LUA_TSTRING;
  c->results[0].v.s = r;
  c->results[0].len = strlen(tag);
  return 0;
}

/* sleep(seconds): blocks a pool thread, as blocking C calls do. */
static int work_sleep(moonlet_work_call *c) {
  struct timespec ts;
  double s;
  if (c->nargs < 1 || c->args[0].type != LUA_TNUMBER) {
    strcpy(c->error, "seconds expected");
    return -1;
  }
  s = c->args[0].is_int ? (double)c->args[0].v.i : c->args[0].v.n;
  if (!(s >= 0) || s > 86400) {
    strcpy(c->error, "seconds must be in 0..86400");
    return -1;
  }
  ts.tv_sec = (time_t)s;
  ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
  while (nanosleep(&ts, &ts) != 0) {}
  return 0;
}

/* echo(...) -> the same values, through the pool (marshalling both ways). */
static int work_echo(moonlet_work_call *c) {
  int i;
  if (c->nargs > MOONLET_WORK_MAXRESULTS) {
    strcpy(c->error, "at most 8 values");
    return -1;
  }
  for (i = 0; i < c->nargs; i++) {
    c->results[i] = c->args[i];
    if (c->args[i].type == LUA_TSTRING) {
      char *copy = malloc(c->args[i].len + 1);
      if (!copy) {
        c->results[i].type = LUA_TNIL;
        c->nresults = i + 1;
        strcpy(c->error, "not enough memory");
        return -1;
      }
      memcpy(copy, c->args[i].v.s, c->args[i].len + 1);
      c->results[i].v.s = copy;
    }
    c->nresults = i + 1;
  }
  return 0;
}

static int work_fail(moonlet_work_call *c) {
  strcpy(c->error, "it failed on purpose");
  return -1;
}

/* Raw descriptors for m.wait_readable/m.wait_writable: pipe() -> rfd, wfd;
 * write(fd, s) -> bytes written or nil, errno text (non-blocking writes
 * fail with EAGAIN); read(fd, n); close(fd). */
static int t_pipe(lua_State *L) {
  int fds[2];
  if (pipe(fds) != 0) return luaL_error(L, "pipe: %s", strerror(errno));
  lua_pushinteger(L, fds[0]);
  lua_pushinteger(L, fds[1]);
  return 2;
}

static int t_write(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 2, &len);
  ssize_t n = write((int)luaL_checkinteger(L, 1), s, len);
  if (n < 0) {
    lua_pushnil(L);
    lua_pushstring(L, strerror(errno));
    return 2;
  }
  lua_pushinteger(L, n);
  return 1;
}

static int t_read(lua_State *L) {
  char buf[4096];
  ssize_t n = read((int)luaL_checkinteger(L, 1), buf, sizeof buf);
  if (n < 0) {
    lua_pushnil(L);
    lua_pushstring(L, strerror(errno));
    return 2;
  }
  lua_pushlstring(L, buf, (size_t)n);
  return 1;
}

static int t_close(lua_State *L) {
  lua_pushboolean(L, close((int)luaL_checkinteger(L, 1)) == 0);
  return 1;
}

/* heap_in_use(): bytes malloc has handed out and not got back (0 where
 * malloc is replaced, as under ASan or Valgrind). */
static int t_heap_in_use(lua_State *L) {
  struct mallinfo2 mi = mallinfo2();
  lua_pushinteger(L, (lua_Integer)mi.uordblks);
  return 1;
}

int luaopen_moonlet_testmod(lua_State *L) {
  static const luaL_Reg funcs[] = {
      {"call", t_call}, {"nest", t_nest}, {"overflow", t_overflow},
      {"pipe", t_pipe}, {"write", t_write}, {"read", t_read}, {"close", t_close},
      {"heap_in_use", t_heap_in_use}, {NULL, NULL}};
  moonlet_register_work(L, "test.reverse", work_reverse);
  moonlet_register_work(L, "test.fail", work_fail);
  moonlet_register_work(L, "test.sleep", work_sleep);
  moonlet_register_work(L, "test.echo", work_echo);
  moonlet_register_work_ud(L, "test.tagged", work_tagged, (void *)"tag from C");
  luaL_newlib(L, funcs);
  return 1;
}
