/*
 * remote.c - other OS threads' way into a moonlet instance: posting a
 * function to run on the loop thread, and resolving or failing futures.
 * Messages go through a mutex-protected list and one uv_async; the values
 * they carry are deep copies, made by the sending thread.
 *
 * The remote outlives the loop: the loop holds one reference and every
 * handle or future reference another; after the loop closes, sends fail
 * with MOONLET_ECLOSED and the last release frees it.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/errors.h"
#include "core/future.h"
#include "module.h"
#include "moonlet.h"

#define MAX_DEPTH 32

enum { MSG_POST, MSG_RESOLVE, MSG_FAIL, MSG_DROP };

typedef struct msg {
  struct msg *next;
  int kind;
  int ref;                 /* the future (loop-side ref) */
  void (*fn)(lua_State *L, void *data);
  void *data;
  int n;
  moonlet_value *values;   /* deep copies */
  char *error;
} msg;

struct moonlet_remote {
  pthread_mutex_t mu;
  int refs;                /* the loop's, and one per handle and future ref */
  int closed;
  msg *head, *tail;
  uv_async_t async;        /* owned by the loop thread */
  moonlet_loop *lp;        /* NULL once closed */
  int keepers;             /* loop thread: held handles and unsettled future
                            * refs, for which the async keeps the loop alive */
  int unholds;             /* handles released since the loop last looked */
};

struct moonlet_future_ref {
  moonlet_remote *r;
  int ref;
};

static void release(moonlet_remote *r) {
  int left;
  pthread_mutex_lock(&r->mu);
  left = --r->refs;
  pthread_mutex_unlock(&r->mu);
  if (left == 0) {
    pthread_mutex_destroy(&r->mu);
    free(r);
  }
}

/* On the loop thread: while anything another thread holds can still send
 * (a handle, a future ref), the loop stays alive for it, as for any I/O. */
static void keep(moonlet_remote *r, int delta) {
  r->keepers += delta;
  if (r->keepers > 0) uv_ref((uv_handle_t *)&r->async);
  else uv_unref((uv_handle_t *)&r->async);
}

/* --- copies of values ---------------------------------------------------- */

static void free_values(moonlet_value *v, size_t n);

static void free_value(moonlet_value *v) {
  if (v->type == LUA_TSTRING) {
    free((char *)v->v.s);
  } else if (v->type == LUA_TTABLE && v->v.t) {
    moonlet_table *t = (moonlet_table *)v->v.t;
    free_values((moonlet_value *)t->keys, t->n);
    free_values((moonlet_value *)t->values, t->n);
    free(t);
  }
}

static void free_values(moonlet_value *v, size_t n) {
  size_t i;
  if (!v) return;
  for (i = 0; i < n; i++) free_value(&v[i]);
  free(v);
}

static moonlet_value *copy_values(const moonlet_value *src, size_t n, int depth);

/* 0, or -1 (out of memory, too deep, or a type that cannot cross). */
static int copy_value(moonlet_value *d, const moonlet_value *s, int depth) {
  *d = *s;
  switch (s->type) {
    case LUA_TNIL: case LUA_TBOOLEAN: case LUA_TNUMBER: return 0;
    case LUA_TSTRING:
      return (d->v.s = moonlet__memdup(s->v.s, s->len)) ? 0 : -1;
    case LUA_TTABLE: {
      moonlet_table *t;
      if (depth >= MAX_DEPTH || !s->v.t) return -1;
      if (!(t = calloc(1, sizeof *t))) return -1;
      d->v.t = t;
      t->n = s->v.t->n;
      if (t->n == 0) return 0;
      if (!(t->keys = copy_values(s->v.t->keys, t->n, depth + 1))) return -1;
      if (!(t->values = copy_values(s->v.t->values, t->n, depth + 1))) return -1;
      return 0;
    }
    default:
      d->type = LUA_TNIL;
      return -1;
  }
}

static moonlet_value *copy_values(const moonlet_value *src, size_t n, int depth) {
  moonlet_value *v = calloc(n ? n : 1, sizeof *v);
  size_t i;
  if (!v) return NULL;
  for (i = 0; i < n; i++) {
    if (copy_value(&v[i], &src[i], depth) != 0) {
      free_values(v, i + 1);
      return NULL;
    }
  }
  return v;
}

static void push_value(lua_State *L, const moonlet_value *v) {
  luaL_checkstack(L, 3, "value too deep");
  switch (v->type) {
    case LUA_TBOOLEAN: lua_pushboolean(L, v->v.b); break;
    case LUA_TNUMBER:
      if (v->is_int) lua_pushinteger(L, v->v.i); else lua_pushnumber(L, v->v.n);
      break;
    case LUA_TSTRING: lua_pushlstring(L, v->v.s, v->len); break;
    case LUA_TTABLE: {
      size_t i;
      lua_createtable(L, 0, (int)v->v.t->n);
      for (i = 0; i < v->v.t->n; i++) {
        push_value(L, &v->v.t->keys[i]);
        push_value(L, &v->v.t->values[i]);
        if (lua_isnil(L, -2)) lua_pop(L, 2); /* nil keys cannot be stored */
        else lua_rawset(L, -3);
      }
      break;
    }
    default: lua_pushnil(L); break;
  }
}

