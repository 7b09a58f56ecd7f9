/*
 * sched.c - the run queue, task steps on the shared stack, the two ways of
 * suspending (lua_yieldk fast path, native register switch), waking, and
 * driving the loop from the main chunk.
 *
 * The shared stack holds at most one of: nothing (STACK_EMPTY); an idle
 * runner frame (STACK_RUNNER), the loop that calls lua_resume; or the live
 * slice of one natively suspended task (STACK_TASK, stack_owner). A task
 * that starts or continues after a fast suspension runs on the runner; a
 * natively suspended one continues where it stopped, after its slice is
 * copied back if someone else used the stack meanwhile.
 */
#include "core/sched.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/errors.h"
#include "core/native.h"
#include "core/spawn.h"
#include "core/threads.h"
#include "core/tools.h"
#include "core/watchdog.h"

#define TURN_STEPS 1024    /* steps before the loop polls I/O again */
#define TURN_NS 1000000    /* ... or this much time, checked every 64 steps */

/* --- run queue ----------------------------------------------------------- */

static void on_idle(uv_idle_t *h) { (void)h; }

void moonlet__enqueue(moonlet_loop *lp, moonlet_runnable *r) {
  if (mq_linked(&r->node)) return; /* already queued */
  mq_push(&lp->ready, &r->node);
  lp->nready++;
  if (!lp->idle_active && !lp->closing) {
    /* An active idle handle makes the next poll return at once. */
    uv_idle_start(&lp->idle, on_idle);
    lp->idle_active = 1;
    if (lp->on_ready) lp->on_ready(lp);
  }
}

/* A turn runs what is ready in FIFO rounds: each round runs what was ready
 * when it began. A budgeted turn (a loop iteration) ends after TURN_STEPS
 * steps or TURN_NS, so that I/O and timers are polled; an unbudgeted one
 * (shutdown) runs until nothing is ready. */
static moonlet_runnable *turn_peek(moonlet_loop *lp) {
  if (lp->round_left == 0) {
    if (lp->nready == 0) return NULL;
    if (lp->turn_budgeted) {
      if (lp->turn_steps >= TURN_STEPS) return NULL;
      if (lp->turn_steps >= lp->turn_check) {
        lp->turn_check = lp->turn_steps + 64;
        if (uv_hrtime() - lp->turn_start > TURN_NS) return NULL;
      }
    }
    lp->round_left = lp->nready;
  }
  return mq_data(lp->ready.next, moonlet_runnable, node);
}

static void turn_take(moonlet_loop *lp, moonlet_runnable *r) {
  mq_remove(&r->node);
  lp->nready--;
  lp->round_left--;
  lp->turn_steps++;
}

void moonlet__run_ready(moonlet_loop *lp, int budgeted) {
  moonlet_runnable *r;
  lp->round_left = 0;
  lp->turn_steps = 0;
  lp->turn_check = 64;
  lp->turn_budgeted = budgeted;
  lp->turn_start = budgeted ? uv_hrtime() : 0;
  while ((r = turn_peek(lp)) != NULL) {
    turn_take(lp, r);
    r->run(lp, r);
    if (r == &lp->main_run) break; /* the main chunk continues now */
  }
  lp->round_left = 0;
}

static void update_idle(moonlet_loop *lp) {
  if (lp->nready == 0 && lp->idle_active) {
    uv_idle_stop(&lp->idle);
    lp->idle_active = 0;
  }
}

static void on_prepare(uv_prepare_t *h) {
  moonlet_loop *lp = h->data;
  lp->stats.iterations++;
  lp->turn_now = uv_now(lp->uv);
  moonlet__run_ready(lp, 1);
  update_idle(lp);
}

/* --- switching between the scheduler and the shared stack ---------------- */

/* Continues *to, which lives on stack s (the shared one, or a fiber's). */
static void enter_stack(moonlet_loop *lp, moonlet_ctx *to,
                        const moonlet_stack *s) {
  FIBER_START(&lp->sched_fake, s->lo, (size_t)(s->hi - s->lo));
  moonlet__ctx_switch(&lp->sched_ctx, to);
  FIBER_FINISH(lp->sched_fake, NULL, NULL);
}

