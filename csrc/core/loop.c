/*
 * loop.c - a moonlet instance's life: setting up its uv loop and shared
 * stack, and closing it (the tasks first, then each subsystem's registered
 * close hooks, then the scheduler's own handles).
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/errors.h"
#include "core/loop.h"
#include "core/native.h"
#include "core/spawn.h"
#include "core/threads.h"
#include "core/timer.h"

/* A peer that closes while we write must give the write EPIPE, not kill
 * the process: libuv writes with write(2), which raises SIGPIPE. So the
 * signal is ignored, once per process, unless the host has set a handler
 * of its own (or already ignores it). Children start with the default. */
static void sigpipe_policy(void) {
  struct sigaction sa;
  if (sigaction(SIGPIPE, NULL, &sa) != 0 || sa.sa_handler != SIG_DFL ||
      (sa.sa_flags & SA_SIGINFO))
    return;
  sa.sa_handler = SIG_IGN;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  sigaction(SIGPIPE, &sa, NULL);
}

int moonlet__loop_init(lua_State *L, moonlet_loop *lp) {
  const char *fn = getenv("MOONLET_FORCE_NATIVE");
  int r;
  static pthread_once_t sigpipe_once = PTHREAD_ONCE_INIT;
  pthread_once(&sigpipe_once, sigpipe_policy);
  lp->uv = &lp->own_uv;
  if ((r = uv_loop_init(lp->uv)) != 0) return r;
  if ((r = moonlet__stack_open(&lp->stack, moonlet__stack_size_from_env())) !=
      0) {
    uv_loop_close(lp->uv);
    return r;
  }
  mq_init(&lp->ready);
  mq_init(&lp->live);
  mq_init(&lp->timers);
  mq_init(&lp->io);
  lp->force_native = fn && *fn && *fn != '0';
  lp->rng = uv_hrtime() | 1;
  lp->on_error_ref = LUA_NOREF;
  lp->main_ctx_ref = lp->cb_box_ref = LUA_NOREF;
  fn = getenv("MOONLET_DEBUG");
  lp->debug = fn && *fn && *fn != '0';
  moonlet__sched_init(lp);
  lp->turn_now = uv_now(lp->uv);
  moonlet__timer_init(lp);
  moonlet__threads_init(lp);
  return 0;
}

void moonlet__on_close(moonlet_loop *lp, int phase, moonlet_closer fn) {
  moonlet_closer *c = lp->closers[phase];
  int i;
  for (i = 0; i < MOONLET_CLOSERS && c[i] && c[i] != fn; i++) {}
  moonlet__check(i < MOONLET_CLOSERS);
  if (i < MOONLET_CLOSERS) c[i] = fn;
}

static void run_closers(lua_State *L, moonlet_loop *lp, int phase) {
  int i;
  for (i = 0; i < MOONLET_CLOSERS && lp->closers[phase][i]; i++)
    lp->closers[phase][i](L, lp);
}

/* Cancels every unfinished task and runs them until they end, so their
 * cleanup runs before the stack goes away. A task that keeps swallowing
 * Cancelled in a loop is given up on after a bounded number of rounds. */
static void shutdown_tasks(lua_State *L, moonlet_loop *lp) {
  int round;
  lp->closing = 1;
  for (round = 0; round < 100 && lp->nlive > 0; round++) {
    mqueue *q;
    for (q = lp->live.next; q != &lp->live; q = q->next)
      moonlet__task_cancel(L, lp, mq_data(q, moonlet_task, live_node), 0);
    moonlet__run_ready(lp, 0);
  }
  if (lp->nlive > 0)
    fprintf(stderr, "moonlet: %zu task(s) ignored cancellation at shutdown\n",
            lp->nlive);
}

void moonlet__loop_close(lua_State *L, moonlet_loop *lp) {
  int phase;
  if (lp->closed) return;
  if (lp->current || lp->driving || lp->in_callback) {
    /* lua_close from inside a task or callback (os.exit(c, true)): we are
     * on the stack we would free; leave everything to the process exit,
     * but leave the host's loop (which outlives us) and other threads. */
    run_closers(L, lp, MOONLET_CLOSE_INTAKE);
    run_closers(L, lp, MOONLET_CLOSE_HOST);
    lp->closed = 1;
    moonlet__refs_close(lp);
    moonlet__native_close(lp);
    return;
  }
  run_closers(L, lp, MOONLET_CLOSE_INTAKE); /* posts sent before still run */
  shutdown_tasks(L, lp);
  for (phase = MOONLET_CLOSE_HANDLES; phase < MOONLET_CLOSE_PHASES; phase++)
    run_closers(L, lp, phase);
  lp->closed = 1;
  moonlet__refs_close(lp);
  moonlet__native_close(lp);
  moonlet__sched_close(lp);
  moonlet__timer_close(lp);
  moonlet__threads_close(lp);
  uv_run(lp->uv, UV_RUN_DEFAULT);
  uv_loop_close(lp->uv);
  /* Tasks that ignored cancellation keep their objects and native states;
   * their slices die with the stack. */
  moonlet__stack_close(&lp->stack);
}
