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
  moonlet_op waiter;
} msignal;

#define SIGNAL_KIND MOONLET_MT_SIGNAL

static void on_signal(uv_signal_t *h, int signum) {
  msignal *s = h->data;
  (void)signum;
  s->pending++;
  moonlet__op_finish(&s->waiter, 0);
}

static void on_closed(uv_handle_t *h) {
  moonlet__io_free(&((msignal *)h->data)->io);
}

static void signal_close(moonlet_io *io) {
  msignal *s = (msignal *)io;
  moonlet__op_finish(&s->waiter, 0);
  uv_close((uv_handle_t *)&s->h, on_closed);
}

/* _signal_watch(sig) -> watcher */
static int l_watch(lua_State *L) {
  moonlet_loop *lp = moonlet__loop(L);
  int signum = moonlet__check_signal(L, 1), r;
  msignal *s;
  luaL_argcheck(L, signum != SIGKILL && signum != SIGSTOP && signum != SIGSEGV &&
                       signum != SIGCHLD, 1, "this signal cannot be watched");
  moonlet__io_reserve(L);
  if (!(s = calloc(1, sizeof *s))) return luaL_error(L, "not enough memory");
  uv_signal_init(lp->uv, &s->h);
  s->h.data = s;
  s->signum = signum;
  s->io.close = signal_close;
  moonlet__io_fill(L, lp, &s->io, SIGNAL_KIND);
  r = uv_signal_start(&s->h, on_signal, signum);
  if (r != 0) {
    moonlet__io_close(&s->io);
    return moonlet__push_failure(L, r, NULL);
  }
  return 1;
}

static int push_delivery(lua_State *L, void *obj) {
  msignal *s = obj;
  const char *name = moonlet__signal_name(s->signum);
  s->pending--;
  if (name) lua_pushstring(L, name); else lua_pushinteger(L, s->signum);
  return 1;
}

static const moonlet_retry wait_retry = {
    push_delivery, 1, "another task is waiting on this watcher",
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
  static const luaL_Reg funcs[] = {{"_signal_watch", l_watch}, {NULL, NULL}};
  if (!lp->mt[SIGNAL_KIND])
    moonlet__io_newmt(L, lp, SIGNAL_KIND, "moonlet.signal", methods);
  moonlet__setfuncs(L, lp, funcs);
}