static void leave_stack(moonlet_loop *lp, moonlet_ctx *from, void **fake) {
  FIBER_START(fake, lp->sched_lo, lp->sched_size);
  moonlet__ctx_switch(from, &lp->sched_ctx);
  FIBER_FINISH(*fake, &lp->sched_lo, &lp->sched_size);
}

static void out_of_memory(void) {
  fputs("moonlet: out of memory suspending a task natively\n", stderr);
  abort();
}

/* Copies the suspended owner's slice away so another task can use the
 * stack. */
static void copy_out_owner(moonlet_loop *lp) {
  moonlet_task *o = lp->stack_owner;
  /* In a C fiber the registers are on the fiber's stack; the task's part
   * of the shared stack ends where it entered the fiber. */
  moonlet_native *n = o->nat;
  const char *sp = n->fiber ? n->shared_sp : n->ctx.sp;
  if (sp < lp->stack.lo) sp = lp->stack.lo; /* ucontext's estimate */
  if (moonlet__slice_save(&n->slice, &lp->stack, sp) != 0) out_of_memory();
  lp->stats.slices_copied++;
  lp->stats.bytes_copied += n->slice.len;
  lp->stack_state = STACK_EMPTY;
  lp->stack_owner = NULL;
}


/* --- task steps ---------------------------------------------------------- */


/* Runs t's Lua thread until it suspends or ends. On the shared stack. */
static void run_lua(moonlet_loop *lp, moonlet_task *t) {
  lua_State *T = t->T;
  int nargs = 0, nres = 0, st;
  if (t->state == TS_NEW) {
    if (!T && !(T = moonlet__thread_bind(lp, t))) {
      moonlet__task_finish(lp, t, END_NO_THREAD, 0);
      return;
    }
    nargs = t->nargs;
  } else if (lua_status(T) != LUA_YIELD) {
    moonlet__task_finish(lp, t, END_RESUMED_OUTSIDE, 0);
    return;
  }
  t->state = TS_RUNNING;
  t->fast_yield = 0;
  moonlet__step_begin(lp, T);
  st = lua_resume(T, NULL, nargs, &nres);
  moonlet__step_end(lp);
  if (st == LUA_YIELD) {
    if (nres) lua_pop(T, nres);
    t->state = TS_FAST;
    lp->stats.fast_switches++;
    /* A bare coroutine.yield() in the task body acts as moonlet.yield(). */
    if (!t->fast_yield) moonlet__enqueue(lp, &t->run);
    return;
  }
  moonlet__task_finish(lp, t, st == LUA_OK ? END_RETURNED : END_RAISED, nres);
}

/* The next runnable, if it is a task the runner can run right here: one
 * that starts, or continues after a fast suspension. Saves two stack
 * switches per step on the fast path. */
static moonlet_task *runner_next(moonlet_loop *lp) {
  moonlet_runnable *r = turn_peek(lp);
  moonlet_task *t;
  if (!r || r->run != moonlet__step_task) return NULL;
  t = mq_data(r, moonlet_task, run);
  if (t->state != TS_FAST && !(t->state == TS_NEW && !t->cancel_requested))
    return NULL;
  turn_take(lp, r);
  t->wait.resumed = 1;
  return t;
}

static void runner_main(void *arg) {
  moonlet_loop *lp = arg;
  FIBER_FINISH(NULL, &lp->sched_lo, &lp->sched_size);
  for (;;) {
    moonlet_task *t = lp->current;
    do {
      lp->current = t;
      run_lua(lp, t);
    } while ((t = runner_next(lp)) != NULL);
    lp->stack_state = STACK_RUNNER;
    lp->stack_owner = NULL;
    leave_stack(lp, &lp->runner_ctx, &lp->runner_fake);
  }
}

/* Starts the current task, or continues it after a fast suspension, on the
 * runner. */
