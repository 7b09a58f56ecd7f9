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

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/future.h"
#include "core/tools.h"

/* Finished tasks' threads wait in a pool for new tasks. It keeps what a
 * burst of tasks leaves behind while spawning goes on, and gives back, every
 * POOL_TRIM_MS, the threads above POOL_KEEP that stayed unused meanwhile. */
#define POOL_KEEP 1024
#define POOL_TRIM_MS 1000

/* Lua 5.4.6 renamed lua_resetthread and deprecated the old name. */
#if LUA_VERSION_RELEASE_NUM >= 50406
#define close_thread(T) lua_closethread((T), NULL)
#else
#define close_thread(T) lua_resetthread(T)
#endif
#define TURN_STEPS 1024    /* steps before the loop polls I/O again */
#define TURN_NS 1000000    /* ... or this much time, checked every 64 steps */

/* --- refs ---------------------------------------------------------------- */

/* Refs are slots of one table. Free slot numbers wait in a C array (LIFO),
 * so taking and giving back one touch the table once; luaL_ref keeps its
 * free list in the table and reads and writes it three times. A slot is
 * taken anew only when none is free, so the table stays a dense array. */
int moonlet__ref(lua_State *L, moonlet_loop *lp) {
  int r;
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return LUA_REFNIL;
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, lp->refs);
  lua_pushvalue(L, -2);
  r = lp->nfree_refs > 0 ? lp->free_refs[lp->nfree_refs - 1] : lp->nrefs + 1;
  lua_rawseti(L, -2, r); /* may raise (memory): nothing taken yet */
  if (r == lp->nrefs + 1)
    lp->nrefs++;
  else
    lp->nfree_refs--;
  lua_pop(L, 2);
  return r;
}

void moonlet__getref(lua_State *L, moonlet_loop *lp, int ref) {
  if (ref < 0) {
    lua_pushnil(L);
    return;
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, lp->refs);
  lua_rawgeti(L, -1, ref);
  lua_remove(L, -2);
}

void moonlet__unref(lua_State *L, moonlet_loop *lp, int ref) {
  if (ref < 0) return;
  lua_rawgeti(L, LUA_REGISTRYINDEX, lp->refs);
  lua_pushnil(L);
  lua_rawseti(L, -2, ref);
  lua_pop(L, 1);
  if (lp->closed) return; /* the array is gone */
  if (lp->nfree_refs == lp->cap_free_refs) {
    int cap = lp->cap_free_refs ? 2 * lp->cap_free_refs : 64;
    int *a = realloc(lp->free_refs, (size_t)cap * sizeof *a);
    if (!a) return; /* the slot stays empty for good: no harm */
    lp->free_refs = a;
    lp->cap_free_refs = cap;
  }
  lp->free_refs[lp->nfree_refs++] = ref;
}

static void free_refs_close(moonlet_loop *lp) {
  free(lp->free_refs);
  lp->free_refs = NULL;
  lp->nfree_refs = lp->cap_free_refs = 0;
}

void moonlet__setfuncs(lua_State *L, moonlet_loop *lp, const luaL_Reg *funcs) {
  lua_pushlightuserdata(L, lp);
  luaL_setfuncs(L, funcs, 1);
}

/* Our metatables stay in the registry for the life of the state, and Lua
 * never moves objects, so a type check compares addresses. */
int moonlet__objkind(lua_State *L, moonlet_loop *lp, int idx) {
  const void *mt;
  int k;
  if (!lua_touserdata(L, idx) || !lua_getmetatable(L, idx)) return -1;
  mt = lua_topointer(L, -1);
  lua_pop(L, 1);
  for (k = 0; k < MOONLET_MT_COUNT; k++)
    if (mt == lp->mt_ptr[k]) return k;
  return -1;
}

void moonlet__register_mt(lua_State *L, moonlet_loop *lp, int kind) {
  lp->mt_ptr[kind] = lua_topointer(L, -1);
  lp->mt[kind] = luaL_ref(L, LUA_REGISTRYINDEX);
}

void moonlet__setmt(lua_State *L, moonlet_loop *lp, int idx, int kind) {
  idx = lua_absindex(L, idx);
  lua_rawgeti(L, LUA_REGISTRYINDEX, lp->mt[kind]);
  lua_setmetatable(L, idx);
}

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
    if (lp->host_nest) moonlet__host_poke(lp);
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

