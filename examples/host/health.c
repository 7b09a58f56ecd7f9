/*
 * health.c - a service health checker that embeds moonlet: the checks are
 * Lua functions in a configuration file (checks.lua) that use moonlet.tcp,
 * moonlet.http and moonlet.process; the host runs them concurrently on its
 * own libuv loop, beside its own C timer, with at most SLOTS at a time,
 * and prints a status table.
 *
 * What it shows of moonlet.h:
 *   moonlet_open on the host's loop, which the host drives with uv_run;
 *   host.wait_slot(), a C function that blocks the calling task with
 *     moonlet_await until a slot is free (no continuation function);
 *   host.checksum(s), computed by a worker pthread that resolves a future
 *     with moonlet_future_resolve_threadsafe while the task waits;
 *   moonlet_close, after which the host's uv_loop_close succeeds.
 *
 *   build/host-health [examples/host/checks.lua]
 */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "moonlet.h"

#define SLOTS 3
#define MAX_CHECKS 64

typedef struct result {
  char name[64];
  int ok;
  double ms;
  char detail[128];
} result;

static struct {
  uv_loop_t loop;
  uv_timer_t heartbeat;
  int beats;
  int free_slots;
  int waiting_ref;        /* registry ref: queue (table) of futures waiting */
  int expected, reported;
  result results[MAX_CHECKS];
} host;

/* --- slots: a C semaphore whose waiters are moonlet futures ---------------- */

/* host.wait_slot(): returns once the caller holds one of SLOTS slots. */
static int wait_slot(lua_State *L) {
  int r;
  if (host.free_slots > 0) {
    host.free_slots--;
    return 0;
  }
  lua_getglobal(L, "require");
  lua_pushliteral(L, "moonlet");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "future");
  lua_call(L, 0, 1);                      /* the future to wait on */
  lua_rawgeti(L, LUA_REGISTRYINDEX, host.waiting_ref);
  lua_pushvalue(L, -2);
  lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
  lua_pop(L, 1);
  r = moonlet_await(L, -1);               /* blocks this task, not the loop */
  if (r == MOONLET_ECANCELLED) return luaL_error(L, "cancelled while waiting for a slot");
  if (r < 0) return lua_error(L);
  return 0;
}

/* host.release_slot(): hands the slot to the first waiter, if any. */
static int release_slot(lua_State *L) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, host.waiting_ref);
  if (lua_rawlen(L, -1) == 0) {
    host.free_slots++;
    return 0;
  }
  lua_getglobal(L, "table");
  lua_getfield(L, -1, "remove");
  lua_pushvalue(L, -3);
  lua_pushinteger(L, 1);
  lua_call(L, 2, 1);
  lua_getfield(L, -1, "set_result");
  lua_insert(L, -2);
  lua_call(L, 1, 0);
  return 0;
}

/* --- a checksum computed on another thread --------------------------------- */

typedef struct job {
  char *data;
  size_t len;
  moonlet_future_ref *done;
} job;

static void *checksum_thread(void *arg) {
  job *j = arg;
  uint32_t h = 2166136261u; /* FNV-1a */
  size_t i;
  moonlet_value v;
  for (i = 0; i < j->len; i++) h = (h ^ (unsigned char)j->data[i]) * 16777619u;
  v.type = LUA_TNUMBER;
  v.is_int = 1;
  v.v.i = (lua_Integer)h;
  moonlet_future_resolve_threadsafe(j->done, 1, &v);
  free(j->data);
  free(j);
  return NULL;
}

/* host.checksum(s) -> FNV-1a of s, from a worker thread. */
static int checksum(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  job *j = malloc(sizeof *j);
  pthread_t th;
  int r;
  if (!j || !(j->data = malloc(len + 1))) return luaL_error(L, "out of memory");
  memcpy(j->data, s, len);
  j->len = len;
  j->done = moonlet_future_new(L);        /* pushed on L */
  if (pthread_create(&th, NULL, checksum_thread, j) != 0) return luaL_error(L, "no thread");
  pthread_detach(th);
  r = moonlet_await(L, -1);
  if (r < 0) return r == MOONLET_ERROR ? lua_error(L) : luaL_error(L, "cancelled");
  return 1;
}

