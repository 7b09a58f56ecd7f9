/*
 * test-embed.c - the embedding API (moonlet.h) from a C host: moonlet's own
 * loop and a host's loop, C functions that block, futures resolved from
 * other threads, posting, two instances at once, closing with tasks left.
 * Every test runs with the fast path and with native switching forced.
 */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "moonlet.h"
#include "runner.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

static lua_State *new_state(uv_loop_t *host) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  if (moonlet_open(L, host) != MOONLET_OK) {
    fprintf(stderr, "# moonlet_open: %s\n", lua_tostring(L, -1));
    exit(1);
  }
  return L;
}

/* Runs chunk in L; its results stay on the stack. */
static void run_lua(lua_State *L, const char *chunk) {
  if (luaL_dostring(L, chunk) != LUA_OK) {
    fprintf(stderr, "# lua: %s\n", lua_tostring(L, -1));
    exit(1);
  }
}

static lua_Integer global_int(lua_State *L, const char *name) {
  lua_Integer v;
  lua_getglobal(L, name);
  v = lua_tointeger(L, -1);
  lua_pop(L, 1);
  return v;
}

/* c_sleepy(tag, n): sleeps n times 1 ms from C, appending tag to the global
 * log each time, with a local buffer that must survive every switch. */
static int c_sleepy(lua_State *L) {
  const char *tag = luaL_checkstring(L, 1);
  int n = (int)luaL_checkinteger(L, 2), i;
  char local[256];
  memset(local, tag[0], sizeof local);
  for (i = 0; i < n; i++) {
    int r = moonlet_sleep(L, 0.001);
    size_t k;
    if (r == MOONLET_ECANCELLED) {
      lua_pushliteral(L, "cancelled");
      return 1;
    }
    if (r != MOONLET_OK) return luaL_error(L, "moonlet_sleep: %d", r);
    for (k = 0; k < sizeof local; k++)
      if (local[k] != tag[0]) return luaL_error(L, "local buffer changed");
    lua_getglobal(L, "log");
    lua_pushstring(L, tag);
    lua_concat(L, 2);
    lua_setglobal(L, "log");
  }
  lua_pushliteral(L, "done");
  return 1;
}

/* c_await(x): moonlet_await on a future, task or channel, from C. */
static int c_await(lua_State *L) {
  int base = lua_gettop(L), r = moonlet_await(L, 1);
  if (r == MOONLET_ERROR) return lua_error(L);
  if (r < 0) return luaL_error(L, "moonlet_await: %d", r);
  return lua_gettop(L) - base;
}

static void register_c(lua_State *L) {
  lua_register(L, "c_sleepy", c_sleepy);
  lua_register(L, "c_await", c_await);
}

static void both_modes(void (*body)(void)) {
  setenv("MOONLET_FORCE_NATIVE", "0", 1);
  body();
  setenv("MOONLET_FORCE_NATIVE", "1", 1);
  body();
}

/* --- own loop ------------------------------------------------------------ */

static void own_loop(void) {
  lua_State *L = new_state(NULL);
  register_c(L);
  run_lua(L, "log = ''");
  run_lua(L, "return function(tag) return c_sleepy(tag, 3) end");
  lua_pushvalue(L, -1);
  lua_pushliteral(L, "a");
  ASSERT_EQ(moonlet_spawn(L, 1), MOONLET_OK);
  lua_insert(L, -2);
  lua_pushliteral(L, "b");
  ASSERT_EQ(moonlet_spawn(L, 1), MOONLET_OK);
  ASSERT_EQ(moonlet_run(L, -1), MOONLET_OK);
  ASSERT_EQ(moonlet_run(L, 0), MOONLET_OK);
  lua_getfield(L, -1, "result");
  lua_pushvalue(L, -2);
  lua_call(L, 1, 1);
  ASSERT(strcmp(lua_tostring(L, -1), "done") == 0);
  lua_getglobal(L, "log");
  ASSERT(strcmp(lua_tostring(L, -1), "ababab") == 0); /* interleaved */
  moonlet_close(L);
  lua_close(L);
}

TEST_IMPL(embed_own_loop) {
  both_modes(own_loop);
  return 0;
}

/* --- host loop ----------------------------------------------------------- */

static int host_ticks;
static void on_host_tick(uv_timer_t *t) {
  if (++host_ticks == 5) uv_timer_stop(t);
}

static void host_loop(void) {
  uv_loop_t host;
  uv_timer_t tick;
  lua_State *L;
  ASSERT_EQ(uv_loop_init(&host), 0);
  uv_timer_init(&host, &tick);
  host_ticks = 0;
  uv_timer_start(&tick, on_host_tick, 1, 1);
  L = new_state(&host);
  register_c(L);
  run_lua(L, "log = ''\n"
             "local m = require 'moonlet'\n"
             "for _, tag in ipairs{'x', 'y'} do m.spawn(c_sleepy, tag, 4) end\n"
             "m.spawn(function() m.sleep(0.02); finished = 1 end)");
  /* The host drives: its loop runs until neither its timer nor moonlet's
   * tasks have anything left to do. */
  uv_run(&host, UV_RUN_DEFAULT);
  ASSERT_EQ(global_int(L, "finished"), 1);
  ASSERT_EQ(host_ticks, 5);
  lua_getglobal(L, "log");
  ASSERT_EQ(lua_rawlen(L, -1), 8);
  lua_pop(L, 1);
  /* moonlet_run drives the host loop too. */
  run_lua(L, "return require('moonlet').spawn(function() return c_sleepy('z', 2) end)");
  ASSERT_EQ(moonlet_run(L, -1), MOONLET_OK);
  moonlet_close(L);
  uv_close((uv_handle_t *)&tick, NULL);
  uv_run(&host, UV_RUN_DEFAULT);
  ASSERT_EQ(uv_loop_close(&host), 0); /* nothing of moonlet's is left */
  lua_close(L);
}

