/*
 * work.c - jobs on libuv's thread pool. The job struct is heap memory that
 * outlives the caller if it gives up: whoever is last (the waiter, or the
 * pool's completion callback for an orphan) releases it.
 */
#include "work.h"

static void job_run(uv_work_t *req) {
  moonlet_job *j = (moonlet_job *)req;
  j->run(j);
}

static void job_done(uv_work_t *req, int status) {
  moonlet_job *j = (moonlet_job *)req;
  if (status != 0 && j->err == 0) j->err = status;
  if (j->w)
    moonlet__wake(j->w, MW_OK);
  else
    j->release(j); /* orphaned by a cancelled waiter */
}

/* The waiter gives up (cancelled, or a deadlock in the main chunk). */
static void job_detach(moonlet_wait *w) {
  moonlet__job_of(w)->w = NULL;
}

int moonlet__job_await(lua_State *L, moonlet_loop *lp, moonlet_wait *w,
                       moonlet_job *j, lua_KFunction k) {
  int r;
  j->w = w;
  j->err = 0;
  w->data = j;
  r = uv_queue_work(lp->uv, &j->work, job_run, job_done);
  if (r != 0) {
    w->status = MW_OK;
    j->release(j);
    return luaL_error(L, "cannot queue work: %s", uv_strerror(r));
  }
  w->detach = job_detach;
  return moonlet__block(L, lp, w, k);
}

int moonlet__push_failure(lua_State *L, int err, const char *detail) {
  lua_pushnil(L);
  if (detail)
    lua_pushfstring(L, "%s: %s: %s", uv_err_name(err), uv_strerror(err), detail);
  else
    lua_pushfstring(L, "%s: %s", uv_err_name(err), uv_strerror(err));
  lua_pushstring(L, uv_err_name(err));
  return 3;
}