static void run_on_runner(moonlet_loop *lp) {
  if (lp->stack_state == STACK_TASK) copy_out_owner(lp);
  if (lp->stack_state == STACK_EMPTY) {
    moonlet__stack_fresh(&lp->stack, lp->stack.hi - 1024, 1024);
    moonlet__ctx_init(&lp->runner_ctx, lp->stack.lo,
                      (size_t)(lp->stack.hi - lp->stack.lo), runner_main, lp);
    lp->stats.fresh_runners++;
  }
  lp->stack_state = STACK_EMPTY; /* in use until whoever leaves says */
  enter_stack(lp, &lp->runner_ctx, &lp->stack);
}

/* Continues a natively suspended task where it stopped. */
static void resume_native(moonlet_loop *lp, moonlet_task *t) {
  moonlet_native *n = t->nat;
  if (lp->stack_state != STACK_TASK || lp->stack_owner != t) {
    if (lp->stack_state == STACK_TASK) copy_out_owner(lp);
    moonlet__slice_restore(&n->slice, &lp->stack);
    lp->stats.slices_copied++;
    lp->stats.bytes_copied += n->slice.len;
  }
  lp->stack_state = STACK_EMPTY;
  lp->stack_owner = NULL;
  moonlet__step_begin(lp, t->wait.L ? t->wait.L : t->T);
  enter_stack(lp, &n->ctx, n->fiber ? n->fiber : &lp->stack);
  moonlet__step_end(lp);
}

void moonlet__step_task(moonlet_loop *lp, moonlet_runnable *r) {
  moonlet_task *t = mq_data(r, moonlet_task, run);
  if (t->state == TS_DONE) return;
  if (t->state == TS_NEW && t->cancel_requested) {
    moonlet__task_finish(lp, t, END_CANCELLED_NEW, 0); /* its function never starts */
    return;
  }
  t->wait.resumed = 1;
  lp->current = t;
  if (t->state == TS_NATIVE)
    resume_native(lp, t);
  else
    run_on_runner(lp);
  lp->current = NULL;
}


/* --- blocking ------------------------------------------------------------ */

/* Whether t blocks in its own thread and may yield there: the fast path,
 * unless native switching is forced. Such a thread runs no finalizer
 * (finalizers run unyieldable). */
static int own_yieldable(moonlet_task *t, lua_State *L) {
  return L == t->T && lua_isyieldable(L);
}

moonlet_wait *moonlet__enter_block(lua_State *L, moonlet_loop *lp) {
  moonlet_task *t = lp->current;
  moonlet_wait *w;
  if (t) {
    int native = !own_yieldable(t, L);
    if (lp->closing) moonlet__raise_cancelled(L, lp, t);
    if (native && lua_gc(L, LUA_GCISRUNNING, 0) < 0)
      luaL_error(L, "cannot block inside a __gc finalizer");
    /* Lent now, while raising still changes nothing. */
    if ((native || lp->force_native) && !t->nat) moonlet__task_native(L, lp, t);
    if (t->cancel_requested && t->shield == 0)
      moonlet__raise_cancelled(L, lp, t);
    w = &t->wait;
  } else {
    if (lp->closing || lp->closed) luaL_error(L, "moonlet: the loop is closed");
    if (lp->in_callback)
      luaL_error(L, "cannot block inside a callback; spawn a task");
    if (lp->driving)
      luaL_error(L, "cannot block here: the loop is already running");
    if (lua_gc(L, LUA_GCISRUNNING, 0) < 0)
      luaL_error(L, "cannot block inside a __gc finalizer");
    w = &lp->main_wait;
  }
  moonlet__check(w->status != MW_PENDING);
  w->what = NULL;
  w->describe = NULL;
  w->L = L;
  w->status = MW_PENDING;
  w->resumed = 0;
  w->detach = NULL;
  w->notify = NULL;
  return w;
}

void moonlet__checkpoint(lua_State *L, moonlet_loop *lp) {
  moonlet_task *t = lp->current;
  if (t && (lp->closing || (t->cancel_requested && t->shield == 0)))
    moonlet__raise_cancelled(L, lp, t);
}

