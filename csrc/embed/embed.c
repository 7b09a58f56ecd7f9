/*
 * embed.c - the host's side of moonlet.h: opening moonlet in a lua_State
 * (with the Lua modules built into the library), running tasks from C,
 * blocking from C functions, and running inside a host's libuv loop.
 *
 * On a host loop moonlet keeps its own loop and nests it in the host's:
 * the host polls moonlet's backend descriptor, and a timer armed before
 * every host poll runs moonlet's loop when it has timers or ready tasks.
 * Everything moonlet opens stays on its own loop, so closing it never
 * depends on the host running its loop; only these three host handles
 * need the host's loop to finish closing.
 */
#include <stdlib.h>

#include "core/errors.h"
#include "core/future.h"
#include "core/spawn.h"
#include "core/task.h"
#include "embed/embed.h"
#include "module.h"
#include "moonlet.h"

#define HOST_KEY "moonlet.host_loop"

int luaopen_moonlet_core(lua_State *L);
void moonlet__preload_lua(lua_State *L); /* generated: build/lua_modules.c */

/* --- nesting in a host loop ---------------------------------------------- */

/* Before each host poll, prepare decides how long the host may block:
 * not at all while moonlet has ready work (an idle handle), until
 * moonlet's next timer (a timer), or as long as it likes. moonlet's loop
 * then runs in the host's check phase when one of those or its backend
 * descriptor (poll) says so; never from inside the host's timer phase,
 * which would run a zero timer forever. */
struct moonlet_host {
  uv_poll_t poll;
  uv_timer_t timer;
  uv_idle_t idle;
  uv_prepare_t prepare;
  uv_check_t check;
  moonlet_loop *lp;       /* NULL once detached */
  int due;                /* run moonlet's loop in this check phase */
  int open;               /* host handles not closed yet */
  int *done;              /* set when the last one closed, if not NULL */
};

#define HOST_HANDLES 5

static void on_host_poll(uv_poll_t *p, int status, int events) {
  (void)status;
  (void)events;
  ((moonlet_host *)p->data)->due = 1;
}
static void on_host_timer(uv_timer_t *t) { ((moonlet_host *)t->data)->due = 1; }
static void on_host_idle(uv_idle_t *i) { ((moonlet_host *)i->data)->due = 1; }

/* Keeps the host's loop alive while moonlet's is. */
static void set_ref(uv_handle_t *x, int on) {
  if (on) uv_ref(x); else uv_unref(x);
}

static void host_arm(moonlet_host *h) {
  moonlet_loop *lp = h->lp;
  int alive, t;
  if (!lp || lp->closed) return;
  alive = uv_loop_alive(lp->uv);
  t = h->due ? 0 : alive ? uv_backend_timeout(lp->uv) : -1;
  set_ref((uv_handle_t *)&h->idle, alive);
  set_ref((uv_handle_t *)&h->timer, alive);
  if (t == 0) {
    uv_timer_stop(&h->timer);
    uv_idle_start(&h->idle, on_host_idle);
  } else {
    uv_idle_stop(&h->idle);
    if (t < 0) uv_timer_stop(&h->timer);
    else uv_timer_start(&h->timer, on_host_timer, (uint64_t)t, 0);
  }
}

static void on_host_prepare(uv_prepare_t *p) { host_arm(p->data); }

/* moonlet got work while the host's loop may not be running (a config
 * spawning tasks before uv_run, a host calling Lua between runs): keep
 * the host's loop alive until its next prepare weighs moonlet's loop. */
static void host_poke(moonlet_loop *lp) {
  moonlet_host *h = lp->host_nest;
  if (!h || !h->lp ||
      (uv_is_active((uv_handle_t *)&h->idle) && uv_has_ref((uv_handle_t *)&h->idle)))
    return;
  h->due = 1;
  uv_idle_start(&h->idle, on_host_idle);
  uv_ref((uv_handle_t *)&h->idle);
}

static void on_host_check(uv_check_t *c) {
  moonlet_host *h = c->data;
  if (!h->due || !h->lp || h->lp->closed) return;
  h->due = 0;
  uv_run(h->lp->uv, UV_RUN_NOWAIT);
}

static void on_host_closed(uv_handle_t *x) {
  moonlet_host *h = x->data;
  if (--h->open > 0) return;
  if (h->done) *h->done = 1;
  free(h);
}

