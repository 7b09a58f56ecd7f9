/*
 * sched.h - the scheduler: its run queue, tasks, and the waits they block
 * in. A blocking call begins a wait (moonlet__enter_block), registers it
 * with what it waits on, and suspends (moonlet__block); whoever ends the
 * wait calls moonlet__wake, and the call's continuation checks how it
 * ended (moonlet__check_wake). I/O bindings do all of it through one
 * blocking operation (io/op.h).
 */
#ifndef MOONLET_SCHED_H
#define MOONLET_SCHED_H

#include <lauxlib.h>
#include <lua.h>
#include <stdint.h>
#include <uv.h>

#include "core/queue.h"
#include "core/stack.h"
#include "core/switch.h"

typedef struct moonlet_loop moonlet_loop;
typedef struct moonlet_task moonlet_task;
typedef struct moonlet_wait moonlet_wait;
typedef struct moonlet_runnable moonlet_runnable;

/* Something the run queue runs: a task step or a callback. */
struct moonlet_runnable {
  mqueue node;
  void (*run)(moonlet_loop *lp, moonlet_runnable *r);
};

/* Outcome of a wait, set once by whoever ends it. */
enum { MW_PENDING, MW_OK, MW_CANCELLED };

/* One blocking call in progress. It lives in heap memory (the task, or the
 * loop for the main chunk), never on the shared stack, because the stack
 * slice of a suspended task may be copied away. */
struct moonlet_wait {
  moonlet_loop *loop;
  moonlet_task *task;   /* NULL: the main chunk, which drives the loop */
  lua_State *L;         /* the thread blocked in it (a task may block inside
                         * a coroutine of its own) */
  int vidx;             /* channel send: L's stack index of the value offered */
  uint8_t status;
  uint8_t resumed;      /* set by the scheduler when it resumes the waiter */
  uint8_t closed;       /* channel: woken because the channel closed */
  void (*detach)(moonlet_wait *w); /* unhooks it from what it waits on */
  /* If set, waking calls it instead of scheduling the task: a select's
   * per-case waits report to the select this way. */
  void (*notify)(moonlet_wait *w);
  void *data;           /* for detach and notify */
  const void *kdata;    /* for the continuation (io/op.h's retry) */
  /* What it waits on, for task dumps: a kind ("sleep", "channel recv",
   * "read", ...) and what adds details to the table on top of L. */
  const char *what;
  void (*describe)(lua_State *L, moonlet_wait *w);
  mqueue node;          /* link in the awaited object's waiter list */
  uint64_t deadline;    /* sleep: loop time in ms */
  uint32_t seq;         /* sleep: arrival order among equal deadlines */
  uint32_t heap_idx;    /* sleep: index in loop->sleepers */
};

/* Futures: a result slot with waiters and done-callbacks (future.h). */
enum { FS_PENDING, FS_DONE, FS_FAILED, FS_CANCELLED };

/* User values of future and task objects. While a future is pending its
 * first user value holds the parked done-callbacks, then its outcome. */
enum {
  MOONLET_UV_RESULT = 1, /* callbacks; then the result(s) or the error */
  MOONLET_UV_THREAD = 2, /* tasks: the function of one spawned without
                          * arguments until it first runs; the Lua thread
                          * while it runs; then the traceback of the error
                          * it ended with */
  MOONLET_UV_NAME = 3,   /* tasks: the name given with set_name */
  MOONLET_UV_ORIGIN = 4  /* tasks spawned in debug mode: where, by whom */
};
#define MOONLET_FUTURE_UVS 1
#define MOONLET_TASK_UVS 3
#define MOONLET_TASK_UVS_DEBUG 4

/* The hottest objects (futures, tasks, channels) start with a tag, so a
 * type check reads the object instead of fetching its metatable. Lua code
 * cannot write a userdata's bytes, so it cannot forge one. */
#define MOONLET_TAG_FUTURE 0x4655545552452e6dULL  /* futures and tasks */
#define MOONLET_TAG_CHANNEL 0x4348414e4e454c6dULL

/* The userdata at idx if it starts with tag, else NULL. */
static inline void *moonlet__tagged(lua_State *L, int idx, uint64_t tag) {
  uint64_t *p = lua_touserdata(L, idx);
  if (!p || lua_rawlen(L, idx) < sizeof *p || *p != tag) return NULL;
  return p;
}

typedef struct moonlet_future {
  uint64_t tag;            /* MOONLET_TAG_FUTURE */
  int nres;                /* number of result values */
  uint8_t state;
  uint8_t retrieved;       /* someone looked at the outcome */
  uint8_t is_task;
  uint8_t has_callbacks;
  mqueue waiters;          /* moonlet_wait.node */
} moonlet_future;


