/*
 * signal.c - watching POSIX signals: a watcher counts deliveries and wakes
 * the task in its wait(); the Lua layer turns watchers into channels.
 */
#include <stdlib.h>

#include "io/io.h"

typedef struct msignal {
  moonlet_io io;
  uv_signal_t h;
  int signum;
  unsigned pending;      /* deliveries nobody has taken yet */
  int fn_ref;            /* called on each delivery instead, or NOREF */
  moonlet_op waiter;
} msignal;

#define SIGNAL_KIND MOONLET_MT_SIGNAL

/* For task dumps: the signal watched. */
static void describe_signal(lua_State *L, moonlet_io *io) {
  const char *name = moonlet__signal_name(((msignal *)io)->signum);
  if (name) lua_pushstring(L, name); else lua_pushinteger(L, ((msignal *)io)->signum);
  lua_setfield(L, -2, "signal");
}

static void on_signal(uv_signal_t *h, int signum) {
  msignal *s = h->data;
  moonlet_loop *lp = s->io.lp;
  lua_State *L = lp->LC;
  const char *name = moonlet__signal_name(signum);
  if (s->fn_ref == LUA_NOREF) {
    s->pending++;
    moonlet__op_finish(&s->waiter, 0);
    return;
  }
  if (!lua_checkstack(L, 3)) return;
  moonlet__getref(L, lp, s->fn_ref);
  if (name) lua_pushstring(L, name); else lua_pushinteger(L, signum);
  lp->in_callback = 1;
  moonlet__pcall(L, lp, 1, "a signal handler");
  lp->in_callback = 0;
  lua_settop(L, 0);
}

static void on_closed(uv_handle_t *h) {
  moonlet__io_free(&((msignal *)h->data)->io);
}

static void signal_close(moonlet_io *io) {
  msignal *s = (msignal *)io;
  moonlet__unref(io->lp->LC, io->lp, s->fn_ref);
  s->fn_ref = LUA_NOREF;
  moonlet__op_finish(&s->waiter, 0);
  uv_close((uv_handle_t *)&s->h, on_closed);
}

/* _signal_watch(sig) -> watcher */
/* Pushes a new watcher of the signal at 1, calling the function at fn
 * (0: none) on each delivery; or nil, message, code. */
static int watch(lua_State *L, int fn) {
  moonlet_loop *lp = moonlet__loop(L);
  int signum = moonlet__check_signal(L, 1), r;
  msignal *s;
  luaL_argcheck(L, signum != SIGKILL && signum != SIGSTOP && signum != SIGSEGV &&
                       signum != SIGCHLD, 1, "this signal cannot be watched");
  moonlet__io_reserve(L);
  if (!(s = calloc(1, sizeof *s))) return luaL_error(L, "not enough memory");
  s->fn_ref = LUA_NOREF;
  uv_signal_init(lp->uv, &s->h);
  s->h.data = s;
  s->signum = signum;
  s->io.close = signal_close;
  s->io.describe = describe_signal;
  moonlet__io_fill(L, lp, &s->io, SIGNAL_KIND);
  if (fn) {
    lua_pushvalue(L, fn);
    s->fn_ref = moonlet__ref(L, lp);
    uv_unref((uv_handle_t *)&s->h); /* it keeps no program running */
  }
  r = uv_signal_start(&s->h, on_signal, signum);
  if (r != 0) {
    moonlet__io_close(&s->io);
    return moonlet__push_failure(L, r, NULL);
  }
  return 1;
}

static int l_watch(lua_State *L) { return watch(L, 0); }

/* _on_signal(sig, fn) -> watcher: calls fn(name) as a callback on each
 * delivery, without keeping the loop alive (diagnostics: m.dump_on). */
static int l_on_signal(lua_State *L) {
  luaL_checktype(L, 2, LUA_TFUNCTION);
  return watch(L, 2);
}

static int push_delivery(lua_State *L, void *obj) {
  msignal *s = obj;
  const char *name = moonlet__signal_name(s->signum);
  s->pending--;
  if (name) lua_pushstring(L, name); else lua_pushinteger(L, s->signum);
  return 1;
}

static const moonlet_retry wait_retry = {
    "signal wait", push_delivery, 1, "another task is waiting on this watcher",
    "watcher closed", NULL};

/* watcher:wait([timeout]) -> signal name */
static int s_wait(lua_State *L) {
  msignal *s = (msignal *)moonlet__io_check(L, 1, SIGNAL_KIND);
  uint64_t ms = moonlet__check_timeout(L, 2);
  moonlet__checkpoint(L, s->io.lp);
  if (s->pending) return push_delivery(L, s);
  lua_settop(L, 2);
  return moonlet__op_retry(L, s->io.lp, &s->waiter, ms, &wait_retry);
}

void moonlet__open_signal(lua_State *L, moonlet_loop *lp) {
  static const luaL_Reg methods[] = {{"wait", s_wait}, {NULL, NULL}};
  static const luaL_Reg funcs[] = {{"_signal_watch", l_watch},
                                   {"_on_signal", l_on_signal},
                                   {NULL, NULL}};
  if (!lp->mt[SIGNAL_KIND])
    moonlet__io_newmt(L, lp, SIGNAL_KIND, "moonlet.signal", methods);
  moonlet__setfuncs(L, lp, funcs);
}