static void host_detach(lua_State *L, moonlet_loop *lp);

int moonlet__host_attach(moonlet_loop *lp, uv_loop_t *host) {
  moonlet_host *h = calloc(1, sizeof *h);
  int r;
  if (!h) return UV_ENOMEM;
  if ((r = uv_poll_init(host, &h->poll, uv_backend_fd(lp->uv))) != 0) {
    free(h);
    return r;
  }
  h->lp = lp;
  h->poll.data = h->timer.data = h->idle.data = h->prepare.data = h->check.data = h;
  uv_timer_init(host, &h->timer);
  uv_idle_init(host, &h->idle);
  uv_prepare_init(host, &h->prepare);
  uv_check_init(host, &h->check);
  h->open = HOST_HANDLES;
  uv_poll_start(&h->poll, UV_READABLE, on_host_poll);
  uv_prepare_start(&h->prepare, on_host_prepare);
  uv_check_start(&h->check, on_host_check);
  uv_unref((uv_handle_t *)&h->poll);
  uv_unref((uv_handle_t *)&h->prepare);
  uv_unref((uv_handle_t *)&h->check);
  lp->host = host;
  lp->host_nest = h;
  lp->on_ready = host_poke;
  moonlet__on_close(lp, MOONLET_CLOSE_HOST, host_detach);
  host_poke(lp);
  return 0;
}

/* At close: leaves the host's loop, which outlives us. */
static void host_detach(lua_State *L, moonlet_loop *lp) {
  moonlet_host *h = lp->host_nest;
  (void)L;
  if (!h) return;
  lp->host_nest = NULL;
  lp->on_ready = NULL;
  h->lp = NULL;
  uv_close((uv_handle_t *)&h->poll, on_host_closed);
  uv_close((uv_handle_t *)&h->timer, on_host_closed);
  uv_close((uv_handle_t *)&h->idle, on_host_closed);
  uv_close((uv_handle_t *)&h->prepare, on_host_closed);
  uv_close((uv_handle_t *)&h->check, on_host_closed);
}

/* --- opening and closing ------------------------------------------------- */

int moonlet_open(lua_State *L, struct uv_loop_s *loop) {
  int top = lua_gettop(L);
  lua_pushlightuserdata(L, loop);
  lua_setfield(L, LUA_REGISTRYINDEX, HOST_KEY);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  moonlet__preload_lua(L);
  lua_pushcfunction(L, luaopen_moonlet_core);
  lua_setfield(L, -2, "moonlet.core");
  lua_settop(L, top);
  if (lua_getglobal(L, "require") != LUA_TFUNCTION) {
    lua_settop(L, top);
    lua_pushliteral(L, "moonlet_open: the package library is not open");
    return MOONLET_ERROR;
  }
  lua_pushliteral(L, "moonlet");
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    lua_replace(L, top + 1);
    lua_settop(L, top + 1);
    return MOONLET_ERROR;
  }
  lua_settop(L, top);
  return MOONLET_OK;
}

/* The host loop moonlet_open asked for (NULL: its own). */
uv_loop_t *moonlet__host_requested(lua_State *L) {
  uv_loop_t *host;
  lua_getfield(L, LUA_REGISTRYINDEX, HOST_KEY);
  host = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return host;
}

/* Closes lp and lets the host's loop finish closing our handles there
 * (moonlet_close and lua_close run outside the host's uv_run). */
void moonlet__close(lua_State *L, moonlet_loop *lp) {
  uv_loop_t *host = lp->host;
  moonlet_host *h = lp->host_nest;
  int done = 0, i;
  if (!lp->current && !lp->in_callback && !lp->driving)
    moonlet__report_unretrieved(L, lp); /* at the latest now */
  if (h) h->done = &done;
  moonlet__loop_close(L, lp);
  for (i = 0; h && !done && i < 64; i++) uv_run(host, UV_RUN_NOWAIT);
  if (h && !done) h->done = NULL;
}

int moonlet_close(lua_State *L) {
  moonlet_loop *lp = moonlet__loop_of(L);
  if (!lp || lp->closed) return MOONLET_OK;
  /* Closing would cancel and finish the caller's own task under it. */
  if (lp->current || lp->in_callback) return MOONLET_EBUSY;
  moonlet__close(L, lp);
  return MOONLET_OK;
}

/* --- running ------------------------------------------------------------- */