enum {
  TS_NEW,       /* spawned, never ran */
  TS_RUNNING,   /* on the shared stack right now */
  TS_FAST,      /* suspended with lua_yieldk: no C frames kept */
  TS_NATIVE,    /* suspended by a register switch: C frames kept */
  TS_DONE
};

/* What only a task that suspends natively or runs a C fiber needs. The
 * loop lends it on first need and takes it back, slice buffer and all, when
 * the task ends, so most tasks stay small and natively switching ones do not
 * allocate. */
typedef struct moonlet_native {
  moonlet_ctx ctx;        /* registers while natively suspended */
  moonlet_slice slice;    /* its stack slice while another task owns it */
  void *fake_stack;       /* AddressSanitizer's per-fiber state */
  /* Inside a C fiber (fiber.c): the fiber's own stack, where ctx lives, and
   * where the task's frames on the shared stack end (its slice). */
  moonlet_stack *fiber;
  void *shared_sp;
  struct moonlet_native *next; /* in the loop's free list */
} moonlet_native;

/* A task lives inside its Lua object; the loop anchors the object (box_ref)
 * until the task ends, then the collector owns it like any value. */
struct moonlet_task {
  moonlet_future fut;     /* first: a task is a future */
  moonlet_runnable run;   /* link in the run queue */
  lua_State *T;           /* its Lua thread (user value THREAD), or NULL */
  int box_ref;            /* the task object, in refs, while unfinished */
  int cancel_ref;         /* the message given to cancel, in refs, till then */
  int nargs;              /* arguments waiting on T for the first resume */
  int shield;             /* > 0: cancellation is held back (shield) */
  int ctx_ref;            /* its context table (context.c), or NOREF */
  uint64_t since;         /* loop time (ms) it entered its state */
  uint8_t state;
  uint8_t cancel_requested, fast_yield;
  uint64_t id;
  mqueue live_node;       /* link in the loop's list of unfinished tasks */
  moonlet_wait wait;
  moonlet_native *nat;    /* NULL until it first needs one */
};

/* --- blocking ------------------------------------------------------------ */

/* Checks that the caller may block here and returns the wait to register.
 * Raises for callbacks, finalizers, a closed loop, and a cancelled task. */
moonlet_wait *moonlet__enter_block(lua_State *L, moonlet_loop *lp);

/* Raises Cancelled if the current task was cancelled (and is not shielded).
 * Operations that may complete without blocking call it first, so every
 * blocking-capable call is a cancellation point. */
void moonlet__checkpoint(lua_State *L, moonlet_loop *lp);

/* Suspends until w is woken, then returns k(L, LUA_YIELD, w). On the fast
 * path this yields (k runs on resume); on the native path it switches
 * stacks; for the main chunk it drives the loop. */
int moonlet__block(lua_State *L, moonlet_loop *lp, moonlet_wait *w,
                   lua_KFunction k);

/* First thing every continuation does: raises Cancelled, or an error if
 * the task thread was resumed by someone else. */
void moonlet__check_wake(lua_State *L, moonlet_wait *w);

/* Ends a wait its caller began but will not block in (any more), unhooking
 * it from what it waits on: what a binding does when starting fails. */
void moonlet__end_wait(moonlet_wait *w);

/* Ends a pending wait (no-op if already ended) and makes its task ready, or
 * calls its notify hook (a select's per-case waits). */
void moonlet__wake(moonlet_wait *w, int status);

/* Unlinks w.node; the usual detach for waits kept in a list. */
void moonlet__detach_node(moonlet_wait *w);

/* Registers w at the end of a waiter list, on data, described for dumps
 * as what (and by describe, or NULL). */
void moonlet__wait_in(moonlet_wait *w, mqueue *list, void *data,
                      const char *what,
                      void (*describe)(lua_State *L, moonlet_wait *w));

/* --- run queue ----------------------------------------------------------- */

/* Appends r to the run queue (no-op if it is queued). */
void moonlet__enqueue(moonlet_loop *lp, moonlet_runnable *r);

/* Runs what is ready, in FIFO rounds; a budgeted turn (a loop iteration)
 * stops after a bounded number of steps or time, so I/O is polled. */
void moonlet__run_ready(moonlet_loop *lp, int budgeted);

/* A task's turn in the run queue: starts or continues it. */
void moonlet__step_task(moonlet_loop *lp, moonlet_runnable *r);

/* Drives the loop from the main chunk until its wait ends and the main
 * chunk's turn comes. Returns 0, or -1 when nothing is left that could end
 * it (deadlock). */
int moonlet__drive(moonlet_loop *lp);

/* The scheduler's own handles on the uv loop, and the main chunk's wait. */
void moonlet__sched_init(moonlet_loop *lp);
void moonlet__sched_close(moonlet_loop *lp);

#endif
