/*
 * sched.h - the scheduler: the loop, its run queue, tasks and the waits they
 * block in. Bindings use only this header and future.h: they register a wait
 * with what they block on, call moonlet__block, and someone later calls
 * moonlet__wake (DESIGN.md sections 1-3).
 */
#ifndef MOONLET_SCHED_H
#define MOONLET_SCHED_H

#include <lauxlib.h>
#include <lua.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "core/queue.h"
#include "core/stack.h"
#include "core/switch.h"

typedef struct moonlet_loop moonlet_loop;
typedef struct moonlet_task moonlet_task;
typedef struct moonlet_wait moonlet_wait;
typedef struct moonlet_runnable moonlet_runnable;
typedef struct moonlet_host moonlet_host;
struct moonlet_remote;

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
  MOONLET_UV_NAME = 3    /* tasks: the name given with set_name */
};
#define MOONLET_FUTURE_UVS 1
#define MOONLET_TASK_UVS 3

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

/* Metatables the loop knows, for fast type checks. The *_FAILED variants
 * add a finalizer that reports an error nobody retrieved. */
enum {
  MOONLET_MT_FUTURE,
  MOONLET_MT_FUTURE_FAILED,
  MOONLET_MT_TASK,
  MOONLET_MT_TASK_FAILED,
  MOONLET_MT_CHANNEL,
  MOONLET_MT_STREAM,
  MOONLET_MT_SERVER,
  MOONLET_MT_UDP,
  MOONLET_MT_PROCESS,
  MOONLET_MT_SIGNAL,
  MOONLET_MT_FILE,
  MOONLET_MT_HTTP_CLIENT,
  MOONLET_MT_HTTP_XFER,
  MOONLET_MT_COUNT
};

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
  uint8_t state;
  uint8_t cancel_requested, fast_yield;
  uint64_t id;
  mqueue live_node;       /* link in the loop's list of unfinished tasks */
  moonlet_wait wait;
  moonlet_native *nat;    /* NULL until it first needs one */
};

typedef struct moonlet_stats {
  uint64_t spawned, finished, fast_switches, native_switches;
  uint64_t slices_copied, bytes_copied, fresh_runners;
} moonlet_stats;

/* Where the shared stack stands between steps. */
enum { STACK_EMPTY, STACK_RUNNER, STACK_TASK };

struct moonlet_loop {
  uv_loop_t *uv;
  uv_loop_t own_uv;
  lua_State *LC;          /* the thread that runs callbacks */
  int refs;               /* registry ref of the table holding our refs */
  int nrefs;              /* slots of that table ever used */
  int *free_refs;         /* slots free for reuse, last freed on top */
  int nfree_refs, cap_free_refs;
  lua_State *pool;        /* holds the idle threads (sched.c) */
  int npool;
  int pool_low;           /* the fewest pooled threads since the last trim */
  uv_timer_t pool_timer;  /* trims the pool while it holds over POOL_KEEP */
  moonlet_native *free_nat; /* native states of ended tasks, for reuse */
  int nfree_nat;
  int on_error_ref;
  int failed_ref;         /* weak-keyed table of the tasks that failed, to
                           * report at close what nobody retrieved */
  void (*c_on_error)(const char *where, const char *message,
                     const char *traceback, void *ud); /* moonlet_on_error */
  void *c_on_error_ud;
  int mt[MOONLET_MT_COUNT]; /* registry refs of our metatables, 0 unset */
  const void *mt_ptr[MOONLET_MT_COUNT];
  uv_prepare_t prepare;
  uv_idle_t idle;
  int idle_active;
  mqueue ready;           /* moonlet_runnable.node */
  size_t nready;
  size_t round_left;      /* runnables left in this round of the turn */
  unsigned turn_steps, turn_check;
  uint64_t turn_start;
  int turn_budgeted;
  mqueue live;            /* unfinished tasks */
  size_t nlive;
  mqueue timers;          /* pending call_later/call_every handles */
  mqueue io;              /* open I/O handles (io.h) */
  uv_timer_t sleep_timer; /* due at the earliest sleeper's deadline */
  moonlet_wait **sleepers; /* min-heap of sleeping waits */
  uint32_t nsleepers, cap_sleepers, sleep_seq;
  size_t nrequests;       /* request ops alive (op.h), orphans included */
  moonlet_task *current;  /* the task on the shared stack, or NULL */
  int in_callback;
  int driving;            /* the main chunk is driving the loop */
  int closing;           /* shutting down: blocking raises Cancelled */
  int closed;            /* uv loop and stack are gone */
  int force_native;
  moonlet_stack stack;
  int stack_state;
  moonlet_task *stack_owner;
  moonlet_ctx sched_ctx, runner_ctx;
  void *sched_fake, *runner_fake;
  const void *sched_lo;
  size_t sched_size;
  moonlet_wait main_wait;
  moonlet_runnable main_run; /* the main chunk's turn in the run queue */
  int main_ready;
  uint64_t next_id;
  uint64_t rng;           /* xorshift state, for select's fair choice */
  moonlet_stats stats;
  uv_loop_t *host;        /* the host's loop we run inside, or NULL */
  moonlet_host *host_nest; /* our handles on it (embed.c) */
  struct moonlet_remote *remote; /* other threads' way in (remote.c) */
  void *fiber_pool;       /* idle C fiber stacks (fiber.c) */
};

