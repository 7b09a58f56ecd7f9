/*
 * loop.h - one moonlet instance: the loop struct every layer reaches
 * through its functions' first upvalue, its opening and closing, and the
 * registry of what each subsystem does when the loop closes.
 */
#ifndef MOONLET_LOOP_H
#define MOONLET_LOOP_H

#include "core/refs.h"
#include "core/sched.h"

typedef struct moonlet_host moonlet_host;
typedef struct moonlet_watchdog moonlet_watchdog;
struct moonlet_remote;

/* Closing the loop, in phases; a subsystem registers its hook in the
 * phase it belongs to when it first has something to close. */
typedef void (*moonlet_closer)(lua_State *L, moonlet_loop *lp);
enum {
  MOONLET_CLOSE_INTAKE,  /* before the tasks end: stop taking work from
                          * other threads (what came before still runs) */
  MOONLET_CLOSE_HANDLES, /* after: pending callbacks, then I/O handles */
  MOONLET_CLOSE_HOST,    /* leave the host's loop */
  MOONLET_CLOSE_MEMORY,  /* caches */
  MOONLET_CLOSE_PHASES
};
#define MOONLET_CLOSERS 4 /* per phase */

typedef struct moonlet_stats {
  uint64_t spawned, finished, failed, fast_switches, native_switches;
  uint64_t slices_copied, bytes_copied, fresh_runners;
  uint64_t iterations;      /* loop turns */
  uint64_t bytes_in, bytes_out; /* through streams and datagram sockets */
  uint64_t jobs_queued;     /* pool jobs submitted ... */
  uint64_t jobs_started, jobs_done; /* ... begun, ended (atomic: threads) */
  uint64_t watchdog_incidents; /* steps the watchdog reported */
} moonlet_stats;

/* Loop lag: how late the sleep timer fires after the earliest deadline,
 * over the last LAG_SAMPLES firings, in microseconds. */
#define MOONLET_LAG_SAMPLES 512

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
  lua_State *pool;        /* holds the idle threads (threads.c) */
  int npool;
  int pool_low;           /* the fewest pooled threads since the last trim */
  uv_timer_t pool_timer;  /* trims the pool while it holds over POOL_KEEP */
  moonlet_native *free_nat; /* native states of ended tasks, for reuse */
  int nfree_nat;
  int on_error_ref;
  int main_ctx_ref;       /* the main chunk's context (context.c) */
  int cb_box_ref;         /* holds the running callback's context */
  int debug;              /* debug mode: tasks record where they began */
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
  uint64_t turn_now;      /* loop time (ms) when this turn began: when
                           * tasks changed state, for dumps, to the turn */
  int turn_budgeted;
  mqueue live;            /* unfinished tasks */
  size_t nlive;
  mqueue timers;          /* pending call_later/call_every handles */
  mqueue io;              /* open I/O handles (io.h) */
  struct fd_poll **polls; /* by descriptor: those waited on (io/poll.c) */
  struct read_bufs *read_bufs; /* streams' spare buffers (io/stream.c) */
  int npolls;
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
  uint32_t lag_us[MOONLET_LAG_SAMPLES];
  uint32_t nlag;          /* samples taken, the ring's next slot mod size */
  uv_loop_t *host;        /* the host's loop we run inside, or NULL */
  moonlet_host *host_nest; /* our handles on it (embed.c) */
  /* Called when something becomes ready while the loop is idle: a host's
   * loop must then look at ours (embed.c sets it). */
  void (*on_ready)(moonlet_loop *lp);
  struct moonlet_remote *remote; /* other threads' way in (remote.c) */
  void *fiber_pool;       /* idle C fiber stacks (fiber.c) */
  /* The step the loop runs (watchdog.h): odd while Lua code runs, and the
   * thread it runs on; the watchdog thread reads them. */
  uint64_t step_seq;
  lua_State *step_L;
  moonlet_watchdog *watchdog; /* NULL unless enabled */
  moonlet_closer closers[MOONLET_CLOSE_PHASES][MOONLET_CLOSERS];
};


/* The loop is the first upvalue of every moonlet.core function. */
#define moonlet__loop(L) \
  ((moonlet_loop *)lua_touserdata((L), lua_upvalueindex(1)))

/* Sets up a loop (own uv loop, shared stack). Returns 0 or a libuv error. */
int moonlet__loop_init(lua_State *L, moonlet_loop *lp);
/* Cancels and finishes every task, runs the close hooks, closes the uv
 * loop. From inside a task or callback (os.exit(c, true)) it only runs the
 * intake and host phases and leaves the rest to the process exit. */
void moonlet__loop_close(lua_State *L, moonlet_loop *lp);
/* Registers fn to run in phase when the loop closes (once, however often
 * it is registered), in registration order within the phase. */
void moonlet__on_close(moonlet_loop *lp, int phase, moonlet_closer fn);

#endif
