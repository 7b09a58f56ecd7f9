/*
 * watchdog.c - the watchdog thread and its report (watchdog.h).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/errors.h"
#include "core/spawn.h"
#include "core/watchdog.h"
#include "module.h"

/* On unless turned off: a blocking call in a task (LuaSocket without
 * m.patch, os.execute, a long computation) is otherwise silent. Half a
 * second is far above any step of a program that is well. */
#define DEFAULT_THRESHOLD 0.5

struct moonlet_watchdog {
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int stop;
  uint64_t threshold_ns;       /* under mu */
  moonlet_loop *lp;
  /* Set by the thread before it hooks, read by the hook. */
  uint64_t since_ns;           /* when the thread first saw the step */
  lua_Hook prev_hook;          /* what the hooked thread had before */
  int prev_mask, prev_count;
};

/* On the loop's thread, at the culprit's next instruction: say who and
 * where, then give the thread its own hook back. */
static void hook(lua_State *L, lua_Debug *ar) {
  moonlet_loop *lp = moonlet__loop_of(L);
  moonlet_watchdog *wd;
  double secs;
  (void)ar;
  if (!lp || !(wd = lp->watchdog)) {
    lua_sethook(L, NULL, 0, 0);
    return;
  }
  lua_sethook(L, wd->prev_hook, wd->prev_mask, wd->prev_count);
  if (!lua_checkstack(L, 4)) return;
  secs = (double)(uv_hrtime() - wd->since_ns) / 1e9;
  if (lp->current) {
    moonlet__push_task(L, lp, lp->current);
    if (lua_getiuservalue(L, -1, MOONLET_UV_NAME) == LUA_TSTRING)
      lua_pushfstring(L, "task '%s'", lua_tostring(L, -1));
    else
      lua_pushfstring(L, "task 'task-%I'", (lua_Integer)lp->current->id);
    lua_replace(L, -3);
    lua_pop(L, 1);
  } else {
    lua_pushliteral(L, "a callback");
  }
  luaL_traceback(L, L, NULL, 0);
  fprintf(stderr,
          "moonlet: watchdog: %s has kept the loop from turning for %.3f s "
          "(threshold %.3f s)\n%s\n",
          lua_tostring(L, -2), secs, (double)wd->threshold_ns / 1e9,
          lua_tostring(L, -1));
  fflush(stderr);
  lua_pop(L, 2);
  lp->stats.watchdog_incidents++;
}

static void *watch(void *arg) {
  moonlet_watchdog *wd = arg;
  moonlet_loop *lp = wd->lp;
  uint64_t last = 0, seen = 0, reported = 0;
  pthread_mutex_lock(&wd->mu);
  while (!wd->stop) {
    uint64_t step = wd->threshold_ns / 4, seq, now;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    step = step < 1000000 ? 1000000 : step;
    ts.tv_sec += (time_t)(step / 1000000000u);
    ts.tv_nsec += (long)(step % 1000000000u);
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&wd->cv, &wd->mu, &ts);
    if (wd->stop) break;
    seq = __atomic_load_n(&lp->step_seq, __ATOMIC_ACQUIRE);
    now = uv_hrtime();
    if (!(seq & 1) || seq != last) {
      last = seq;
      seen = now;
      continue;
    }
    if (now - seen >= wd->threshold_ns && reported != seq) {
      lua_State *L = __atomic_load_n(&lp->step_L, __ATOMIC_RELAXED);
      reported = seq;
      wd->since_ns = seen - step; /* it began at most one sample earlier */
      wd->prev_hook = lua_gethook(L);
      wd->prev_mask = lua_gethookmask(L);
      wd->prev_count = lua_gethookcount(L);
      /* Lua allows setting a hook asynchronously (lua.c does it from a
       * signal handler). It fires at L's next instruction, or as the C
       * function L is in returns (a blocking call: its caller's line). */
      lua_sethook(L, hook, LUA_MASKCOUNT | LUA_MASKRET, 1);
    }
  }
  pthread_mutex_unlock(&wd->mu);
  return NULL;
}

static void stop(moonlet_loop *lp) {
  moonlet_watchdog *wd = lp->watchdog;
  if (!wd) return;
  pthread_mutex_lock(&wd->mu);
  wd->stop = 1;
  pthread_cond_signal(&wd->cv);
  pthread_mutex_unlock(&wd->mu);
  pthread_join(wd->thread, NULL);
  pthread_cond_destroy(&wd->cv);
  pthread_mutex_destroy(&wd->mu);
  lp->watchdog = NULL;
  free(wd);
}

static void close_watchdog(lua_State *L, moonlet_loop *lp) {
  (void)L;
  stop(lp);
}

/* Starts the watchdog, or sets its threshold: 0 or -1 (out of memory, no
 * thread). */
static int start(moonlet_loop *lp, double seconds) {
  moonlet_watchdog *wd = lp->watchdog;
  uint64_t ns = (uint64_t)(seconds * 1e9);
  if (wd) {
    pthread_mutex_lock(&wd->mu);
    wd->threshold_ns = ns;
    pthread_cond_signal(&wd->cv); /* sample at the new pace from now */
    pthread_mutex_unlock(&wd->mu);
    return 0;
  }
  if (!(wd = calloc(1, sizeof *wd))) return -1;
  wd->lp = lp;
  wd->threshold_ns = ns;
  pthread_mutex_init(&wd->mu, NULL);
  pthread_cond_init(&wd->cv, NULL);
  if (pthread_create(&wd->thread, NULL, watch, wd) != 0) {
    pthread_cond_destroy(&wd->cv);
    pthread_mutex_destroy(&wd->mu);
    free(wd);
    return -1;
  }
  lp->watchdog = wd;
  moonlet__on_close(lp, MOONLET_CLOSE_INTAKE, close_watchdog);
  return 0;
}

/* _watchdog([seconds | false]) -> the threshold in seconds, or false */
static int l_watchdog(lua_State *L) {
  moonlet_loop *lp = moonlet__loop(L);
  if (lua_isboolean(L, 1) && !lua_toboolean(L, 1)) {
    stop(lp);
  } else if (!lua_isnone(L, 1)) {
    double s = luaL_checknumber(L, 1);
    luaL_argcheck(L, s > 0 && s < 86400, 1, "seconds in (0, 86400) expected");
    if (start(lp, s) != 0) return luaL_error(L, "cannot start the watchdog thread");
  }
  if (lp->watchdog)
    lua_pushnumber(L, (double)lp->watchdog->threshold_ns / 1e9);
  else
    lua_pushboolean(L, 0);
  return 1;
}

void moonlet__open_watchdog(lua_State *L, moonlet_loop *lp) {
  static const luaL_Reg funcs[] = {{"_watchdog", l_watchdog}, {NULL, NULL}};
  const char *env = getenv("MOONLET_WATCHDOG");
  double s = env && *env ? atof(env) : (lp->debug ? 0.1 : DEFAULT_THRESHOLD);
  moonlet__setfuncs(L, lp, funcs);
  if (lp->watchdog) return;
  if (s > 0 && s < 86400) start(lp, s); /* MOONLET_WATCHDOG=0: off */
}