/* The loop is the first upvalue of every moonlet.core function. */
#define moonlet__loop(L) \
  ((moonlet_loop *)lua_touserdata((L), lua_upvalueindex(1)))

/* Registers funcs into the table on top with the loop as upvalue. */
void moonlet__setfuncs(lua_State *L, moonlet_loop *lp, const luaL_Reg *funcs);

/* The MOONLET_MT_* kind of the object at idx, or -1. */
int moonlet__objkind(lua_State *L, moonlet_loop *lp, int idx);
/* Pops a new metatable and records it as kind. */
void moonlet__register_mt(lua_State *L, moonlet_loop *lp, int kind);
/* Sets the metatable kind on the object at idx. */
void moonlet__setmt(lua_State *L, moonlet_loop *lp, int idx, int kind);

/* --- blocking ------------------------------------------------------------ */

/* Checks that the caller may block here and returns the wait to register.
 * Raises for callbacks, finalizers, a closed loop, and a cancelled task. */
moonlet_wait *moonlet__enter_block(lua_State *L, moonlet_loop *lp);

/* t's native state, lent from the loop if it has none yet. Raises if
 * memory is short (nothing has changed then). */
moonlet_native *moonlet__task_native(lua_State *L, moonlet_loop *lp,
                                     moonlet_task *t);

/* Bytes of slice buffers the loop keeps with its pooled native states. */
size_t moonlet__pooled_native_bytes(const moonlet_loop *lp);

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

/* --- run queue, tasks ---------------------------------------------------- */

void moonlet__enqueue(moonlet_loop *lp, moonlet_runnable *r);

/* Spawns the function at top-nargs with the nargs values above it (popping
 * them) and pushes the task object. */
moonlet_task *moonlet__spawn(lua_State *L, moonlet_loop *lp, int nargs);

/* Requests cancellation; returns 0 if the task had already finished. */
int moonlet__task_cancel(lua_State *L, moonlet_loop *lp, moonlet_task *t,
                         int msg_idx);

/* Pushes the Lua object of an unfinished task (nil once it has finished:
 * the loop anchors it only while it runs). */
void moonlet__push_task(lua_State *L, moonlet_loop *lp, moonlet_task *t);

/* The task of the task object at idx, or NULL. */
moonlet_task *moonlet__to_task(lua_State *L, int idx);

/* Drives the loop from the main chunk until its wait ends and the main
 * chunk's turn comes. Returns 0, or -1 when nothing is left that could end
 * it (deadlock). */
int moonlet__drive(moonlet_loop *lp);

/* Sets up a loop (own uv loop, shared stack). Returns 0 or a libuv error. */
int moonlet__loop_init(lua_State *L, moonlet_loop *lp);
/* Cancels and finishes every task, closes every handle and the uv loop. */
void moonlet__loop_close(lua_State *L, moonlet_loop *lp);
/* Cancels pending call_later/call_every handles (callback.c). */
void moonlet__timers_close(lua_State *L, moonlet_loop *lp);
/* Closes every open I/O handle (io.c). */
void moonlet__io_close_all(moonlet_loop *lp);
/* The sleep heap's timer (timer.c). */
void moonlet__timer_init(moonlet_loop *lp);
void moonlet__timer_close(moonlet_loop *lp);

/* Reports the failed tasks still alive whose error nobody retrieved, as
 * their finalizer would (task.c). */
void moonlet__report_unretrieved(lua_State *L, moonlet_loop *lp);

/* --- refs: values the loop keeps for C ----------------------------------- */

int moonlet__ref(lua_State *L, moonlet_loop *lp);        /* pops a value */
void moonlet__getref(lua_State *L, moonlet_loop *lp, int ref);
void moonlet__unref(lua_State *L, moonlet_loop *lp, int ref);

/* --- errors (errors.c) --------------------------------------------------- */

/* State checks, on in the test and sanitizer builds (MOONLET_CHECKS):
 * a failed one prints where and aborts. */