/* --- the loop side ------------------------------------------------------- */

/* post: runs fn(L, data) outside any task. */
static int run_post(lua_State *L) {
  msg *m = lua_touserdata(L, 1);
  lua_settop(L, 0);
  m->fn(L, m->data);
  return 0;
}

/* (msg, loop): settles the message's future. Allocates: run protected. */
static int settle_future(lua_State *L) {
  msg *m = lua_touserdata(L, 1);
  moonlet_loop *lp = lua_touserdata(L, 2);
  moonlet_future *f;
  moonlet__getref(L, lp, m->ref);
  f = moonlet__to_future(L, -1);
  if (f && f->state == FS_PENDING) {
    int obj = lua_gettop(L), i;
    if (m->kind == MSG_RESOLVE) {
      luaL_checkstack(L, m->n, "too many values");
      for (i = 0; i < m->n; i++) push_value(L, &m->values[i]);
      moonlet__future_settle(L, lp, f, obj, FS_DONE, m->n);
    } else {
      lua_pushstring(L, m->kind == MSG_DROP ? "abandoned by its thread" : m->error);
      moonlet__future_settle(L, lp, f, obj, FS_FAILED, 1);
    }
  }
  return 0;
}

/* In a libuv callback, where nothing may raise: a future that cannot take
 * its values for lack of memory fails with the memory error. */
static void settle(moonlet_loop *lp, msg *m) {
  lua_State *L = lp->LC;
  lua_settop(L, 0);
  lua_pushcfunction(L, settle_future); /* LC, idle, has LUA_MINSTACK room */
  lua_pushlightuserdata(L, m);
  lua_pushlightuserdata(L, lp);
  if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
    moonlet_future *f;
    moonlet__getref(L, lp, m->ref);
    f = moonlet__to_future(L, -1);
    if (f && f->state == FS_PENDING) {
      lua_pushvalue(L, -2);
      moonlet__future_fail_quietly(L, lp, f, -2);
    }
  }
  lua_settop(L, 0);
  moonlet__unref(L, lp, m->ref);
  keep(lp->remote, -1);
}

static void free_msg(msg *m) {
  free_values(m->values, (size_t)m->n);
  free(m->error);
  free(m);
}

/* Runs the posts and settles the futures in the list m (taking it). */
static void deliver(moonlet_loop *lp, msg *m) {
  msg *next;
  for (; m; m = next) {
    next = m->next;
    if (lp && !lp->closed) {
      if (m->kind == MSG_POST) {
        lua_State *L = lp->LC;
        lua_pushcfunction(L, run_post);
        lua_pushlightuserdata(L, m);
        lp->in_callback = 1;
        moonlet__pcall(L, lp, 1, "a function posted from another thread");
        lp->in_callback = 0;
        lua_settop(L, 0);
      } else {
        settle(lp, m);
      }
    }
    free_msg(m);
  }
}

static void on_async(uv_async_t *a) {
  moonlet_remote *r = a->data;
  msg *m;
  int unholds;
  pthread_mutex_lock(&r->mu);
  m = r->head;
  r->head = r->tail = NULL;
  unholds = r->unholds;
  r->unholds = 0;
  pthread_mutex_unlock(&r->mu);
  deliver(r->lp, m);
  if (unholds) keep(r, -unholds);
}

static void remote_close(lua_State *L, moonlet_loop *lp);

static moonlet_remote *remote_of(lua_State *L) {
  moonlet_loop *lp = moonlet__loop_of(L);
  moonlet_remote *r;
  if (!lp || lp->closed || lp->closing) return NULL;
  if (lp->remote) return lp->remote;
  if (!(r = calloc(1, sizeof *r))) return NULL;
  if (pthread_mutex_init(&r->mu, NULL) != 0) {
    free(r);
    return NULL;
  }
  if (uv_async_init(lp->uv, &r->async, on_async) != 0) {
    pthread_mutex_destroy(&r->mu);
    free(r);
    return NULL;
  }
  uv_unref((uv_handle_t *)&r->async);
  r->async.data = r;
  r->refs = 1; /* the loop's */
  r->lp = lp;
  lp->remote = r;
  moonlet__on_close(lp, MOONLET_CLOSE_INTAKE, remote_close);
  return r;
}

static void on_async_closed(uv_handle_t *h) { release(h->data); }

/* At close: takes no more messages, and closes the async. */
static void remote_close(lua_State *L, moonlet_loop *lp) {
  moonlet_remote *r = lp->remote;
  (void)L;
  msg *m;
  if (!r) return;
  pthread_mutex_lock(&r->mu);
  r->closed = 1;
  m = r->head;
  r->head = r->tail = NULL;
  pthread_mutex_unlock(&r->mu);
  /* What was sent before the close still arrives: posts run. */
  deliver(lp, m);
  lp->remote = NULL;
  r->lp = NULL;
  uv_close((uv_handle_t *)&r->async, on_async_closed);
}

