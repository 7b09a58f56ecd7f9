/*
 * op.c - blocking operations (op.h): the waiter's side (begin, await,
 * end, abandon), the completion's side (finish), and who frees a request.
 */
#include <stdlib.h>

#include "io/op.h"

#include "io/io.h"

static void op_free(moonlet_op *op) {
  op->lp->nrequests--;
  if (op->release) op->release(op);
  if (op->anchor != LUA_NOREF) moonlet__unref(op->lp->LC, op->lp, op->anchor);
  free(op);
}

static void begin(moonlet_loop *lp, moonlet_op *op, moonlet_wait *w) {
  op->lp = lp;
  op->w = w;
  op->state = OP_BEGUN;
  op->status = 0;
  w->data = op;
}

moonlet_op *moonlet__op_begin(lua_State *L, moonlet_loop *lp, moonlet_op *op,
                              const char *busy) {
  moonlet_wait *w;
  if (op->w) luaL_error(L, "%s", busy);
  moonlet__check(op->state == OP_IDLE && !op->is_request);
  w = moonlet__enter_block(L, lp);
  begin(lp, op, w);
  return op;
}

void *moonlet__req_begin(lua_State *L, moonlet_loop *lp, size_t size,
                         void (*release)(moonlet_op *op)) {
  moonlet_wait *w = moonlet__enter_block(L, lp);
  moonlet_op *op = calloc(1, size);
  if (!op) {
    moonlet__end_wait(w);
    luaL_error(L, "not enough memory");
  }
  lp->nrequests++;
  op->is_request = 1;
  op->anchor = LUA_NOREF;
  op->release = release;
  begin(lp, op, w);
  return op;
}

void moonlet__req_anchor(lua_State *L, moonlet_op *op, int first, int n) {
  int i;
  moonlet__check(op->is_request && op->anchor == LUA_NOREF);
  lua_createtable(L, n, 0);
  for (i = 0; i < n; i++) {
    lua_pushvalue(L, first + i);
    lua_rawseti(L, -2, i + 1);
  }
  op->anchor = moonlet__ref(L, op->lp);
}

void moonlet__op_abandon(moonlet_op *op) {
  moonlet__check(op->state == OP_BEGUN);
  moonlet__end_wait(op->w);
  op->w = NULL;
  op->state = OP_IDLE;
  if (op->is_request) op_free(op);
}

/* The waiter gives up while the op runs: it leaves the op, which ends
 * alone. */
static void orphan(moonlet_op *op) {
  moonlet__check(op->state == OP_WAITING);
  op->w = NULL;
  op->state = op->is_request ? OP_ORPHANED : OP_IDLE;
  if (op->on_abandon) op->on_abandon(op); /* last: it may free op */
}

/* Cancellation, or a deadlock of the main chunk. */
static void op_detach(moonlet_wait *w) {
  moonlet__sleep_stop(w);
  orphan(w->data);
}

/* For task dumps. */
static void describe(lua_State *L, moonlet_wait *w) {
  moonlet_op *op = w->data;
  if (!op) return;
  if (op->io && !op->io->closed && op->io->describe) op->io->describe(L, op->io);
  if (op->describe) op->describe(L, op);
}

int moonlet__op_await(lua_State *L, moonlet_op *op, uint64_t ms,
                      lua_KFunction k) {
  moonlet_wait *w = op->w;
  moonlet__check(op->state == OP_BEGUN && w->data == op);
  if (ms > 0 && moonlet__sleep_start(op->lp, w, ms) != 0) {
    op->state = OP_WAITING;
    orphan(op);
    moonlet__end_wait(w);
    return luaL_error(L, "not enough memory");
  }
  op->state = OP_WAITING;
  w->detach = op_detach;
  w->what = op->what ? op->what : "I/O";
  w->describe = describe;
  return moonlet__block(L, op->lp, w, k);
}

static void job_run(uv_work_t *req) {
  moonlet_op *op = req->data;
  __atomic_fetch_add(&op->lp->stats.jobs_started, 1, __ATOMIC_RELAXED);
  op->run(op);
}

static void job_done(uv_work_t *req, int status) {
  moonlet_op *op = req->data;
  op->lp->stats.jobs_done++;
  moonlet__op_finish(op, status != 0 ? status : op->status);
}