static void run_ready(moonlet_loop *lp, int budgeted) {
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
  run_ready(lp, 1);
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

/* Ended tasks' native states kept for reuse, with their slice buffers
 * unless a deep stack made one big. */
#define NATIVE_KEEP 64
#define NATIVE_KEEP_SLICE (64 * 1024)

/* NULL if memory is short. */
static moonlet_native *lend_native(moonlet_loop *lp, moonlet_task *t) {
  moonlet_native *n = t->nat;
  if (n) return n;
  if ((n = lp->free_nat) != NULL) {
    lp->free_nat = n->next;
    lp->nfree_nat--;
  } else {
    if (!(n = malloc(sizeof *n))) return NULL;
    memset(n, 0, sizeof *n);
  }
  n->next = NULL;
  return t->nat = n;
}

moonlet_native *moonlet__task_native(lua_State *L, moonlet_loop *lp,
                                     moonlet_task *t) {
  moonlet_native *n = lend_native(lp, t);
  if (!n) luaL_error(L, "not enough memory");
  return n;
}

static void give_native(moonlet_loop *lp, moonlet_task *t) {
  moonlet_native *n = t->nat;
  if (!n) return;
  t->nat = NULL;
  n->fiber = NULL;
  n->shared_sp = NULL;
  n->fake_stack = NULL;
  if (n->slice.cap > NATIVE_KEEP_SLICE) moonlet__slice_free(&n->slice);
  if (lp->nfree_nat < NATIVE_KEEP && !lp->closed) {
    n->next = lp->free_nat;
    lp->free_nat = n;
    lp->nfree_nat++;
    return;
  }
  moonlet__slice_free(&n->slice);
  free(n);
}

size_t moonlet__pooled_native_bytes(const moonlet_loop *lp) {
  const moonlet_native *n;
  size_t bytes = 0;
  for (n = lp->free_nat; n; n = n->next) bytes += n->slice.cap;
  return bytes;
}

static void free_nat_close(moonlet_loop *lp) {
  moonlet_native *n;
  while ((n = lp->free_nat) != NULL) {
    lp->free_nat = n->next;
    moonlet__slice_free(&n->slice);
    free(n);
  }
  lp->nfree_nat = 0;
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

/* How a task ended: what finish finds as its outcome. */
enum {
  END_RETURNED,   /* its function returned: the results on top of T */
  END_RAISED,     /* it raised: the error on top of T, T not yet reset */
  END_CANCELLED_NEW, /* cancelled before it ever ran */
  END_RESUMED_OUTSIDE, /* its thread was run to the end by someone else */
  END_NO_THREAD   /* there was no memory for its thread */
};

static void finish(moonlet_loop *lp, moonlet_task *t, int how, int nres);
static void step_task(moonlet_loop *lp, moonlet_runnable *r);
static lua_State *bind_thread(moonlet_loop *lp, moonlet_task *t);

/* Runs t's Lua thread until it suspends or ends. On the shared stack. */
static void run_lua(moonlet_loop *lp, moonlet_task *t) {
  lua_State *T = t->T;
  int nargs = 0, nres = 0, st;
  if (t->state == TS_NEW) {
    if (!T && !(T = bind_thread(lp, t))) {
      finish(lp, t, END_NO_THREAD, 0);
      return;
    }
    nargs = t->nargs;
  } else if (lua_status(T) != LUA_YIELD) {
    finish(lp, t, END_RESUMED_OUTSIDE, 0);
    return;
  }
  t->state = TS_RUNNING;
  t->fast_yield = 0;
  st = lua_resume(T, NULL, nargs, &nres);
  if (st == LUA_YIELD) {
    if (nres) lua_pop(T, nres);
    t->state = TS_FAST;
    lp->stats.fast_switches++;
    /* A bare coroutine.yield() in the task body acts as moonlet.yield(). */
    if (!t->fast_yield) moonlet__enqueue(lp, &t->run);
    return;
  }
  finish(lp, t, st == LUA_OK ? END_RETURNED : END_RAISED, nres);
}

/* The next runnable, if it is a task the runner can run right here: one
 * that starts, or continues after a fast suspension. Saves two stack
 * switches per step on the fast path. */
static moonlet_task *runner_next(moonlet_loop *lp) {
  moonlet_runnable *r = turn_peek(lp);
  moonlet_task *t;
  if (!r || r->run != step_task) return NULL;
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
  enter_stack(lp, &n->ctx, n->fiber ? n->fiber : &lp->stack);
}

static void step_task(moonlet_loop *lp, moonlet_runnable *r) {
  moonlet_task *t = mq_data(r, moonlet_task, run);
  if (t->state == TS_DONE) return;
  if (t->state == TS_NEW && t->cancel_requested) {
    finish(lp, t, END_CANCELLED_NEW, 0); /* its function never starts */
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

/* --- task bookkeeping ---------------------------------------------------- */

/* The pool is a Lua thread that never runs: its stack holds the idle
 * threads, newest on top. Putting one back and taking one allocate nothing
 * unless that stack must grow (which lua_checkstack does protected), so
 * finish can pool outside any protected call. */

/* Releases the threads that stayed in the pool, above POOL_KEEP, since the
 * last tick (how many the pool never went below), from the top: threads
 * are alike. The timer stops when nothing is above POOL_KEEP. */
static void on_pool_trim(uv_timer_t *h) {
  moonlet_loop *lp = h->data;
  int unused = lp->pool_low - POOL_KEEP;
  if (unused > 0) {
    lp->npool -= unused;
    lua_settop(lp->pool, lp->npool);
  }
  lp->pool_low = lp->npool;
  if (lp->npool <= POOL_KEEP) uv_timer_stop(h);
}

/* Puts T, which ended cleanly, on top of the pool. */
static void pool_put(lua_State *T, moonlet_loop *lp) {
  uv_handle_t *timer = (uv_handle_t *)&lp->pool_timer;
  lua_settop(T, 0);
  if (!lua_checkstack(lp->pool, 1)) return; /* then it is just not reused */
  lua_pushthread(T);
  lua_xmove(T, lp->pool, 1);
  lp->npool++;
  if (lp->npool > POOL_KEEP && !uv_is_active(timer)) {
    lp->pool_low = POOL_KEEP; /* the ones above have not waited yet */
    uv_timer_start(&lp->pool_timer, on_pool_trim, POOL_TRIM_MS, POOL_TRIM_MS);
  }
}

/* Moves the newest pooled thread onto L and returns it, or returns NULL
 * (pushing nothing) when the pool is empty. */
static lua_State *pool_take(lua_State *L, moonlet_loop *lp) {
  if (lp->npool == 0) return NULL;
  lua_xmove(lp->pool, L, 1);
  if (--lp->npool < lp->pool_low) lp->pool_low = lp->npool;
  return lua_tothread(L, -1);
}

static int new_thread(lua_State *L) {
  lua_newthread(L);
  return 1;
}

/* Gives t, which never ran and has no thread yet, one with its function
 * on it: from the pool, else a new one (protected: this runs outside any
 * pcall). Returns NULL when memory is short. */
static lua_State *bind_thread(moonlet_loop *lp, moonlet_task *t) {
  lua_State *L = lp->LC, *T;
  if (!lua_checkstack(L, 3)) return NULL;
  moonlet__push_task(L, lp, t);
  if (!(T = pool_take(L, lp))) {
    lua_pushcfunction(L, new_thread);
    if (lua_pcall(L, 0, 1, 0) != LUA_OK) {
      lua_pop(L, 2);
      return NULL;
    }
    T = lua_tothread(L, -1);
  }
  lua_getiuservalue(L, -2, MOONLET_UV_THREAD); /* the function */
  lua_xmove(L, T, 1); /* a fresh or pooled thread has room for it */
  lua_setiuservalue(L, -2, MOONLET_UV_THREAD);
  lua_pop(L, 1);
  t->T = T;
  return T;
}

/* Whether T ended cleanly (not by an error nobody reset, and not still
 * running inside someone else's resume), so a new task can take it. */
static int thread_reusable(lua_State *T) {
  lua_Debug ar;
  return lua_status(T) == LUA_OK && !lua_getstack(T, 0, &ar);
}

typedef struct task_end {
  moonlet_loop *lp;
  moonlet_task *t;
  int how, nres;
} task_end;

/* Settles an ended task's future with its outcome (e->nres values on top
 * of L) and leaves the task object on top. Allocates only for several
 * results, done-callbacks or an outcome it makes itself; finish calls it
 * directly when none applies, protected (settle_task) otherwise. */
static void settle_outcome(lua_State *L, task_end *e) {
  moonlet_loop *lp = e->lp;
  moonlet_task *t = e->t;
  int n = e->nres, state = FS_DONE, box;
  if (e->how == END_CANCELLED_NEW) {
    moonlet__getref(L, lp, t->cancel_ref);
    moonlet__push_error_object(
        L, "cancelled",
        lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "task cancelled");
    lua_remove(L, -2);
    n = 1;
  } else if (e->how == END_RESUMED_OUTSIDE) {
    lua_pushliteral(L, "task thread was resumed outside the scheduler");
    n = 1;
  } else if (e->how == END_NO_THREAD) {
    lua_pushliteral(L, "not enough memory");
    n = 1;
  }
  if (e->how != END_RETURNED)
    state = moonlet__is_error_kind(L, -1, "cancelled") ? FS_CANCELLED
                                                       : FS_FAILED;
  moonlet__push_task(L, lp, t);
  lua_insert(L, -n - 1);
  box = lua_gettop(L) - n;
  moonlet__future_settle(L, lp, &t->fut, box, state, n);
  if (state == FS_FAILED) {
    moonlet__setmt(L, lp, box, MOONLET_MT_TASK_FAILED);
    moonlet__getref(L, lp, lp->failed_ref);
    lua_pushvalue(L, box);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);
  }
}

static int settle_task(lua_State *L) {
  task_end *e = lua_touserdata(L, -1);
  lua_pop(L, 1);
  settle_outcome(L, e);
  return 1;
}

static int traceback(lua_State *L) {
  luaL_traceback(L, lua_touserdata(L, 2), NULL, 0);
  lua_pushinteger(L, moonlet__ref(L, lua_touserdata(L, 1)));
  return 1;
}

/* A ref to the traceback of T, which just raised, or LUA_NOREF if memory
 * is short. On LC: T's stack is not to be touched until it is reset. */
static int traceback_ref(moonlet_loop *lp, lua_State *T) {
  lua_State *L = lp->LC;
  int ref = LUA_NOREF;
  if (!lua_checkstack(L, 3)) return ref;
  lua_pushcfunction(L, traceback);
  lua_pushlightuserdata(L, lp);
  lua_pushlightuserdata(L, T);
  if (lua_pcall(L, 2, 1, 0) == LUA_OK) ref = (int)lua_tointeger(L, -1);
  lua_pop(L, 1);
  return ref;
}

/* settle_task on LC in protected mode, with T's outcome moved there. If
 * memory runs short, the task fails with the memory error instead (its
 * done-callbacks are dropped: scheduling them needs memory), unless it had
 * settled already. Returns LC, with the task object on top. */
static lua_State *settle_task_protected(task_end *e, lua_State *T) {
  lua_State *L = e->lp->LC;
  moonlet_future *f = &e->t->fut;
  int st;
  if (lua_checkstack(L, e->nres + 4)) {
    lua_pushcfunction(L, settle_task);
    if (e->nres) lua_xmove(T, L, e->nres);
    lua_pushlightuserdata(L, e);
    st = lua_pcall(L, e->nres + 1, 1, 0);
  } else {
    /* LC is idle here: the few slots the fallback needs are there. */
    if (e->nres) lua_pop(T, e->nres);
    lua_pushliteral(L, "not enough memory"); /* Lua keeps this string */
    st = LUA_ERRMEM;
  }
  if (st != LUA_OK) {
    moonlet__push_task(L, e->lp, e->t);
    if (f->state == FS_PENDING) {
      lua_pushvalue(L, -2);
      moonlet__future_fail_quietly(L, e->lp, f, -2);
    }
    /* (Also when it failed while scheduling the callbacks.) */
    if (f->state == FS_FAILED)
      moonlet__setmt(L, e->lp, -1, MOONLET_MT_TASK_FAILED);
    lua_remove(L, -2);
  }
  return L;
}

/* The task ended (how, with nres results on T if it returned). On the
 * shared stack when it ran: closing its to-be-closed variables may block
 * again. Never raises: it runs outside any protected call, so whatever
 * allocates runs protected or has room reserved. */
static void finish(moonlet_loop *lp, moonlet_task *t, int how, int nres) {
  lua_State *T = t->T, *L = T; /* T is NULL if it never got one */
  int tbref = LUA_NOREF, reusable;
  task_end e;
  /* A thread resumed behind the scheduler's back can end while its wait is
   * still registered somewhere; unhook it before the task can be freed. */
  if (t->wait.status == MW_PENDING) moonlet__end_wait(&t->wait);
  if (how == END_RAISED) {
    /* Moonlet error objects carry their own traceback; for others take it
     * now, before the thread is reset. */
    if (!moonlet__is_error_kind(T, -1, NULL)) tbref = traceback_ref(lp, T);
    /* Lua leaves a dead coroutine's to-be-closed variables open; resetting
     * the thread closes them, with the error, as a normal unwind would.
     * It leaves the (possibly new) error alone on the stack. */
    close_thread(T);
    nres = 1;
  }
  t->state = TS_DONE;
  mq_remove(&t->live_node);
  lp->nlive--;
  lp->stats.finished++;
  e.lp = lp;
  e.t = t;
  e.how = how;
  e.nres = nres;
  reusable = T && thread_reusable(T);
  if (how == END_RETURNED && nres <= 1 && !t->fut.has_callbacks &&
      lua_checkstack(T, 4)) {
    settle_outcome(T, &e); /* nothing in it allocates */
  } else {
    L = settle_task_protected(&e, T);
  }
  /* The task object is on top of L (which may be T) now. The slot that
   * held the thread takes the traceback; nothing below allocates, so the
   * collector cannot take the thread before the pool anchors it. */
  moonlet__getref(L, lp, tbref);
  lua_setiuservalue(L, -2, MOONLET_UV_THREAD);
  lua_pop(L, 1);
  moonlet__unref(L, lp, tbref);
  moonlet__unref(L, lp, t->box_ref);
  t->box_ref = LUA_NOREF;
  moonlet__unref(L, lp, t->cancel_ref);
  t->cancel_ref = LUA_NOREF;
  give_native(lp, t);
  if (reusable && !lp->closing) {
    lua_sethook(T, NULL, 0, 0); /* not into the next task */
    pool_put(T, lp);
  }
  t->T = NULL;
}

moonlet_task *moonlet__spawn(lua_State *L, moonlet_loop *lp, int nargs) {
  moonlet_task *t;
  lua_State *T = NULL;
  luaL_checktype(L, -nargs - 1, LUA_TFUNCTION);
  if (lp->closed) luaL_error(L, "moonlet: the loop is closed");
  t = lua_newuserdatauv(L, sizeof *t, MOONLET_TASK_UVS);
  memset(t, 0, sizeof *t);
  moonlet__future_init(&t->fut);
  t->fut.is_task = 1;
  t->state = TS_DONE; /* inert until fully built */
  t->box_ref = t->cancel_ref = LUA_NOREF;
  moonlet__setmt(L, lp, -1, MOONLET_MT_TASK);
  /* A task takes a pooled thread at once. When none is pooled, one
   * spawned without arguments takes a thread when it first runs
   * (bind_thread), its user value holding its function till then: a burst
   * of spawns into a fresh process then holds only task objects, and each
   * new thread is used as soon as it is made. Arguments wait on the
   * thread. */
  if (nargs > 0 || lp->npool > 0) {
    if (!(T = pool_take(L, lp))) T = lua_newthread(L);
    if (!lua_checkstack(T, nargs + 1))
      luaL_error(L, "too many arguments to spawn");
  } else {
    lua_pushvalue(L, -2);
  }
  lua_setiuservalue(L, -2, MOONLET_UV_THREAD);
  lua_pushvalue(L, -1);
  t->box_ref = moonlet__ref(L, lp);
  t->run.run = step_task;
  mq_init(&t->run.node);
  mq_init(&t->live_node);
  mq_init(&t->wait.node);
  t->T = T;
  t->state = TS_NEW;
  t->nargs = nargs;
  t->id = ++lp->next_id;
  t->wait.loop = lp;
  t->wait.task = t;
  t->wait.status = MW_OK;
  t->wait.heap_idx = UINT32_MAX;
  lua_rotate(L, -nargs - 2, 1); /* the task object below the function */
  if (T)
    lua_xmove(L, T, nargs + 1);
  else
    lua_pop(L, 1);
  mq_push(&lp->live, &t->live_node);
  lp->nlive++;
  lp->stats.spawned++;
  moonlet__enqueue(lp, &t->run);
  return t;
}

void moonlet__push_task(lua_State *L, moonlet_loop *lp, moonlet_task *t) {
  moonlet__getref(L, lp, t->box_ref);
}

moonlet_task *moonlet__to_task(lua_State *L, int idx) {
  moonlet_future *f = moonlet__tagged(L, idx, MOONLET_TAG_FUTURE);
  return f && f->is_task ? (moonlet_task *)f : NULL;
}

int moonlet__task_cancel(lua_State *L, moonlet_loop *lp, moonlet_task *t,
                         int msg_idx) {
  moonlet_wait *w = &t->wait;
  if (t->state == TS_DONE) return 0;
  if (!t->cancel_requested) {
    if (msg_idx && !lua_isnoneornil(L, msg_idx)) {
      lua_pushvalue(L, msg_idx);
      t->cancel_ref = moonlet__ref(L, lp); /* may raise: nothing changed */
    }
    t->cancel_requested = 1;
  }
  if (t->shield == 0 && w->status == MW_PENDING && w->detach) {
    w->detach(w);
    moonlet__wake(w, MW_CANCELLED);
  }
  return 1;
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
  if (!t->nat && !lend_native(lp, t)) out_of_memory();
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
  } else if (!lp->force_native && own_yieldable(t, L)) {
    t->fast_yield = 1;
    return lua_yieldk(L, 0, (lua_KContext)w, k);
  } else {
    native_suspend(lp, t);
  }
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
  moonlet__enqueue(w->loop, w->task ? &w->task->run : &w->loop->main_run);
}

void moonlet__detach_node(moonlet_wait *w) { mq_remove(&w->node); }

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

/* --- loop lifetime ------------------------------------------------------- */

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
  lp->stack_state = STACK_EMPTY;
  lp->on_error_ref = LUA_NOREF;
  uv_prepare_init(lp->uv, &lp->prepare);
  lp->prepare.data = lp;
  uv_prepare_start(&lp->prepare, on_prepare);
  uv_unref((uv_handle_t *)&lp->prepare);
  uv_idle_init(lp->uv, &lp->idle);
  lp->idle.data = lp;
  moonlet__timer_init(lp);
  uv_timer_init(lp->uv, &lp->pool_timer);
  lp->pool_timer.data = lp;
  uv_unref((uv_handle_t *)&lp->pool_timer);
  lp->main_wait.loop = lp;
  lp->main_wait.heap_idx = UINT32_MAX;
  lp->main_wait.task = NULL;
  lp->main_wait.status = MW_OK;
  mq_init(&lp->main_wait.node);
  lp->main_run.run = main_turn;
  mq_init(&lp->main_run.node);
  return 0;
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
    run_ready(lp, 0);
  }
  if (lp->nlive > 0)
    fprintf(stderr, "moonlet: %zu task(s) ignored cancellation at shutdown\n",
            lp->nlive);
}