/* --- results ----------------------------------------------------------------- */

/* host.report(name, ok, ms, detail) */
static int report(lua_State *L) {
  result *r;
  if (host.reported >= MAX_CHECKS) return 0;
  r = &host.results[host.reported++];
  snprintf(r->name, sizeof r->name, "%s", luaL_checkstring(L, 1));
  r->ok = lua_toboolean(L, 2);
  r->ms = luaL_checknumber(L, 3);
  snprintf(r->detail, sizeof r->detail, "%s", luaL_optstring(L, 4, ""));
  if (host.reported == host.expected) uv_stop(&host.loop);
  return 0;
}

static void on_heartbeat(uv_timer_t *t) {
  (void)t;
  host.beats++;
}

/* Spawns one task per check; each takes a slot, runs with a timeout and
 * reports. Lua, because checks are Lua functions. */
static const char driver[] =
    "local m = require 'moonlet'\n"
    "local checks = ...\n"
    "for _, c in ipairs(checks) do\n"
    "  m.spawn(function()\n"
    "    host.wait_slot()\n"
    "    local t0 = m.now()\n"
    "    local ok, detail = pcall(m.wait_for, m.spawn(c.run), c.timeout or 2)\n"
    "    host.release_slot()\n"
    "    host.report(c.name, ok, (m.now() - t0) * 1000, tostring(detail or ''))\n"
    "  end)\n"
    "end\n"
    "return #checks\n";

int main(int argc, char **argv) {
  const char *config = argc > 1 ? argv[1] : "examples/host/checks.lua";
  static const luaL_Reg funcs[] = {{"wait_slot", wait_slot},
                                   {"release_slot", release_slot},
                                   {"checksum", checksum},
                                   {"report", report},
                                   {NULL, NULL}};
  lua_State *L;
  int i, failed = 0;

  uv_loop_init(&host.loop);
  uv_timer_init(&host.loop, &host.heartbeat);
  uv_timer_start(&host.heartbeat, on_heartbeat, 10, 10);
  host.free_slots = SLOTS;

  L = luaL_newstate();
  luaL_openlibs(L);
  if (moonlet_open(L, &host.loop) != MOONLET_OK) {
    fprintf(stderr, "moonlet_open: %s\n", lua_tostring(L, -1));
    return 1;
  }
  luaL_newlib(L, funcs);
  lua_setglobal(L, "host");
  lua_newtable(L);
  host.waiting_ref = luaL_ref(L, LUA_REGISTRYINDEX);

  /* The configuration returns the list of checks (and may start things). */
  if (luaL_loadfile(L, config) != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK ||
      luaL_loadstring(L, driver) != LUA_OK) {
    fprintf(stderr, "health: %s\n", lua_tostring(L, -1));
    return 1;
  }
  lua_insert(L, -2);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
    fprintf(stderr, "health: %s\n", lua_tostring(L, -1));
    return 1;
  }
  host.expected = (int)lua_tointeger(L, -1);
  lua_pop(L, 1);

  /* The host drives its loop; moonlet's tasks run inside it. */
  if (host.expected > 0) uv_run(&host.loop, UV_RUN_DEFAULT);

  moonlet_close(L);                       /* cancels what the config left */
  uv_timer_stop(&host.heartbeat);
  uv_close((uv_handle_t *)&host.heartbeat, NULL);
  uv_run(&host.loop, UV_RUN_DEFAULT);
  printf("%-24s %-6s %9s  %s\n", "check", "status", "ms", "detail");
  for (i = 0; i < host.reported; i++) {
    result *r = &host.results[i];
    printf("%-24s %-6s %9.1f  %s\n", r->name, r->ok ? "OK" : "FAIL", r->ms, r->detail);
    if (!r->ok) failed++;
  }
  printf("%d checks, %d failed; host timer ticked %d times meanwhile; loop closed: %s\n",
         host.reported, failed, host.beats, uv_loop_close(&host.loop) == 0 ? "yes" : "no");
  lua_close(L);
  return 0;
}