int moonlet__op_queue(lua_State *L, moonlet_op *op, uv_work_t *work, lua_KFunction k) {
  int r;
  moonlet__check(op->is_request && op->run);
  work->data = op;
  r = uv_queue_work(op->lp->uv, work, job_run, job_done);
  if (r != 0) {
    moonlet__op_abandon(op);
    return luaL_error(L, "cannot queue work: %s", uv_strerror(r));
  }
  op->lp->stats.jobs_queued++;
  return moonlet__op_await(L, op, 0, k);
}

void moonlet__op_finish(moonlet_op *op, int status) {
  moonlet_wait *w = op->w;
  if (op->state == OP_ORPHANED) {
    op_free(op);
    return;
  }
  if (!w) return; /* a handle op nobody waits in */
  moonlet__check(op->state == OP_WAITING && w->data == op);
  op->status = status;
  if (op->is_request) {
    op->state = OP_FINISHED;
  } else {
    /* Free again at once, and forgotten by the waiter: the handle may be
     * freed before the waiter runs. */
    op->state = OP_IDLE;
    op->w = NULL;
    w->data = NULL;
  }
  moonlet__sleep_stop(w);
  moonlet__wake(w, MW_OK);
}

moonlet_op *moonlet__op_of(lua_KContext ctx) {
  return ((moonlet_wait *)ctx)->data;
}

moonlet_op_result moonlet__op_end(lua_State *L, lua_KContext ctx,
                                  int obj_idx) {
  moonlet_wait *w = (moonlet_wait *)ctx;
  moonlet_op *op = w->data; /* NULL: a handle op that finished */
  int closed;
  /* Cancelled: op_detach has already left the op. */
  moonlet__check_wake(L, w);
  closed = obj_idx && !moonlet__io_live(L, obj_idx);
  if (!op) return closed ? MOONLET_OP_CLOSED : MOONLET_OP_DONE;
  if (op->state == OP_WAITING) { /* the deadline woke it */
    orphan(op);
    return closed ? MOONLET_OP_CLOSED : MOONLET_OP_TIMEDOUT;
  }
  moonlet__check(op->is_request && op->state == OP_FINISHED && op->w == w);
  op->w = NULL;
  op->state = OP_IDLE;
  if (!closed) return MOONLET_OP_DONE;
  op_free(op);
  return MOONLET_OP_CLOSED;
}

void moonlet__op_free(moonlet_op *op) {
  moonlet__check(op->is_request && op->state == OP_IDLE);
  op_free(op);
}

static int retry_k(lua_State *L, int status, lua_KContext ctx) {
  const moonlet_retry *r = ((moonlet_wait *)ctx)->kdata;
  moonlet_op_result res = moonlet__op_end(L, ctx, r->obj_idx);
  (void)status;
  if (res != MOONLET_OP_DONE) return moonlet__op_push_result(L, res, r->closed);
  return r->step(L, moonlet__io_live(L, r->obj_idx));
}

int moonlet__op_retry(lua_State *L, moonlet_loop *lp, moonlet_op *op,
                      uint64_t ms, const moonlet_retry *r) {
  moonlet__op_begin(L, lp, op, r->busy);
  op->on_abandon = r->on_abandon;
  op->what = r->what;
  op->io = moonlet__io_live(L, r->obj_idx);
  op->w->kdata = r;
  return moonlet__op_await(L, op, ms, retry_k);
}

moonlet_op_result moonlet__req_end(lua_State *L, lua_KContext ctx,
                                   int obj_idx, int *status) {
  moonlet_op *op = moonlet__op_of(ctx);
  moonlet_op_result res = moonlet__op_end(L, ctx, obj_idx);
  if (res == MOONLET_OP_DONE) {
    *status = op->status;
    moonlet__op_free(op);
  }
  return res;
}

int moonlet__op_push_result(lua_State *L, moonlet_op_result res,
                            const char *what) {
  moonlet__check(res != MOONLET_OP_DONE);
  if (res == MOONLET_OP_TIMEDOUT)
    return moonlet__push_failure(L, UV_ETIMEDOUT, NULL);
  return moonlet__push_failure(L, UV_ECANCELED, what);
}
