/*
 * op.h - a blocking operation: the one way a binding makes its caller wait
 * for something libuv, the thread pool or a handle's events will finish,
 * with an optional deadline.
 *
 *   op = moonlet__op_begin(L, lp, &h->reader, busy)   (or moonlet__req_begin)
 *   ... start what will finish it; if that fails: moonlet__op_abandon(op)
 *   return moonlet__op_await(L, op, ms, k);
 *
 *   the completion (a libuv callback):   moonlet__op_finish(op, status)
 *
 *   k: switch (moonlet__op_end(L, ctx, obj_idx)) { DONE, TIMEDOUT, CLOSED }
 *
 * Beginning raises where the caller may not block, before anything has
 * changed. Cancellation raises Cancelled from moonlet__op_end. Two kinds:
 *
 * - a handle op is part of a handle's state (its reader, its acceptor):
 *   one waiter at a time, reused, never freed;
 * - a request op is malloc'd with what it runs (a libuv request, a pool
 *   job); it outlives a waiter that gives up, and whoever is last, the
 *   waiter's continuation or the completion, frees it.
 *
 * Every change of state is checked when MOONLET_CHECKS is defined (the test
 * and sanitizer builds).
 */
#ifndef MOONLET_OP_H
#define MOONLET_OP_H

#include "core/sched.h"

typedef struct moonlet_op moonlet_op;

typedef enum {
  MOONLET_OP_DONE,     /* it finished; op->status has the outcome */
  MOONLET_OP_TIMEDOUT, /* the deadline came first */
  MOONLET_OP_CLOSED    /* the object it worked on was closed meanwhile */
} moonlet_op_result;

enum {
  OP_IDLE,     /* a handle op nobody waits in */
  OP_BEGUN,    /* the caller began it; not yet waiting */
  OP_WAITING,  /* the caller is suspended in it */
  OP_FINISHED, /* the completion came; the waiter has not looked yet */
  OP_ORPHANED  /* a request whose waiter gave up; its completion frees it */
};

struct moonlet_op {
  moonlet_loop *lp;
  moonlet_wait *w;        /* the waiter, from begin to end */
  uint8_t state;
  uint8_t is_request;
  int status;             /* 0 or a negative libuv error, from finish */
  int anchor;             /* ref of Lua values a request reads, or NOREF */
  /* A request: frees what it holds (not op itself). */
  void (*release)(moonlet_op *op);
  /* The waiter gave up (timeout, cancellation) while the op runs: make it
   * end soon. Runs last; for a request, its finish may free op in it. */
  void (*on_abandon)(moonlet_op *op);
  /* A pool job: its work, on a pool thread (no Lua there). */
  void (*run)(moonlet_op *op);
  /* For task dumps: what the waiter does ("read", "connect", ...), the
   * I/O object it works on (which describes itself), and details of its
   * own, added to the table on top of L. */
  const char *what;
  struct moonlet_io *io;
  void (*describe)(lua_State *L, moonlet_op *op);
};

/* Starts a wait in the handle op (zeroed, or idle): raises busy if another
 * task waits in it, or where the caller may not block. */
moonlet_op *moonlet__op_begin(lua_State *L, moonlet_loop *lp, moonlet_op *op,
                              const char *busy);
/* Starts a request op of size bytes (zeroed; a binding's struct starts
 * with a moonlet_op); raises like moonlet__op_begin, or when out of
 * memory, with nothing to undo. */
void *moonlet__req_begin(lua_State *L, moonlet_loop *lp, size_t size,
                         void (*release)(moonlet_op *op));
/* Keeps the n values from stack index first alive until the request is
 * freed (libuv reads them). */
void moonlet__req_anchor(lua_State *L, moonlet_op *op, int first, int n);

/* What was to finish it could not start: ends the wait; frees a request. */
void moonlet__op_abandon(moonlet_op *op);

/* Suspends until the op finishes, its deadline ms from now comes (0:
 * none), or the caller is cancelled; then k(L, LUA_YIELD, ctx) runs, which
 * calls moonlet__op_end(L, ctx, ...). */
int moonlet__op_await(lua_State *L, moonlet_op *op, uint64_t ms,
                      lua_KFunction k);
/* A pool job: queues op->run on libuv's thread pool with work (the job's
 * own, beside its op: handle ops and other requests need none) and awaits
 * it; its status is a libuv error from the pool, or what run left in it. */
int moonlet__op_queue(lua_State *L, moonlet_op *op, uv_work_t *work, lua_KFunction k);

/* The completion: records status, wakes the waiter. A request nobody
 * waits for any more is freed; a handle op nobody waits in is left alone. */
void moonlet__op_finish(moonlet_op *op, int status);
/* Whether a task waits in the handle op. */
#define moonlet__op_waiting(op) ((op)->w != NULL)

/* In the continuation: raises Cancelled if the caller was cancelled, else
 * ends the wait. obj_idx (0: none) is the stack index of the I/O object
 * the op works on: CLOSED when it was closed meanwhile. After DONE the
 * request is the caller's to free (moonlet__op_free); after the others it
 * is gone or finishes alone. */
moonlet_op_result moonlet__op_end(lua_State *L, lua_KContext ctx, int obj_idx);
/* The op of a continuation's context. */
moonlet_op *moonlet__op_of(lua_KContext ctx);

/* Frees a finished request and what it holds. */
void moonlet__op_free(moonlet_op *op);

/* moonlet__op_end for a request whose status is all the caller needs:
 * after DONE, *status has it and the request is freed. */
moonlet_op_result moonlet__req_end(lua_State *L, lua_KContext ctx,
                                   int obj_idx, int *status);

/* The usual handle op: a call that serves what its object has (a read
 * from the buffer, an accept, a delivery) and otherwise waits in the
 * object's op until something arrives, then tries again. */
typedef struct moonlet_retry {
  const char *what;         /* for dumps: "read", "accept", ... */
  int (*step)(lua_State *L, void *obj); /* the call's body, again */
  int obj_idx;              /* the object's stack index */
  const char *busy;         /* the error when another task waits */
  const char *closed;       /* ECANCELED's detail when it is closed */
  void (*on_abandon)(moonlet_op *op); /* as the op's, or NULL */
} moonlet_retry;

/* Waits in the handle op (a deadline ms from now, 0: none); then returns
 * r->step(L, obj) once the op finished, or the triple of a timeout or a
 * close. r lives as long as the program (a static). */
int moonlet__op_retry(lua_State *L, moonlet_loop *lp, moonlet_op *op,
                      uint64_t ms, const moonlet_retry *r);

/* The error triple of an op that did not finish: ETIMEDOUT, or ECANCELED
 * with what (what was closed while the caller waited). Returns 3. */
int moonlet__op_push_result(lua_State *L, moonlet_op_result res,
                            const char *what);

#endif