static moonlet_loop *usable_loop(lua_State *L) {
  moonlet_loop *lp = moonlet__loop_of(L);
  if (!lp || lp->closed || lp->closing) return NULL;
  return lp;
}

int moonlet_spawn(lua_State *L, int nargs) {
  moonlet_loop *lp = usable_loop(L);
  int fn = lua_gettop(L) - nargs;
  if (!lp) return MOONLET_ECLOSED;
  if (lua_type(L, fn) != LUA_TFUNCTION) {
    lua_settop(L, fn - 1);
    lua_pushliteral(L, "moonlet_spawn: function expected");
    return MOONLET_ERROR;
  }
  lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  lua_getfield(L, -1, "moonlet.core");
  lua_getfield(L, -1, "spawn");
  lua_replace(L, -3);
  lua_pop(L, 1);
  lua_insert(L, fn);
  if (lua_pcall(L, nargs + 1, 1, 0) != LUA_OK) return MOONLET_ERROR;
  return MOONLET_OK;
}

static int finished(moonlet_loop *lp, moonlet_future *f) {
  return f ? f->state != FS_PENDING : lp->nlive == 0;
}

int moonlet_run(lua_State *L, int idx) {
  moonlet_loop *lp = usable_loop(L);
  moonlet_future *f = NULL;
  if (!lp) return MOONLET_ECLOSED;
  if (lp->current || lp->driving || lp->in_callback) return MOONLET_ENOTASK;
  if (idx != 0 && !(f = moonlet__to_future(L, idx))) {
    lua_pushliteral(L, "moonlet_run: task or future expected");
    return MOONLET_ERROR;
  }
  while (!finished(lp, f)) {
    int alive;
    if (lp->host) {
      host_arm(lp->host_nest); /* the host's loop is alive while we are */
      alive = uv_run(lp->host, UV_RUN_ONCE) || lp->host_nest->due ||
              uv_loop_alive(lp->uv);
    } else {
      lp->driving = 1;
      alive = uv_run(lp->uv, UV_RUN_ONCE);
      lp->driving = 0;
    }
    if (lp->closed) return MOONLET_ECLOSED;
    if (!alive && lp->nready == 0 && !finished(lp, f)) {
      lua_pushliteral(L, "moonlet_run: deadlock: nothing left to run can finish it");
      return MOONLET_ERROR;
    }
  }
  /* Run to the end: what failed unseen is reported now, not whenever the
   * collector gets to it. */
  if (idx == 0) moonlet__report_unretrieved(L, lp);
  return MOONLET_OK;
}

int moonlet_on_error(lua_State *L, moonlet_error_fn fn, void *ud) {
  moonlet_loop *lp = moonlet__loop_of(L);
  if (!lp || lp->closed) return MOONLET_ECLOSED;
  lp->c_on_error = fn;
  lp->c_on_error_ud = ud;
  return MOONLET_OK;
}

/* One turn of the loop in mode (UV_RUN_NOWAIT or UV_RUN_ONCE). */
static int turn(lua_State *L, uv_run_mode mode) {
  moonlet_loop *lp = usable_loop(L);
  if (!lp) return MOONLET_ECLOSED;
  if (lp->current || lp->driving || lp->in_callback) return MOONLET_ENOTASK;
  if (lp->host) {
    host_arm(lp->host_nest);
    uv_run(lp->host, mode);
  } else {
    lp->driving = 1;
    uv_run(lp->uv, mode);
    lp->driving = 0;
  }
  return (int)lp->nlive;
}

int moonlet_step(lua_State *L) { return turn(L, UV_RUN_NOWAIT); }
int moonlet_turn(lua_State *L) { return turn(L, UV_RUN_ONCE); }

int moonlet_backend_fd(lua_State *L) {
  moonlet_loop *lp = usable_loop(L);
  if (!lp || lp->host) return MOONLET_ENOTASK;
  return uv_backend_fd(lp->uv);
}

int moonlet_backend_timeout(lua_State *L) {
  moonlet_loop *lp = usable_loop(L);
  if (!lp || lp->host) return MOONLET_ENOTASK;
  if (!uv_loop_alive(lp->uv)) return -1;
  return uv_backend_timeout(lp->uv);
}

/* --- tasks from C -------------------------------------------------------- */