void moonlet__loop_close(lua_State *L, moonlet_loop *lp) {
  if (lp->closed) return;
  if (lp->current || lp->driving || lp->in_callback) {
    /* lua_close from inside a task or callback (os.exit(c, true)): we are
     * on the stack we would free; leave everything to the process exit,
     * but leave the host's loop (which outlives us) and other threads. */
    moonlet__remote_close(lp);
    moonlet__host_detach(lp);
    lp->closed = 1;
    free_refs_close(lp);
    free_nat_close(lp);
    return;
  }
  moonlet__remote_close(lp); /* first: posts sent before the close run */
  shutdown_tasks(L, lp);
  moonlet__timers_close(L, lp);
  moonlet__io_close_all(lp);
  moonlet__host_detach(lp);
  moonlet__fibers_close(lp);
  lp->closed = 1;
  free_refs_close(lp);
  free_nat_close(lp);
  uv_close((uv_handle_t *)&lp->prepare, NULL);
  uv_close((uv_handle_t *)&lp->idle, NULL);
  moonlet__timer_close(lp);
  uv_close((uv_handle_t *)&lp->pool_timer, NULL);
  uv_run(lp->uv, UV_RUN_DEFAULT);
  uv_loop_close(lp->uv);
  /* Tasks that ignored cancellation keep their objects and native states;
   * their slices die with the stack. */
  moonlet__stack_close(&lp->stack);
}