#ifdef MOONLET_CHECKS
#define moonlet__check(c) \
  ((c) ? (void)0 : moonlet__check_failed(#c, __FILE__, __LINE__))
#else
#define moonlet__check(c) ((void)0)
#endif
void moonlet__check_failed(const char *what, const char *file, int line);

/* The error triple of a call that returns its failure: pushes nil,
 * "ENAME: message[: detail]", "ENAME" for the libuv error err and returns
 * 3. Every module's failures, timeouts (UV_ETIMEDOUT) and closes
 * (UV_ECANCELED) are made by it. */
int moonlet__push_failure(lua_State *L, int err, const char *detail);
/* The same with a code of moonlet's own ("EWORK") and its message. */
int moonlet__push_error(lua_State *L, const char *code, const char *message);

/* Pushes a new Cancelled or Timeout error object with a traceback of L. */
void moonlet__push_error_object(lua_State *L, const char *kind,
                                const char *message);
/* Raises Cancelled for the current task (message from cancel() if any). */
int moonlet__raise_cancelled(lua_State *L, moonlet_loop *lp, moonlet_task *t);
int moonlet__is_error_kind(lua_State *L, int idx, const char *kind);

/* Calls the function below nargs values in protected mode with a traceback;
 * errors go to moonlet__report. Returns the lua_pcall status. */
int moonlet__pcall(lua_State *L, moonlet_loop *lp, int nargs,
                   const char *where);

/* Reports an error nobody handled: to on_error if set, else to stderr. The
 * error is at err_idx; traceback may be NULL; obj_idx (0: none) is the
 * task or future it came from. */
void moonlet__report(lua_State *L, moonlet_loop *lp, int err_idx,
                     const char *traceback, int obj_idx, const char *where);

void moonlet__open_errors(lua_State *L, moonlet_loop *lp);
void moonlet__open_future(lua_State *L, moonlet_loop *lp);
void moonlet__open_task(lua_State *L, moonlet_loop *lp);
void moonlet__open_timer(lua_State *L, moonlet_loop *lp);
void moonlet__open_channel(lua_State *L, moonlet_loop *lp);
void moonlet__open_fs(lua_State *L, moonlet_loop *lp);
void moonlet__open_file(lua_State *L, moonlet_loop *lp);
void moonlet__open_stream(lua_State *L, moonlet_loop *lp);
void moonlet__open_dns(lua_State *L, moonlet_loop *lp);
void moonlet__open_process(lua_State *L, moonlet_loop *lp);
void moonlet__open_signal(lua_State *L, moonlet_loop *lp);
void moonlet__open_udp(lua_State *L, moonlet_loop *lp);
void moonlet__open_offload(lua_State *L, moonlet_loop *lp);
void moonlet__open_http_parse(lua_State *L, moonlet_loop *lp);
void moonlet__open_http(lua_State *L, moonlet_loop *lp);

/* The loop of L's moonlet, or NULL before it is opened. */
moonlet_loop *moonlet__loop_of(lua_State *L);
/* Embedding (embed.c): the host loop moonlet_open asked for; running
 * inside it; leaving it. */
uv_loop_t *moonlet__host_requested(lua_State *L);
int moonlet__host_attach(moonlet_loop *lp, uv_loop_t *host);
void moonlet__host_detach(moonlet_loop *lp);
/* Closes the loop, and on a host's loop its handles there too (embed.c). */
void moonlet__close(lua_State *L, moonlet_loop *lp);
/* Keeps the host's loop running until it has looked at moonlet's. */
void moonlet__host_poke(moonlet_loop *lp);
/* Other threads (remote.c): stops taking messages and closes the async. */
void moonlet__remote_close(moonlet_loop *lp);
/* Unmaps the idle C fiber stacks (fiber.c). */
void moonlet__fibers_close(moonlet_loop *lp);

/* Puts w in the sleep heap, due ms from the loop's now; sets w->detach.
 * Returns 0 or -1 (out of memory). (timer.c) */
int moonlet__sleep_start(moonlet_loop *lp, moonlet_wait *w, uint64_t ms);
/* Takes w out of the sleep heap if it is there. */
void moonlet__sleep_stop(moonlet_wait *w);
/* Seconds to milliseconds for the sleep heap, rounded up and clamped. */
uint64_t moonlet__ms(double s);

/* A malloc'd, NUL-terminated copy of len bytes at s, or NULL. */
static inline char *moonlet__memdup(const char *s, size_t len) {
  char *c = malloc(len + 1);
  if (!c) return NULL;
  if (len) memcpy(c, s, len);
  c[len] = '\0';
  return c;
}

/* Grows the malloc'd byte buffer *buf (capacity *cap, doubling from 64)
 * to hold need bytes. 0, or -1 when out of memory (buf unchanged). */
static inline int moonlet__grow(char **buf, size_t *cap, size_t need) {
  size_t c = *cap ? *cap : 64;
  char *b;
  if (need <= *cap) return 0;
  while (c < need) c *= 2;
  if (!(b = realloc(*buf, c))) return -1;
  *buf = b;
  *cap = c;
  return 0;
}

#endif