TEST_IMPL(embed_host_loop) {
  both_modes(host_loop);
  return 0;
}

/* --- blocking from C: awaiting, cancelling, where it cannot -------------- */

static void blocking(void) {
  lua_State *L = new_state(NULL);
  register_c(L);
  run_lua(L,
    "local m = require 'moonlet'\n"
    "log = ''\n"
    "local f = m.future()\n"
    "local ch = m.channel()\n"
    "local t = m.spawn(function() return c_await(f) end)\n"
    "local t2 = m.spawn(function() return c_await(ch), c_await(ch) end)\n"
    "local t3 = m.spawn(function() return c_await(m.spawn(function() return 7, 8 end)) end)\n"
    "m.sleep(0.01)\n"
    "f:set_result('r1', 'r2')\n"
    "ch:send('v1'); ch:close()\n"
    "local a, b = t:await()\n"
    "assert(a == 'r1' and b == 'r2', 'future results')\n"
    "local x, y = t2:await()\n"
    "assert(x == 'v1' and y == nil, 'channel values')\n"
    "local p, q = t3:await()\n"
    "assert(p == 7 and q == 8, 'task results')\n"
    "local bad = m.future()\n"
    "local t4 = m.spawn(function() return c_await(bad) end)\n"
    "m.yield(); bad:set_error('boom')\n"
    "local ok, err = pcall(t4.await, t4)\n"
    "assert(not ok and tostring(err):find('boom'), 'error through moonlet_await')\n"
    "local t5 = m.spawn(function() local r = c_sleepy('c', 1000); m.sleep(1); return r end)\n"
    "m.sleep(0.01); t5:cancel()\n"
    "local ok5, e5 = pcall(t5.await, t5)\n"
    "assert(not ok5 and t5:cancelled(), 'cancelled in C: ' .. tostring(e5))\n"
    "assert(c_sleepy('m', 2) == 'done', 'main chunk drives the loop')\n"
    "m.on_error(function(e) cb_error = tostring(e) end)\n"
    "m.call_soon(function() result_cb = c_sleepy('k', 1) end)\n"
    "m.sleep(0.01)\n"
    "assert(cb_error:find('moonlet_sleep: %-3'), cb_error)\n");
  /* in a callback, moonlet_sleep refused: c_sleepy raised, reported */
  lua_getglobal(L, "result_cb");
  ASSERT(lua_isnil(L, -1));
  lua_pop(L, 1);
  moonlet_close(L);
  /* after close: no loop to block on */
  ASSERT_EQ(moonlet_sleep(L, 0.01), MOONLET_ENOTASK);
  lua_close(L);
}

TEST_IMPL(embed_blocking_calls) {
  both_modes(blocking);
  return 0;
}

TEST_IMPL(embed_not_opened) {
  lua_State *L = luaL_newstate();
  ASSERT_EQ(moonlet_sleep(L, 0.01), MOONLET_ENOTASK);
  lua_pushnil(L);
  ASSERT_EQ(moonlet_await(L, -1), MOONLET_ENOTASK);
  ASSERT_EQ(moonlet_run(L, 0), MOONLET_ECLOSED);
  ASSERT(moonlet_remote_get(L) == NULL);
  ASSERT(moonlet_future_new(L) == NULL);
  lua_close(L);
  return 0;
}

/* --- other threads ------------------------------------------------------- */

#define THREADS 8
#define PER_THREAD 10000

typedef struct {
  moonlet_future_ref **refs;
  int first, n;
} resolver;

static void *resolve_some(void *arg) {
  resolver *r = arg;
  int i;
  for (i = 0; i < r->n; i++) {
    int k = r->first + i;
    moonlet_value key = {.type = LUA_TSTRING, .v.s = "k", .len = 1};
    moonlet_value val = {.type = LUA_TNUMBER, .is_int = 1, .v.i = k};
    moonlet_table t = {1, &key, &val};
    moonlet_value v[2] = {{.type = LUA_TNUMBER, .is_int = 1, .v.i = k},
                          {.type = LUA_TTABLE, .v.t = &t}};
    if (k % 1000 == 999)
      ASSERT_EQ(moonlet_future_fail_threadsafe(r->refs[k], "failed on purpose"), MOONLET_OK);
    else
      ASSERT_EQ(moonlet_future_resolve_threadsafe(r->refs[k], 2, v), MOONLET_OK);
  }
  return NULL;
}