/* Queues m (taking it) unless the instance closed. */
static int send_msg(moonlet_remote *r, msg *m) {
  int closed;
  pthread_mutex_lock(&r->mu);
  closed = r->closed;
  if (!closed) {
    m->next = NULL;
    if (r->tail) r->tail->next = m; else r->head = m;
    r->tail = m;
    uv_async_send(&r->async);
  }
  pthread_mutex_unlock(&r->mu);
  if (closed) {
    free_msg(m);
    return MOONLET_ECLOSED;
  }
  return MOONLET_OK;
}

/* --- the public side ----------------------------------------------------- */

/* A reference on the instance's remote, for a handle or a future ref. */
static moonlet_remote *take(lua_State *L) {
  moonlet_remote *r = remote_of(L);
  if (!r) return NULL;
  pthread_mutex_lock(&r->mu);
  r->refs++;
  pthread_mutex_unlock(&r->mu);
  return r;
}

moonlet_remote *moonlet_remote_get(lua_State *L) {
  moonlet_remote *r = take(L);
  if (r) keep(r, 1);
  return r;
}

void moonlet_remote_release(moonlet_remote *r) {
  if (!r) return;
  /* Any thread: the loop thread lets go of the loop at its next look. */
  pthread_mutex_lock(&r->mu);
  if (!r->closed) {
    r->unholds++;
    uv_async_send(&r->async);
  }
  pthread_mutex_unlock(&r->mu);
  release(r);
}

int moonlet_post(moonlet_remote *r, void (*fn)(lua_State *L, void *data),
                 void *data) {
  msg *m;
  if (!r || !fn) return MOONLET_ERROR;
  if (!(m = calloc(1, sizeof *m))) return MOONLET_ENOMEM;
  m->kind = MSG_POST;
  m->fn = fn;
  m->data = data;
  return send_msg(r, m);
}

/* Pushes a new future and the ref that anchors it. */
static int push_future_ref(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  lua_getfield(L, -1, "moonlet.core");
  lua_getfield(L, -1, "future");
  lua_call(L, 0, 1);
  lua_pushvalue(L, -1);
  lua_pushinteger(L, moonlet__ref(L, moonlet__loop_of(L)));
  return 2;
}

moonlet_future_ref *moonlet_future_new(lua_State *L) {
  moonlet_remote *r = take(L);
  moonlet_future_ref *f;
  if (!r) return NULL;
  if (!(f = malloc(sizeof *f))) {
    release(r);
    return NULL;
  }
  /* Protected, so that a memory error there gives back f and r first. */
  lua_pushcfunction(L, push_future_ref);
  if (lua_pcall(L, 0, 2, 0) != LUA_OK) {
    free(f);
    release(r);
    lua_error(L);
  }
  f->ref = (int)lua_tointeger(L, -1);
  lua_pop(L, 1);
  f->r = r;
  keep(r, 1);
  return f;
}

/* Sends m for f and frees f. */
static int send_future(moonlet_future_ref *f, msg *m) {
  moonlet_remote *r = f->r;
  int st;
  m->ref = f->ref;
  free(f);
  st = send_msg(r, m);
  release(r);
  return st;
}

int moonlet_future_resolve_threadsafe(moonlet_future_ref *f, int n,
                                      const moonlet_value *values) {
  msg *m;
  if (!f) return MOONLET_ERROR;
  if (n < 0 || (n > 0 && !values)) {
    moonlet_future_fail_threadsafe(f, "bad values from another thread");
    return MOONLET_ERROR;
  }
  if (!(m = calloc(1, sizeof *m))) {
    moonlet_future_drop(f);
    return MOONLET_ENOMEM;
  }
  if (n > 0 && !(m->values = copy_values(values, (size_t)n, 0))) {
    free(m);
    moonlet_future_fail_threadsafe(f, "values that cannot cross threads (out of "
                                      "memory, nested too deep or of another type)");
    return MOONLET_ERROR;
  }
  m->kind = MSG_RESOLVE;
  m->n = n;
  return send_future(f, m);
}

int moonlet_future_fail_threadsafe(moonlet_future_ref *f, const char *message) {
  msg *m;
  if (!f) return MOONLET_ERROR;
  if (!(m = calloc(1, sizeof *m))) return MOONLET_ENOMEM;
  m->kind = MSG_FAIL;
  m->error = strdup(message ? message : "failed");
  if (!m->error) m->kind = MSG_DROP;
  return send_future(f, m);
}

void moonlet_future_drop(moonlet_future_ref *f) {
  msg *m;
  if (!f) return;
  if (!(m = calloc(1, sizeof *m))) return;
  m->kind = MSG_DROP;
  send_future(f, m);
}