const char *moonlet_status(lua_State *L, int idx) {
  moonlet_future *f = moonlet__to_future(L, idx);
  if (!f) return NULL;
  switch (f->state) {
    case FS_PENDING: return "pending";
    case FS_DONE: return "done";
    case FS_FAILED: return "failed";
    default: return "cancelled";
  }
}

static int call_result(lua_State *L) {
  lua_getfield(L, 1, "result");
  lua_insert(L, 1);
  lua_call(L, 1, LUA_MULTRET);
  return lua_gettop(L);
}

int moonlet_result(lua_State *L, int idx) {
  moonlet_future *f = moonlet__to_future(L, idx);
  int base = lua_gettop(L);
  if (!f) {
    lua_pushliteral(L, "moonlet_result: task or future expected");
    return MOONLET_ERROR;
  }
  if (f->state == FS_PENDING) return MOONLET_ENOTASK;
  idx = lua_absindex(L, idx);
  lua_pushcfunction(L, call_result);
  lua_pushvalue(L, idx);
  if (lua_pcall(L, 1, LUA_MULTRET, 0) != LUA_OK) return MOONLET_ERROR;
  return lua_gettop(L) - base;
}

int moonlet_cancel(lua_State *L, int idx) {
  moonlet_loop *lp = usable_loop(L);
  moonlet_task *t = moonlet__to_task(L, idx);
  if (!lp) return MOONLET_ECLOSED;
  if (!t) {
    lua_pushliteral(L, "moonlet_cancel: task expected");
    return MOONLET_ERROR;
  }
  return moonlet__task_cancel(L, lp, t, 0);
}

/* --- blocking from C ----------------------------------------------------- */

/* Calls moonlet's Lua function name with the nargs values on top. Called
 * from a C function, the call is not yieldable, so a task blocking in it
 * takes the native path: the whole C stack is switched, and this returns
 * only when the wait is over. */
static int call_blocking(lua_State *L, const char *name, int nargs, int nres) {
  moonlet_loop *lp = moonlet__loop_of(L);
  int base, st;
  if (!lp || lp->closed) return MOONLET_ENOTASK;
  if (!lp->current && (lp->in_callback || lp->driving)) return MOONLET_ENOTASK;
  base = lua_gettop(L) - nargs;
  lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  lua_getfield(L, -1, "moonlet");
  lua_getfield(L, -1, name);
  lua_replace(L, -3);
  lua_pop(L, 1);
  lua_insert(L, base + 1);
  st = lua_pcall(L, nargs, nres, 0);
  if (st == LUA_OK) return lua_gettop(L) - base;
  if (moonlet__is_error_kind(L, -1, "cancelled")) {
    lua_pop(L, 1);
    return MOONLET_ECANCELLED;
  }
  return MOONLET_ERROR;
}

int moonlet_sleep(lua_State *L, double seconds) {
  int r;
  lua_pushnumber(L, seconds);
  r = call_blocking(L, "sleep", 1, 0);
  if (r == MOONLET_ENOTASK) lua_pop(L, 1);
  return r > 0 ? MOONLET_OK : r;
}

static int await_any(lua_State *L) {
  if (moonlet__tagged(L, 1, MOONLET_TAG_CHANNEL)) {
    lua_getfield(L, 1, "recv");
    lua_pushvalue(L, 1);
    lua_call(L, 1, 1);
    return 1;
  }
  lua_getfield(L, 1, "await");
  if (lua_type(L, -1) != LUA_TFUNCTION)
    return luaL_error(L, "moonlet_await: future, task or channel expected");
  lua_pushvalue(L, 1);
  lua_call(L, 1, LUA_MULTRET);
  return lua_gettop(L) - 1;
}

int moonlet_await(lua_State *L, int idx) {
  moonlet_loop *lp = moonlet__loop_of(L);
  int base, st;
  idx = lua_absindex(L, idx);
  if (!lp || lp->closed) return MOONLET_ENOTASK;
  if (!lp->current && (lp->in_callback || lp->driving)) return MOONLET_ENOTASK;
  base = lua_gettop(L);
  lua_pushcfunction(L, await_any);
  lua_pushvalue(L, idx);
  st = lua_pcall(L, 1, LUA_MULTRET, 0);
  if (st == LUA_OK) return lua_gettop(L) - base;
  if (moonlet__is_error_kind(L, -1, "cancelled")) {
    lua_pop(L, 1);
    return MOONLET_ECANCELLED;
  }
  return MOONLET_ERROR;
}
