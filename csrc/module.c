/*
 * module.c - luaopen_moonlet_core: one loop per Lua state, kept in the
 * registry, and the module table whose functions all carry it; it opens
 * every layer's bindings.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/callback.h"
#include "core/channel.h"
#include "core/context.h"
#include "core/future.h"
#include "core/native.h"
#include "core/spawn.h"
#include "core/task.h"
#include "core/watchdog.h"
#include "embed/embed.h"
#include "http/http.h"
#include "io/io.h"
#include "io/stream.h"
#include "module.h"
#include "moonlet.h"

static const char loop_key = 'L';

static int loop_gc(lua_State *L) {
  /* Only the registry's loop object (reachable through the debug library
   * at most) may be closed. */
  moonlet_loop *lp = lua_touserdata(L, 1);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &loop_key);
  if (lp && lua_touserdata(L, -1) == lp && !lp->closed) moonlet__close(L, lp);
  return 0;
}

static int join_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  moonlet__check_wake(L, (moonlet_wait *)ctx);
  return 0;
}

/* _join(task): waits until a task or future is done without looking at its
 * outcome, so a failure nobody awaited is still reported. */
static int l_join(lua_State *L) {
  moonlet_loop *lp = moonlet__loop(L);
  moonlet_future *f = moonlet__check_future(L, 1);
  moonlet_wait *w = moonlet__enter_block(L, lp);
  if (f->state != FS_PENDING) {
    moonlet__end_wait(w);
    return 0;
  }
  moonlet__wait_in(w, &f->waiters, f, "await", moonlet__describe_await);
  return moonlet__block(L, lp, w, join_k);
}

/* _fail(code[, detail]) -> nil, message, code: the error triple of the Lua
 * modules, made as the C bindings make theirs. ETIMEDOUT and ECANCELED
 * get libuv's wording, and detail after it; other codes are moonlet's own
 * ("ECLOSED"), with detail as their message. */
static int l_fail(lua_State *L) {
  const char *code = luaL_checkstring(L, 1);
  const char *detail = luaL_optstring(L, 2, NULL);
  if (strcmp(code, "ETIMEDOUT") == 0)
    return moonlet__push_failure(L, UV_ETIMEDOUT, detail);
  if (strcmp(code, "ECANCELED") == 0)
    return moonlet__push_failure(L, UV_ECANCELED, detail);
  return moonlet__push_error(L, code, luaL_checkstring(L, 2));
}

/* _error(kind, message): a new Cancelled or Timeout error object. */
static int l_error(lua_State *L) {
  static const char *const kinds[] = {"cancelled", "timeout", NULL};
  int k = luaL_checkoption(L, 1, NULL, kinds);
  moonlet__push_error_object(L, kinds[k], luaL_checkstring(L, 2));
  return 1;
}

/* _shield(delta): holds back (+1) or lets through (-1) the current task's
 * cancellation; returns the new depth. Outside tasks it does nothing. */
static int l_shield(lua_State *L) {
  moonlet_loop *lp = moonlet__loop(L);
  lua_Integer d = luaL_checkinteger(L, 1);
  moonlet_task *t = lp->current;
  luaL_argcheck(L, d == 1 || d == -1, 1, "1 or -1 expected");
  if (!t) return 0;
  if (d < 0 && t->shield == 0) return luaL_error(L, "shield depth below zero");
  t->shield += (int)d;
  lua_pushinteger(L, t->shield);
  return 1;
}

/* _context(): where the caller runs: "task", "callback" or "main". */
static int l_context(lua_State *L) {
  moonlet_loop *lp = moonlet__loop(L);
  lua_pushstring(L, lp->current ? "task"
                    : lp->in_callback || lp->driving ? "callback"
                                                     : "main");
  return 1;
}