static void threadsafe(void) {
  lua_State *L = new_state(NULL);
  moonlet_future_ref **refs = malloc(sizeof *refs * THREADS * PER_THREAD);
  pthread_t th[THREADS];
  resolver rs[THREADS];
  int i;
  lua_createtable(L, THREADS * PER_THREAD, 0);
  for (i = 0; i < THREADS * PER_THREAD; i++) {
    ASSERT((refs[i] = moonlet_future_new(L)) != NULL);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setglobal(L, "futures");
  for (i = 0; i < THREADS; i++) {
    rs[i].refs = refs;
    rs[i].first = i * PER_THREAD;
    rs[i].n = PER_THREAD;
    ASSERT_EQ(pthread_create(&th[i], NULL, resolve_some, &rs[i]), 0);
  }
  run_lua(L,
    "local m = require 'moonlet'\n"
    "sum, failed = 0, 0\n"
    "local t = m.spawn(function()\n"
    "  for i, f in ipairs(futures) do\n"
    "    local ok, v, tbl = pcall(f.await, f)\n"
    "    if ok then assert(v == i - 1 and tbl.k == v); sum = sum + v\n"
    "    else assert(tostring(v):find('failed on purpose')); failed = failed + 1 end\n"
    "  end\n"
    "end)\n"
    "t:await()\n");
  for (i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
  ASSERT_EQ(global_int(L, "failed"), THREADS * PER_THREAD / 1000);
  {
    lua_Integer n = THREADS * PER_THREAD, expect = n * (n - 1) / 2, k;
    for (k = 999; k < n; k += 1000) expect -= k;
    ASSERT_EQ(global_int(L, "sum"), expect);
  }
  free(refs);
  moonlet_close(L);
  lua_close(L);
}

TEST_IMPL(embed_threadsafe_futures) {
  both_modes(threadsafe);
  return 0;
}

static void bump(lua_State *L, void *data) {
  (void)data;
  lua_getglobal(L, "posted");
  lua_pushinteger(L, lua_tointeger(L, -1) + 1);
  lua_setglobal(L, "posted");
  lua_pop(L, 1);
  /* posted functions may spawn, not block */
  ASSERT_EQ(moonlet_sleep(L, 0.001), MOONLET_ENOTASK);
  run_lua(L, "require('moonlet').spawn(function() spawned = (spawned or 0) + 1 end)");
}

static void *post_many(void *arg) {
  int i;
  for (i = 0; i < 1000; i++) ASSERT_EQ(moonlet_post(arg, bump, NULL), MOONLET_OK);
  return NULL;
}

static void posting(void) {
  lua_State *L = new_state(NULL);
  moonlet_remote *r = moonlet_remote_get(L);
  pthread_t th;
  moonlet_future_ref *done;
  ASSERT(r != NULL);
  ASSERT_EQ(pthread_create(&th, NULL, post_many, r), 0);
  pthread_join(th, NULL);
  done = moonlet_future_new(L); /* resolved below, after the posts */
  moonlet_future_resolve_threadsafe(done, 0, NULL);
  ASSERT_EQ(moonlet_run(L, -1), MOONLET_OK);
  run_lua(L, "require('moonlet').sleep(0.01)");
  ASSERT_EQ(global_int(L, "posted"), 1000);
  ASSERT_EQ(global_int(L, "spawned"), 1000);
  moonlet_close(L);
  ASSERT_EQ(moonlet_post(r, bump, NULL), MOONLET_ECLOSED); /* still a valid handle */
  moonlet_remote_release(r);
  lua_close(L);
}

static void open_gate(lua_State *L, void *data) {
  (void)data;
  run_lua(L, "gate:set_result('opened')");
}

static void *post_later(void *arg) {
  usleep(30000);
  ASSERT_EQ(moonlet_post(arg, open_gate, NULL), MOONLET_OK);
  moonlet_remote_release(arg);
  return NULL;
}

/* A held remote keeps the loop alive: a task waiting for what another
 * thread will post is not a deadlock. Posts run on moonlet_step, and
 * posts queued when the instance closes still run. */
static void posting_liveness(void) {
  lua_State *L = new_state(NULL);
  moonlet_remote *r = moonlet_remote_get(L);
  pthread_t th;
  run_lua(L, "local m = require 'moonlet'\n"
             "gate = m.future()\n"
             "return m.spawn(function() return gate:await() end)");
  ASSERT_EQ(pthread_create(&th, NULL, post_later, r), 0);
  ASSERT_EQ(moonlet_run(L, -1), MOONLET_OK);
  pthread_join(th, NULL);
  lua_getfield(L, -1, "result");
  lua_pushvalue(L, -2);
  lua_call(L, 1, 1);
  ASSERT(strcmp(lua_tostring(L, -1), "opened") == 0);
  lua_settop(L, 0);
  /* released: nothing keeps the loop alive any more */
  run_lua(L, "return require('moonlet').spawn(function() return require('moonlet').future():await() end)");
  ASSERT_EQ(moonlet_run(L, -1), MOONLET_ERROR); /* a real deadlock */
  lua_settop(L, 0);
  r = moonlet_remote_get(L);
  ASSERT_EQ(moonlet_post(r, bump, NULL), MOONLET_OK);
  moonlet_step(L);
  ASSERT_EQ(global_int(L, "posted"), 1);
  ASSERT_EQ(moonlet_post(r, bump, NULL), MOONLET_OK);
  moonlet_close(L);
  ASSERT_EQ(global_int(L, "posted"), 2); /* ran at the close */
  moonlet_remote_release(r);
  lua_close(L);
}

TEST_IMPL(embed_post_from_threads) {
  both_modes(posting);
  both_modes(posting_liveness);
  return 0;
}

/* --- two instances on two threads ---------------------------------------- */

static void *instance(void *arg) {
  lua_State *L = new_state(NULL);
  register_c(L);
  run_lua(L,
    "local m = require 'moonlet'\n"
    "log = ''\n"
    "local ch = m.channel(10)\n"
    "local ts = {}\n"
    "for i = 1, 200 do ts[i] = m.spawn(function() m.sleep(0.001 * (i % 7)); ch:send(i) end) end\n"
    "local sum = 0\n"
    "for _ = 1, 200 do sum = sum + ch:recv() end\n"
    "assert(sum == 200 * 201 / 2)\n"
    "assert(m.spawn(c_sleepy, 'q', 20):await() == 'done')\n"
    "total = sum\n");
  *(lua_Integer *)arg = global_int(L, "total");
  moonlet_close(L);
  lua_close(L);
  return NULL;
}

static void two_instances(void) {
  pthread_t a, b;
  lua_Integer ra = 0, rb = 0;
  ASSERT_EQ(pthread_create(&a, NULL, instance, &ra), 0);
  ASSERT_EQ(pthread_create(&b, NULL, instance, &rb), 0);
  pthread_join(a, NULL);
  pthread_join(b, NULL);
  ASSERT_EQ(ra, 20100);
  ASSERT_EQ(rb, 20100);
}

TEST_IMPL(embed_two_instances) {
  both_modes(two_instances);
  return 0;
}

/* --- closing from inside ------------------------------------------------- */

static int c_close(lua_State *L) {
  lua_pushinteger(L, moonlet_close(L));
  return 1;
}

/* moonlet_close from a C function a task or a callback called is refused
 * (the task goes on, nothing is closed); from the host it then works and
 * every task's cleanup runs. */
static void close_from_inside(void) {
  lua_State *L = new_state(NULL);
  lua_register(L, "c_close", c_close);
  run_lua(L, "local m = require 'moonlet'\n"
             "cleaned = 0\n"
             "from_task = m.spawn(function() local r = c_close(); m.sleep(0.001); return r end):await()\n"
             "local f = m.future()\n"
             "m.call_soon(function() f:set_result(c_close()) end)\n"
             "from_callback = f:await()\n"
             "m.spawn(function()\n"
             "  local _ <close> = setmetatable({}, {__close = function() cleaned = cleaned + 1 end})\n"
             "  m.sleep(3600)\n"
             "end)\n"
             "m.sleep(0.001)");
  ASSERT_EQ(global_int(L, "from_task"), MOONLET_EBUSY);
  ASSERT_EQ(global_int(L, "from_callback"), MOONLET_EBUSY);
  ASSERT_EQ(global_int(L, "cleaned"), 0);
  ASSERT_EQ(moonlet_close(L), MOONLET_OK);
  ASSERT_EQ(global_int(L, "cleaned"), 1);
  ASSERT_EQ(moonlet_close(L), MOONLET_OK); /* twice is harmless */
  lua_close(L);
}

TEST_IMPL(embed_close_from_inside) {
  both_modes(close_from_inside);
  return 0;
}

/* --- errors a host sees -------------------------------------------------- */

static int host_reports;
static char host_report[512];
static void on_host_error(const char *where, const char *message,
                          const char *traceback, void *ud) {
  ASSERT(ud == &host_reports);
  ASSERT(traceback != NULL);
  host_reports++;
  snprintf(host_report, sizeof host_report, "%s: %s", where, message);
}

/* A task that failed and that nobody awaited reaches the host's hook at
 * the end of moonlet_run(L, 0), although Lua code still holds it (the
 * collector would report it only once it is dropped), and only once. */
static void errors_seen(void) {
  lua_State *L = new_state(NULL);
  host_reports = 0;
  ASSERT_EQ(moonlet_on_error(L, on_host_error, &host_reports), MOONLET_OK);
  run_lua(L, "local m = require 'moonlet'\n"
             "kept = m.spawn(function() m.sleep(0.001); error('boom', 0) end)\n"
             "kept:set_name('worker')\n"
             "local seen = m.spawn(function() error('seen', 0) end)\n"
             "m.spawn(function() pcall(seen.await, seen) end)");
  ASSERT_EQ(moonlet_run(L, 0), MOONLET_OK);
  ASSERT_EQ(host_reports, 1); /* not the awaited one */
  ASSERT(strstr(host_report, "task 'worker' failed and nobody awaited it: boom") != NULL);
  run_lua(L, "kept = nil collectgarbage() collectgarbage()");
  ASSERT_EQ(host_reports, 1);
  moonlet_close(L);
  ASSERT_EQ(host_reports, 1);
  lua_close(L);
}

TEST_IMPL(embed_errors_seen) {
  both_modes(errors_seen);
  return 0;
}

/* --- hosts on another event loop; tasks from C ---------------------------- */

/* A host whose own loop is poll(2): it waits on moonlet's backend
 * descriptor with moonlet's timeout, then steps moonlet. */
static void poll_host(void) {
  lua_State *L = new_state(NULL);
  int polls = 0;
  run_lua(L, "local m = require 'moonlet'\n"
             "log = ''\n"
             "for i = 1, 3 do m.spawn(function() m.sleep(0.01 * i); log = log .. i end) end\n"
             "m.call_later(0.015, function() log = log .. 'c' end)");
  while (moonlet_step(L) > 0) {
    struct pollfd p = {.fd = moonlet_backend_fd(L), .events = POLLIN};
    int timeout = moonlet_backend_timeout(L);
    ASSERT(p.fd >= 0);
    ASSERT(timeout >= -1 && timeout <= 30);
    poll(&p, 1, timeout);
    polls++;
  }
  lua_getglobal(L, "log");
  ASSERT_EQ(lua_rawlen(L, -1), 4); /* every task and the callback ran */
  ASSERT(strchr(lua_tostring(L, -1), 'c') != NULL);
  lua_pop(L, 1);
  /* It waited rather than spun (how many polls depends on speed: under
   * Valgrind every deadline may have passed before the first). */
  ASSERT(polls >= 1 && polls < 1000);
  moonlet_close(L);
  lua_close(L);
}

static void tasks_from_c(void) {
  lua_State *L = new_state(NULL);
  run_lua(L, "local m = require 'moonlet'\n"
             "return m.spawn(function() m.sleep(0.005); return 1, 'two' end),\n"
             "       m.spawn(function() error('bad', 0) end),\n"
             "       m.spawn(function() m.sleep(3600) end)");
  ASSERT(strcmp(moonlet_status(L, 1), "pending") == 0);
  ASSERT(moonlet_status(L, 4) == NULL); /* nothing there */
  ASSERT_EQ(moonlet_result(L, 1), MOONLET_ENOTASK);
  ASSERT_EQ(moonlet_cancel(L, 3), 1);
  while (moonlet_turn(L) > 0) {} /* waits, turn by turn, until all ended */
  ASSERT(strcmp(moonlet_status(L, 1), "done") == 0);
  ASSERT(strcmp(moonlet_status(L, 2), "failed") == 0);
  ASSERT(strcmp(moonlet_status(L, 3), "cancelled") == 0);
  ASSERT_EQ(moonlet_result(L, 1), 2);
  ASSERT_EQ(lua_tointeger(L, -2), 1);
  ASSERT(strcmp(lua_tostring(L, -1), "two") == 0);
  lua_pop(L, 2);
  ASSERT_EQ(moonlet_result(L, 2), MOONLET_ERROR);
  ASSERT(strcmp(lua_tostring(L, -1), "bad") == 0);
  lua_pop(L, 1);
  ASSERT_EQ(moonlet_cancel(L, 1), 0);
  lua_pushinteger(L, 5);
  ASSERT_EQ(moonlet_cancel(L, -1), MOONLET_ERROR);
  lua_settop(L, 0);
  moonlet_close(L);
  lua_close(L);
}

TEST_IMPL(embed_other_loops) {
  both_modes(poll_host);
  both_modes(tasks_from_c);
  return 0;
}

/* --- a host loop with nothing of its own --------------------------------- */

/* The README's pattern: moonlet_open on the host's loop, a config that
 * spawns tasks and timers, then uv_run. The host has no handle of its own,
 * so only moonlet's work may keep its loop running, until all of it ends;
 * work added between runs runs on the next. */
static void bare_host_loop(void) {
  uv_loop_t host;
  lua_State *L;
  ASSERT_EQ(uv_loop_init(&host), 0);
  L = new_state(&host);
  run_lua(L, "local m = require 'moonlet'\n"
             "steps = 0\n"
             "m.spawn(function() m.sleep(0.02); steps = steps + 1 end)\n"
             "m.spawn(function() for _ = 1, 3 do m.yield() end; steps = steps + 1 end)\n"
             "m.call_later(0.03, function() steps = steps + 1 end)");
  uv_run(&host, UV_RUN_DEFAULT);
  ASSERT_EQ(global_int(L, "steps"), 3);
  run_lua(L, "local m = require 'moonlet'\n"
             "m.call_later(0.01, function() steps = steps + 10 end)");
  uv_run(&host, UV_RUN_DEFAULT);
  ASSERT_EQ(global_int(L, "steps"), 13);
  run_lua(L, "require('moonlet').spawn(function() steps = steps + 100 end)");
  uv_run(&host, UV_RUN_DEFAULT);
  ASSERT_EQ(global_int(L, "steps"), 113);
  moonlet_close(L);
  uv_run(&host, UV_RUN_DEFAULT);
  ASSERT_EQ(uv_loop_close(&host), 0);
  lua_close(L);
}

/* lua_close alone closes moonlet on a host loop as cleanly as
 * moonlet_close: the host's loop can be closed right after. */
static void lua_close_on_host(void) {
  uv_loop_t host;
  lua_State *L;
  ASSERT_EQ(uv_loop_init(&host), 0);
  L = new_state(&host);
  run_lua(L, "local m = require 'moonlet'\n"
             "m.spawn(function() m.sleep(3600) end)\n"
             "m.tcp.listen('127.0.0.1', 0, function() end)");
  uv_run(&host, UV_RUN_NOWAIT);
  lua_close(L);
  ASSERT_EQ(uv_loop_close(&host), 0);
}

TEST_IMPL(embed_bare_host_loop) {
  both_modes(bare_host_loop);
  both_modes(lua_close_on_host);
  return 0;
}

/* --- SIGPIPE ------------------------------------------------------------- */

/* Each test runs in a process of its own, so each sees moonlet's first
 * open in the process. */

static int host_sigpipes;
static void on_host_sigpipe(int sig) { (void)sig; host_sigpipes++; }

static void (*sigpipe_handler(void))(int) {
  struct sigaction sa;
  sigaction(SIGPIPE, NULL, &sa);
  return sa.sa_handler;
}

/* A host with the default disposition: moonlet ignores SIGPIPE, so a write
 * to a closed peer fails with EPIPE instead of killing the host. */
TEST_IMPL(embed_sigpipe_ignored) {
  lua_State *L;
  signal(SIGPIPE, SIG_DFL);
  L = new_state(NULL);
  ASSERT(sigpipe_handler() == SIG_IGN);
  run_lua(L, "local m = require 'moonlet'\n"
             "local path = os.tmpname() .. '.sock'\n"
             "local srv = m.pipe.listen(path, function(c) c:close() end)\n"
             "local c = m.pipe.connect(path)\n"
             "m.sleep(0.05)\n"
             "for _ = 1, 50 do\n"
             "  local ok, _, code = c:write(('x'):rep(65536))\n"
             "  if not ok then write_error = code break end\n"
             "end\n"
             "c:close() srv:close() os.remove(path)");
  lua_getglobal(L, "write_error");
  ASSERT(strcmp(luaL_optstring(L, -1, "none"), "EPIPE") == 0);
  moonlet_close(L);
  lua_close(L);
  return 0;
}

/* A host that handles SIGPIPE itself keeps its handler. */
TEST_IMPL(embed_sigpipe_host_handler) {
  lua_State *L;
  signal(SIGPIPE, on_host_sigpipe);
  L = new_state(NULL);
  ASSERT(sigpipe_handler() == on_host_sigpipe);
  moonlet_close(L);
  lua_close(L);
  signal(SIGPIPE, SIG_DFL);
  return 0;
}

/* --- closing with tasks left --------------------------------------------- */

static void close_pending(void) {
  uv_loop_t host;
  lua_State *L;
  moonlet_future_ref *late;
  moonlet_remote *r;
  ASSERT_EQ(uv_loop_init(&host), 0);
  L = new_state(&host);
  register_c(L);
  run_lua(L,
    "local m = require 'moonlet'\n"
    "cleaned = 0\n"
    "for i = 1, 10 do m.spawn(function()\n"
    "  local ok, err = pcall(m.sleep, 3600)\n"
    "  cleaned = cleaned + 1\n"
    "  error(err, 0)\n"
    "end) end\n"
    "m.spawn(c_sleepy, 'n', 1000000)\n"
    "server = m.tcp.listen('127.0.0.1', 0, function(s) s:read('a') end)\n");
  late = moonlet_future_new(L);
  lua_pop(L, 1);
  r = moonlet_remote_get(L);
  ASSERT(moonlet_step(L) >= 11);
  moonlet_close(L);
  ASSERT_EQ(global_int(L, "cleaned"), 10);
  ASSERT_EQ(moonlet_future_resolve_threadsafe(late, 0, NULL), MOONLET_ECLOSED);
  ASSERT_EQ(moonlet_post(r, bump, NULL), MOONLET_ECLOSED);
  moonlet_remote_release(r);
  ASSERT_EQ(uv_loop_close(&host), 0);
  moonlet_close(L); /* twice is harmless */
  lua_close(L);
}

TEST_IMPL(embed_close_with_tasks_left) {
  both_modes(close_pending);
  return 0;
}

/* --- running out of memory ---------------------------------------------- */

/* An allocator that fails allocation number fail_at and the one after it
 * (Lua retries once after an emergency collection). */
static long allocs, fail_at;

static void *failing_alloc(void *ud, void *p, size_t osize, size_t nsize) {
  (void)ud;
  (void)osize;
  if (nsize == 0) {
    free(p);
    return NULL;
  }
  allocs++;
  if (fail_at > 0 && (allocs == fail_at || allocs == fail_at + 1)) return NULL;
  return realloc(p, nsize);
}

/* c_thread_future(): a future another thread resolves with a number and a
 * table (so the loop allocates to take them). */
static void *resolve_later(void *arg) {
  moonlet_value key = {.type = LUA_TSTRING, .v.s = "k", .len = 1};
  moonlet_value val = {.type = LUA_TNUMBER, .is_int = 1, .v.i = 2};
  moonlet_table t = {1, &key, &val};
  moonlet_value v[2] = {{.type = LUA_TNUMBER, .is_int = 1, .v.i = 1},
                        {.type = LUA_TTABLE, .v.t = &t}};
  moonlet_future_resolve_threadsafe(arg, 2, v);
  return NULL;
}

static int c_thread_future(lua_State *L) {
  moonlet_future_ref *f = moonlet_future_new(L);
  pthread_t th;
  ASSERT_EQ(pthread_create(&th, NULL, resolve_later, f), 0);
  pthread_detach(th);
  return 1;
}

/* Ends tasks every way finish knows, with memory for it or without:
 * several results, errors with tracebacks, cancelled before and after
 * starting, done-callbacks, enough tasks to grow the thread pool, and a
 * suspension inside table.sort (native); then takes a future's values
 * from another thread and serves connections. */
static const char oom_workload[] =
  "local m = require 'moonlet'\n"
  "local ts = {}\n"
  "for i = 1, 80 do ts[i] = m.spawn(function(x)\n"
  "  m.sleep(0)\n"
  "  if x % 4 == 0 then error('boom ' .. x) end\n"
  "  if x % 4 == 1 then return x, x + 1, 'three' end\n"
  "  return x\n"
  "end, i) end\n"
  "ts[81] = m.spawn(function() end)\n"
  "ts[81]:cancel('before it ran')\n"
  "ts[82] = m.spawn(m.sleep, 10)\n"
  "ts[83] = m.spawn(function()\n"
  "  local t = {3, 1, 2}\n"
  "  table.sort(t, function(a, b) m.yield() return a < b end)\n"
  "  return t[1], t[3]\n"
  "end)\n"
  "ts[83]:on_done(function() end)\n"
  "m.yield()\n"
  "ts[82]:cancel()\n"
  "for _, t in ipairs(ts) do pcall(t.await, t) end\n"
  "pcall(m.wait_for, c_thread_future(), 0.5)\n"
  "server = m.tcp.listen('127.0.0.1', 0, function(s)\n"
  "  local line = s:read('l') if line then s:write(line .. '\\n') end\n"
  "end)\n"
  "for i = 1, 2 do\n"
  "  local c = m.tcp.connect('127.0.0.1', select(2, server:address()),\n"
  "    {timeout = 0.5})\n"
  "  c:set_timeout(0.5)\n"
  "  c:write('one\\n')\n"
  "  if i == 1 then served = c:read('l') == 'one' else c:read('l') end\n"
  "  c:close()\n"
  "end\n";

/* What must still work afterwards, with memory again. */
static const char oom_check[] =
  "local m = require 'moonlet'\n"
  "local ts = {}\n"
  "for i = 1, 3 do ts[i] = m.spawn(function(x)\n"
  "  m.sleep(0) return x * 2, 'ok'\n"
  "end, i) end\n"
  "for i = 1, 3 do\n"
  "  local a, b = ts[i]:await()\n"
  "  assert(a == i * 2 and b == 'ok')\n"
  "end\n"
  "local f = m.future()\n"
  "m.call_soon(function() f:set_result(7) end)\n"
  "assert(f:await() == 7)\n"
  "if served then\n" /* a server that served goes on serving */
  "  local c = m.tcp.connect('127.0.0.1', select(2, server:address()))\n"
  "  c:set_timeout(5)\n"
  "  c:write('two\\n')\n"
  "  assert(c:read('l') == 'two', 'the server stopped serving')\n"
  "  c:close() server:close()\n"
  "end\n";

/* Runs the workload with allocation k after its start failing (0: none);
 * returns how many allocations it made. Whatever the workload's outcome,
 * the process lives and the loop then works. */
static long oom_run(long k) {
  lua_State *L = lua_newstate(failing_alloc, NULL);
  long start;
  ASSERT(L != NULL);
  luaL_openlibs(L);
  ASSERT_EQ(moonlet_open(L, NULL), MOONLET_OK);
  run_lua(L, "require('moonlet').on_error(function() end)"); /* quiet */
  lua_register(L, "c_thread_future", c_thread_future);
  start = allocs;
  fail_at = k > 0 ? start + k : 0;
  if (luaL_dostring(L, oom_workload) != LUA_OK) lua_pop(L, 1);
  fail_at = 0;
  if (luaL_dostring(L, oom_check) != LUA_OK) {
    fprintf(stderr, "# allocation %ld failing: %s\n", k, lua_tostring(L, -1));
    exit(1);
  }
  lua_close(L);
  return allocs - start;
}

static void out_of_memory(void) {
  /* Under Valgrind every 7th allocation only, to keep the time sane; the
   * fast and the native pass start at different ones (1, then 4), so that
   * together they cover two in seven. */
  static long first = 1;
  long k, n = oom_run(0), stride = RUNNING_ON_VALGRIND ? 7 : 1;
  for (k = RUNNING_ON_VALGRIND ? first : 1; k <= n; k += stride) oom_run(k);
  first = first == 1 ? 4 : 1;
}

TEST_IMPL(embed_out_of_memory) {
  both_modes(out_of_memory);
  return 0;
}

/* --- C fibers ------------------------------------------------------------ */

/* Recurses depth frames, each with a buffer, sleeping at the bottom; every
 * buffer must be intact on the way back up. */
static int deep(lua_State *L, int depth, int tag) {
  volatile char buf[200];
  int i, r = 0;
  for (i = 0; i < (int)sizeof buf; i++) buf[i] = (char)(tag + depth + i);
  if (depth == 0) {
    for (i = 0; i < 3; i++) ASSERT_EQ(moonlet_sleep(L, 0.001), MOONLET_OK);
  } else {
    r = deep(L, depth - 1, tag);
  }
  for (i = 0; i < (int)sizeof buf; i++)
    if (buf[i] != (char)(tag + depth + i)) return -1;
  return r;
}

typedef struct {
  char *slot;              /* a fiber's local, written by the thread */
  moonlet_future_ref *done;
} writer_job;

static void *writer(void *arg) {
  writer_job *j = arg;
  usleep(20000); /* while the fiber is suspended and others use the stack */
  strcpy(j->slot, "written by a thread");
  moonlet_future_resolve_threadsafe(j->done, 0, NULL);
  return NULL;
}

/* A fiber: recursion with blocking at the bottom, then a local handed to
 * another thread while it waits. */
static int fiber_fn(lua_State *L, void *arg) {
  int tag = (int)(intptr_t)arg;
  char local[64] = "untouched";
  writer_job j;
  pthread_t th;
  ASSERT_EQ(deep(L, 150, tag), 0);
  j.slot = local;
  j.done = moonlet_future_new(L);
  ASSERT_EQ(pthread_create(&th, NULL, writer, &j), 0);
  ASSERT_EQ(moonlet_await(L, -1), 0);
  pthread_join(th, NULL);
  ASSERT(strcmp(local, "written by a thread") == 0);
  lua_pushinteger(L, tag);
  lua_pushstring(L, local);
  return 2;
}

static int failing_fiber(lua_State *L, void *arg) {
  (void)arg;
  ASSERT_EQ(moonlet_sleep(L, 0.001), MOONLET_OK);
  return luaL_error(L, "fiber failed on purpose");
}

static void fibers(void) {
  lua_State *L = new_state(NULL);
  int i;
  register_c(L);
  run_lua(L, "log = ''");
  lua_createtable(L, 4, 0);
  for (i = 1; i <= 4; i++) {
    ASSERT_EQ(moonlet_fiber_spawn(L, fiber_fn, (void *)(intptr_t)i, i == 1 ? 0 : 160 * 1024),
              MOONLET_OK);
    lua_rawseti(L, -2, i);
  }
  lua_setglobal(L, "fibers");
  ASSERT_EQ(moonlet_fiber_spawn(L, failing_fiber, NULL, 0), MOONLET_OK);
  lua_setglobal(L, "failing");
  /* ordinary tasks blocking natively on the shared stack meanwhile */
  run_lua(L,
    "local m = require 'moonlet'\n"
    "local others = {}\n"
    "for i = 1, 4 do others[i] = m.spawn(c_sleepy, 's', 20) end\n"
    "for i, f in ipairs(fibers) do\n"
    "  local tag, text = f:await()\n"
    "  assert(tag == i and text == 'written by a thread', 'fiber ' .. i)\n"
    "end\n"
    "for _, t in ipairs(others) do assert(t:await() == 'done') end\n"
    "local ok, err = pcall(failing.await, failing)\n"
    "assert(not ok and tostring(err):find('fiber failed on purpose'), tostring(err))\n");
  moonlet_close(L);
  lua_close(L);
}

TEST_IMPL(embed_fibers) {
  both_modes(fibers);
  return 0;
}

static int recurse_forever(lua_State *L, void *arg) {
  volatile char buf[1024];
  buf[0] = (char)(intptr_t)arg;
  if (lua_gettop(L) >= 0) recurse_forever(L, (void *)(intptr_t)(buf[0] + 1));
  return buf[0];
}

/* A fiber that overflows its stack hits the guard: the process dies with
 * SIGABRT after naming the overflow (in a child process of its own). */
TEST_IMPL(embed_fiber_overflow) {
  int fds[2], status;
  char out[512] = {0};
  ssize_t n;
  pid_t pid;
  if (RUNNING_ON_VALGRIND) return 0; /* Valgrind runs signal handlers its own way */
  ASSERT_EQ(pipe(fds), 0);
  pid = fork();
  ASSERT(pid >= 0);
  if (pid == 0) {
    lua_State *L;
    dup2(fds[1], 2);
    L = new_state(NULL);
    moonlet_fiber_spawn(L, recurse_forever, NULL, 64 * 1024);
    moonlet_run(L, -1);
    _exit(0); /* not reached */
  }
  close(fds[1]);
  n = read(fds[0], out, sizeof out - 1);
  waitpid(pid, &status, 0);
  ASSERT(n > 0);
  ASSERT(strstr(out, "stack overflow") != NULL);
  ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
  return 0;
}
