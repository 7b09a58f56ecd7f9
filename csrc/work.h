/*
 * work.h - blocking C work on libuv's thread pool, awaited by the caller
 * like any other blocking call. File operations are built on it.
 */
#ifndef MOONLET_WORK_H
#define MOONLET_WORK_H

#include "sched.h"

typedef struct moonlet_job moonlet_job;

/* Embed this first in a job struct allocated with malloc. */
struct moonlet_job {
  uv_work_t work;
  moonlet_wait *w;                 /* NULL once the waiter gave up */
  void (*run)(moonlet_job *j);     /* on a pool thread: no Lua here */
  void (*release)(moonlet_job *j); /* frees what the job owns, then j */
  int err;                         /* 0 or a negative libuv error code */
};

/* Queues j and blocks until it has run; then returns k(L, LUA_YIELD, w)
 * with j in w->data. If the caller is cancelled meanwhile, the job is
 * orphaned (released when it ends) and Cancelled is raised. Call it after
 * moonlet__enter_block has given w. */
int moonlet__job_await(lua_State *L, moonlet_loop *lp, moonlet_wait *w,
                       moonlet_job *j, lua_KFunction k);

/* In a continuation: the job the wait carried. */
#define moonlet__job_of(w) ((moonlet_job *)(w)->data)

/* Pushes nil, "ENAME: message[: detail]", "ENAME" and returns 3. */
int moonlet__push_failure(lua_State *L, int err, const char *detail);

#endif
