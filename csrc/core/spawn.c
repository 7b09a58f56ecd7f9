/*
 * spawn.c - a task's life from spawn to its end: making it, settling its
 * future with its outcome when it ends, giving back its thread and native
 * state, and cancellation requests.
 */
#include <stdio.h>
#include <string.h>

#include "core/context.h"
#include "core/errors.h"
#include "core/future.h"
#include "core/native.h"
#include "core/spawn.h"
#include "core/threads.h"

/* Lua 5.4.6 renamed lua_resetthread and deprecated the old name. */
#if LUA_VERSION_RELEASE_NUM >= 50406
#define close_thread(T) lua_closethread((T), NULL)
#else
#define close_thread(T) lua_resetthread(T)
#endif

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
void moonlet__task_finish(moonlet_loop *lp, moonlet_task *t, int how, int nres) {
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
  reusable = T && moonlet__thread_reusable(T);
  if (how == END_RETURNED && nres <= 1 && !t->fut.has_callbacks &&
      lua_checkstack(T, 4)) {
    settle_outcome(T, &e); /* nothing in it allocates */
  } else {
    L = settle_task_protected(&e, T);
  }
  /* The task object is on top of L (which may be T) now. The slot that
   * held the thread takes the traceback; nothing below allocates, so the
   * collector cannot take the thread before the pool anchors it. */
  if (t->fut.state == FS_FAILED) lp->stats.failed++;
  moonlet__getref(L, lp, tbref);
  lua_setiuservalue(L, -2, MOONLET_UV_THREAD);
  lua_pop(L, 1);
  moonlet__unref(L, lp, tbref);
  moonlet__unref(L, lp, t->box_ref);
  t->box_ref = LUA_NOREF;
  moonlet__unref(L, lp, t->cancel_ref);
  t->cancel_ref = LUA_NOREF;
  moonlet__unref(L, lp, t->ctx_ref);
  t->ctx_ref = LUA_NOREF;
  moonlet__native_give(lp, t);
  if (reusable && !lp->closing) {
    lua_sethook(T, NULL, 0, 0); /* not into the next task */
    moonlet__thread_put(T, lp);
  }
  t->T = NULL;
}

/* Whether source names one of moonlet's own Lua modules: a spawn site is
 * where user code called them. */
static int own_source(const char *source) {
  const char *p = strstr(source, "moonlet/");
  size_t n = strlen(source);
  return p && n > 4 && strcmp(source + n - 4, ".lua") == 0 &&
         (p == source + 1 || p[-1] == '/');
}

/* Pushes where the caller spawns from: "file:line", and "in task 'name'"
 * when a task spawns (debug mode). */
static void push_origin(lua_State *L, moonlet_loop *lp) {
  lua_Debug ar;
  int level, found = 0;
  for (level = 1; lua_getstack(L, level, &ar); level++) {
    lua_getinfo(L, "Sl", &ar);
    if (ar.currentline > 0 && !own_source(ar.source)) {
      lua_pushfstring(L, "%s:%d", ar.short_src, ar.currentline);
      found = 1;
      break;
    }
  }
  if (!found) lua_pushliteral(L, "C code");
  if (lp->current) {
    moonlet__push_task(L, lp, lp->current);
    if (lua_getiuservalue(L, -1, MOONLET_UV_NAME) == LUA_TSTRING)
      lua_pushfstring(L, "%s in task '%s'", lua_tostring(L, -3),
                      lua_tostring(L, -1));
    else
      lua_pushfstring(L, "%s in task-%I", lua_tostring(L, -3),
                      (lua_Integer)lp->current->id);
    lua_replace(L, -4);
    lua_pop(L, 2);
  }
}

moonlet_task *moonlet__spawn(lua_State *L, moonlet_loop *lp, int nargs) {
  moonlet_task *t;
  lua_State *T = NULL;
  luaL_checktype(L, -nargs - 1, LUA_TFUNCTION);
  if (lp->closed) luaL_error(L, "moonlet: the loop is closed");
  t = lua_newuserdatauv(L, sizeof *t,
                        lp->debug ? MOONLET_TASK_UVS_DEBUG : MOONLET_TASK_UVS);
  memset(t, 0, sizeof *t);
  moonlet__future_init(&t->fut);
  t->fut.is_task = 1;
  t->state = TS_DONE; /* inert until fully built */
  t->box_ref = t->cancel_ref = t->ctx_ref = LUA_NOREF;
  moonlet__setmt(L, lp, -1, MOONLET_MT_TASK);
  if (lp->debug) {
    push_origin(L, lp);
    lua_setiuservalue(L, -2, MOONLET_UV_ORIGIN);
  }
  /* A task takes a pooled thread at once. When none is pooled, one
   * spawned without arguments takes a thread when it first runs
   * (bind_thread), its user value holding its function till then: a burst
   * of spawns into a fresh process then holds only task objects, and each
   * new thread is used as soon as it is made. Arguments wait on the
   * thread. */
  if (nargs > 0 || lp->npool > 0) {
    if (!(T = moonlet__thread_take(L, lp))) T = lua_newthread(L);
    if (!lua_checkstack(T, nargs + 1))
      luaL_error(L, "too many arguments to spawn");
  } else {
    lua_pushvalue(L, -2);
  }
  lua_setiuservalue(L, -2, MOONLET_UV_THREAD);
  lua_pushvalue(L, -1);
  t->box_ref = moonlet__ref(L, lp);
  t->ctx_ref = moonlet__context_inherit(L, lp); /* may raise: unbuilt yet */
  t->run.run = moonlet__step_task;
  mq_init(&t->run.node);
  mq_init(&t->live_node);
  mq_init(&t->wait.node);
  t->T = T;
  t->state = TS_NEW;
  t->nargs = nargs;
  t->id = ++lp->next_id;
  /* A task's clock runs by turns; the main chunk may have run long since. */
  t->since = lp->current || lp->in_callback ? lp->turn_now : uv_now(lp->uv);
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