static void native_suspend(moonlet_loop *lp, moonlet_task *t) {
  /* enter_block lent it already; this only guards the invariant. */
  if (!t->nat && !moonlet__native_lend(lp, t)) out_of_memory();
  t->state = TS_NATIVE;
  lp->stats.native_switches++;
  lp->stack_state = STACK_TASK;
  lp->stack_owner = t;
  leave_stack(lp, &t->nat->ctx, &t->nat->fake_stack);
  t->state = TS_RUNNING;
}

int moonlet__block(lua_State *L, moonlet_loop *lp, moonlet_wait *w,
                   lua_KFunction k) {
  moonlet_task *t = w->task;
  if (!t) {
    if (moonlet__drive(lp) != 0) {
      moonlet__end_wait(w);
      return luaL_error(L, "deadlock: nothing left to run can end this wait");
    }
    w->resumed = 1;
    return k(L, LUA_YIELD, (lua_KContext)w);
  }
  t->since = lp->turn_now;
  if (!lp->force_native && own_yieldable(t, L)) {
    t->fast_yield = 1;
    return lua_yieldk(L, 0, (lua_KContext)w, k);
  }
  native_suspend(lp, t);
  return k(L, LUA_YIELD, (lua_KContext)w);
}

void moonlet__check_wake(lua_State *L, moonlet_wait *w) {
  if (!w->resumed)
    luaL_error(L, "task thread was resumed outside the scheduler");
  w->resumed = 0;
  if (w->status == MW_CANCELLED) moonlet__raise_cancelled(L, w->loop, w->task);
}

void moonlet__end_wait(moonlet_wait *w) {
  moonlet__check(w->status == MW_PENDING);
  if (w->detach) w->detach(w);
  w->detach = NULL;
  w->status = MW_OK;
}

void moonlet__wake(moonlet_wait *w, int status) {
  if (w->status != MW_PENDING) return;
  w->status = status;
  w->detach = NULL;
  if (w->notify) {
    w->notify(w);
    return;
  }
  /* The main chunk takes its turn in the run queue like a task, so what
   * became ready before it runs before it continues. */
  if (w->task) w->task->since = w->loop->turn_now;
  moonlet__enqueue(w->loop, w->task ? &w->task->run : &w->loop->main_run);
}

void moonlet__detach_node(moonlet_wait *w) { mq_remove(&w->node); }

void moonlet__wait_in(moonlet_wait *w, mqueue *list, void *data,
                      const char *what,
                      void (*describe)(lua_State *L, moonlet_wait *w)) {
  mq_push(list, &w->node);
  w->detach = moonlet__detach_node;
  w->data = data;
  w->what = what;
  w->describe = describe;
}

/* The main chunk's turn in the run queue: end the driving. */
static void main_turn(moonlet_loop *lp, moonlet_runnable *r) {
  (void)r;
  lp->main_ready = 1;
  uv_stop(lp->uv); /* do not block in this iteration's poll */
}

int moonlet__drive(moonlet_loop *lp) {
  int r = 0;
  lp->driving = 1;
  lp->main_ready = 0;
  while (!lp->main_ready) {
    int alive = uv_run(lp->uv, UV_RUN_ONCE);
    if (!alive && !lp->main_ready && lp->nready == 0) {
      r = -1;
      break;
    }
  }
  lp->driving = 0;
  return r;
}


/* --- the scheduler's handles --------------------------------------------- */

void moonlet__sched_init(moonlet_loop *lp) {
  uv_prepare_init(lp->uv, &lp->prepare);
  lp->prepare.data = lp;
  uv_prepare_start(&lp->prepare, on_prepare);
  uv_unref((uv_handle_t *)&lp->prepare);
  uv_idle_init(lp->uv, &lp->idle);
  lp->idle.data = lp;
  lp->stack_state = STACK_EMPTY;
  lp->main_wait.loop = lp;
  lp->main_wait.heap_idx = UINT32_MAX;
  lp->main_wait.task = NULL;
  lp->main_wait.status = MW_OK;
  mq_init(&lp->main_wait.node);
  lp->main_run.run = main_turn;
  mq_init(&lp->main_run.node);
}

void moonlet__sched_close(moonlet_loop *lp) {
  uv_close((uv_handle_t *)&lp->prepare, NULL);
  uv_close((uv_handle_t *)&lp->idle, NULL);
}