static void set_int(lua_State *L, const char *k, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

/* lag_p50, lag_p99, lag_max: seconds, over the latest timer firings. */
static void set_lag(lua_State *L, const moonlet_loop *lp) {
  uint32_t v[MOONLET_LAG_SAMPLES];
  size_t n = lp->nlag < MOONLET_LAG_SAMPLES ? lp->nlag : MOONLET_LAG_SAMPLES;
  double p50 = 0, p99 = 0, max = 0;
  if (n > 0) {
    memcpy(v, lp->lag_us, n * sizeof v[0]);
    qsort(v, n, sizeof v[0], cmp_u32);
    p50 = v[(n - 1) / 2] / 1e6;
    p99 = v[(n - 1) * 99 / 100] / 1e6;
    max = v[n - 1] / 1e6;
  }
  lua_pushnumber(L, p50);
  lua_setfield(L, -2, "lag_p50");
  lua_pushnumber(L, p99);
  lua_setfield(L, -2, "lag_p99");
  lua_pushnumber(L, max);
  lua_setfield(L, -2, "lag_max");
}

/* open = {streams=, servers=, ...}: the I/O objects open now, by kind. */
static void set_open(lua_State *L, moonlet_loop *lp) {
  static const struct { int kind; const char *name; } kinds[] = {
      {MOONLET_MT_STREAM, "streams"},     {MOONLET_MT_SERVER, "servers"},
      {MOONLET_MT_UDP, "udp"},            {MOONLET_MT_FILE, "files"},
      {MOONLET_MT_PROCESS, "processes"},  {MOONLET_MT_SIGNAL, "signals"},
      {MOONLET_MT_HTTP_CLIENT, "http_clients"},
      {MOONLET_MT_HTTP_XFER, "http_transfers"}};
  lua_Integer count[MOONLET_MT_COUNT] = {0};
  mqueue *q;
  size_t i;
  for (q = lp->io.next; q != &lp->io; q = q->next) {
    moonlet_io *io = mq_data(q, moonlet_io, node);
    if (!io->closed) count[io->kind]++;
  }
  lua_createtable(L, 0, (int)(sizeof kinds / sizeof kinds[0]));
  for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
    set_int(L, kinds[i].name, count[kinds[i].kind]);
  lua_setfield(L, -2, "open");
}

static int l_stats(lua_State *L) {
  moonlet_loop *lp = moonlet__loop(L);
  const moonlet_stats *s = &lp->stats;
  uint64_t started = __atomic_load_n(&s->jobs_started, __ATOMIC_RELAXED);
  lua_createtable(L, 0, 32);
  set_int(L, "failed", (lua_Integer)s->failed);
  set_int(L, "watchdog_incidents", (lua_Integer)s->watchdog_incidents);
  set_int(L, "iterations", (lua_Integer)s->iterations);
  set_int(L, "bytes_in", (lua_Integer)s->bytes_in);
  set_int(L, "bytes_out", (lua_Integer)s->bytes_out);
  set_int(L, "jobs_queued", (lua_Integer)(s->jobs_queued - started));
  set_int(L, "jobs_running", (lua_Integer)(started - s->jobs_done));
  set_lag(L, lp);
  set_open(L, lp);
  set_int(L, "tasks", (lua_Integer)lp->nlive);
  set_int(L, "ready", (lua_Integer)lp->nready);
  set_int(L, "spawned", (lua_Integer)s->spawned);
  set_int(L, "finished", (lua_Integer)s->finished);
  set_int(L, "fast_switches", (lua_Integer)s->fast_switches);
  set_int(L, "native_switches", (lua_Integer)s->native_switches);
  set_int(L, "slices_copied", (lua_Integer)s->slices_copied);
  set_int(L, "bytes_copied", (lua_Integer)s->bytes_copied);
  set_int(L, "fresh_runners", (lua_Integer)s->fresh_runners);
  set_int(L, "pooled_threads", lp->npool);
  set_int(L, "pooled_native", lp->nfree_nat);
  set_int(L, "pooled_native_bytes", (lua_Integer)moonlet__pooled_native_bytes(lp));
  set_int(L, "refs", lp->nrefs - lp->nfree_refs);
  set_int(L, "sleeping", (lua_Integer)lp->nsleepers);
  set_int(L, "requests", (lua_Integer)lp->nrequests);
  set_int(L, "stack_size", (lua_Integer)(lp->stack.hi - lp->stack.lo));
  set_int(L, "spare_read_buffers", moonlet__stream_spare_buffers(lp));
  lua_pushboolean(L, lp->force_native);
  lua_setfield(L, -2, "force_native");
  lua_pushstring(L, moonlet__ctx_backend());
  lua_setfield(L, -2, "switch_backend");
  return 1;
}

typedef struct handle_count {
  moonlet_loop *lp;
  lua_Integer n;
} handle_count;

/* Counts the libuv handles still open, other than the loop's own. */
static void count_handle(uv_handle_t *h, void *arg) {
  handle_count *c = arg;
  if (uv_is_closing(h)) return;
  if (h == (uv_handle_t *)&c->lp->prepare || h == (uv_handle_t *)&c->lp->idle ||
      h == (uv_handle_t *)&c->lp->sleep_timer ||
      h == (uv_handle_t *)&c->lp->pool_timer || moonlet__stream_own_handle(c->lp, h))
    return;
  c->n++;
}

static int l_handles(lua_State *L) {
  handle_count c = {moonlet__loop(L), 0};
  uv_walk(c.lp->uv, count_handle, &c);
  lua_pushinteger(L, c.n);
  return 1;
}

/* _fd_limit(): the soft limit on open descriptors (RLIMIT_NOFILE). */
static int l_fd_limit(lua_State *L) {
  struct rlimit r;
  if (getrlimit(RLIMIT_NOFILE, &r) != 0 || r.rlim_cur == RLIM_INFINITY ||
      r.rlim_cur > (rlim_t)LUA_MAXINTEGER)
    lua_pushinteger(L, LUA_MAXINTEGER);
  else
    lua_pushinteger(L, (lua_Integer)r.rlim_cur);
  return 1;
}

/* _fds_exhausted(): whether the process is out of descriptors (EMFILE or
 * ENFILE on one more). libuv drops the clients that arrive then and tells
 * nobody, so servers probe after each accept. */
static int l_fds_exhausted(lua_State *L) {
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) close(fd);
  lua_pushboolean(L, fd < 0 && (errno == EMFILE || errno == ENFILE));
  return 1;
}

moonlet_loop *moonlet__loop_of(lua_State *L) {
  moonlet_loop *lp = NULL;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &loop_key) == LUA_TUSERDATA)
    lp = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return lp;
}

static moonlet_loop *get_loop(lua_State *L) {
  moonlet_loop *lp;
  int r;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &loop_key) == LUA_TUSERDATA) {
    lp = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return lp;
  }
  lua_pop(L, 1);
  lp = lua_newuserdatauv(L, sizeof *lp, 0);
  memset(lp, 0, sizeof *lp);
  lp->refs = LUA_NOREF;
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, loop_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  if ((r = moonlet__loop_init(L, lp)) != 0) {
    lp->closed = 1;
    luaL_error(L, "moonlet: cannot create the loop: %s", uv_strerror(r));
  }
  if (moonlet__host_requested(L) &&
      (r = moonlet__host_attach(lp, moonlet__host_requested(L))) != 0) {
    moonlet__loop_close(L, lp);
    luaL_error(L, "moonlet: cannot run inside the host's loop: %s", uv_strerror(r));
  }
  lua_rawsetp(L, LUA_REGISTRYINDEX, &loop_key);
  lua_newtable(L);
  lp->refs = luaL_ref(L, LUA_REGISTRYINDEX);
  lp->LC = lua_newthread(L);
  moonlet__ref(L, lp);
  lp->pool = lua_newthread(L);
  moonlet__ref(L, lp);
  lua_newtable(L);
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "k");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  lp->failed_ref = moonlet__ref(L, lp);
  return lp;
}

int luaopen_moonlet_core(lua_State *L) {
  static const luaL_Reg funcs[] = {{"stats", l_stats},
                                   {"_join", l_join},
                                   {"_context", l_context},
                                   {"_error", l_error}, {"_fail", l_fail},
                                   {"_shield", l_shield},
                                   {"_handles", l_handles},
                                   {"_fd_limit", l_fd_limit},
                                   {"_fds_exhausted", l_fds_exhausted},
                                   {NULL, NULL}};
  moonlet_loop *lp = get_loop(L);
  lua_newtable(L);
  moonlet__setfuncs(L, lp, funcs);
  lua_pushliteral(L, MOONLET_VERSION_STRING);
  lua_setfield(L, -2, "_version");
  moonlet__open_errors(L, lp);
  moonlet__open_future(L, lp);
  moonlet__open_task(L, lp);
  moonlet__open_timer(L, lp);
  moonlet__open_callback(L, lp);
  moonlet__open_channel(L, lp);
  moonlet__open_context(L, lp);
  moonlet__open_poll(L, lp);
  moonlet__open_watchdog(L, lp);
  moonlet__open_fs(L, lp);
  moonlet__open_stream(L, lp);
  moonlet__open_dns(L, lp);
  moonlet__open_process(L, lp);
  moonlet__open_signal(L, lp);
  moonlet__open_udp(L, lp);
  moonlet__open_offload(L, lp);
  moonlet__open_http_headers(L, lp);
  moonlet__open_http_parse(L, lp);
  moonlet__open_http_head(L, lp);
  moonlet__open_http(L, lp);
  return 1;
}
