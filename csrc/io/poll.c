/*
 * poll.c - m.wait_readable(fd) and m.wait_writable(fd): waiting on a
 * descriptor moonlet does not own (a LuaSocket socket, a database
 * driver's connection, an inotify descriptor) until it is ready. One
 * uv_poll per descriptor (libuv allows no more), with at most one reader
 * and one writer waiting; it closes when nobody waits.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>

#include "io/io.h"

typedef struct fd_wait fd_wait;

typedef struct fd_poll {
  mqueue node;          /* loop->polls while in use */
  moonlet_loop *lp;
  int fd;
  uv_poll_t h;
  fd_wait *reader, *writer;
} fd_poll;

/* A task waiting: a request op, freed by whoever is last. */
struct fd_wait {
  moonlet_op op;
  fd_poll *p;           /* NULL once the poll let it go */
};

static void free_poll(uv_handle_t *h) { free(h->data); }

static void on_poll(uv_poll_t *h, int status, int events);

/* Watches what the waiters want; closes the poll when nobody waits. */
static int update(fd_poll *p) {
  int events = (p->reader ? UV_READABLE : 0) | (p->writer ? UV_WRITABLE : 0);
  if (events) return uv_poll_start(&p->h, events, on_poll);
  mq_remove(&p->node);
  uv_close((uv_handle_t *)&p->h, free_poll);
  return 0;
}

/* Ends the wait in *slot with status. */
static void release(fd_wait **slot, int status) {
  fd_wait *w = *slot;
  if (!w) return;
  *slot = NULL;
  w->p = NULL;
  moonlet__op_finish(&w->op, status);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  fd_poll *p = h->data;
  if (status < 0 || (events & UV_READABLE)) release(&p->reader, status);
  if (status < 0 || (events & UV_WRITABLE)) release(&p->writer, status);
  update(p);
}

/* The waiter gave up (timeout, cancellation): it leaves the poll, and
 * nothing else will finish it. */
static void abandon(moonlet_op *op) {
  fd_wait *w = (fd_wait *)op;
  fd_poll *p = w->p;
  if (p) {
    if (p->reader == w) p->reader = NULL;
    if (p->writer == w) p->writer = NULL;
    w->p = NULL;
    update(p);
  }
  moonlet__op_finish(op, UV_ECANCELED);
}

/* At close: every poll still open (their waiters have ended). */
static void close_polls(lua_State *L, moonlet_loop *lp) {
  (void)L;
  while (lp->polls.next != &lp->polls) {
    fd_poll *p = mq_data(lp->polls.next, fd_poll, node);
    release(&p->reader, UV_ECANCELED);
    release(&p->writer, UV_ECANCELED);
    update(p);
  }
}

/* The poll of fd, made if needed; NULL with *err set when libuv refuses
 * the descriptor. */
static fd_poll *poll_of(moonlet_loop *lp, int fd, int *err) {
  mqueue *q;
  fd_poll *p;
  for (q = lp->polls.next; q != &lp->polls; q = q->next) {
    p = mq_data(q, fd_poll, node);
    if (p->fd == fd) return p;
  }
  if (!(p = calloc(1, sizeof *p))) {
    *err = UV_ENOMEM;
    return NULL;
  }
  if ((*err = uv_poll_init(lp->uv, &p->h, fd)) != 0) {
    free(p);
    return NULL;
  }
  p->h.data = p;
  p->lp = lp;
  p->fd = fd;
  mq_push(&lp->polls, &p->node);
  moonlet__on_close(lp, MOONLET_CLOSE_HANDLES, close_polls);
  return p;
}

static int wait_k(lua_State *L, int status, lua_KContext ctx) {
  moonlet_op_result res = moonlet__req_end(L, ctx, 0, &status);
  if (res != MOONLET_OP_DONE) return moonlet__op_push_result(L, res, NULL);
  if (status < 0) return moonlet__push_failure(L, status, NULL);
  lua_pushboolean(L, 1);
  return 1;
}

/* For task dumps. */
static void describe(lua_State *L, moonlet_op *op) {
  fd_wait *w = (fd_wait *)op;
  if (!w->p) return;
  lua_pushinteger(L, w->p->fd);
  lua_setfield(L, -2, "fd");
}

static int wait_fd(lua_State *L, int writable) {
  moonlet_loop *lp = moonlet__loop(L);
  lua_Integer fd = luaL_checkinteger(L, 1);
  uint64_t ms = moonlet__check_timeout(L, 2);
  fd_poll *p;
  fd_wait *w, **slot;
  int err = 0;
  luaL_argcheck(L, fd >= 0 && fd <= INT32_MAX, 1, "descriptor out of range");
  w = moonlet__req_begin(L, lp, sizeof *w, NULL); /* raises before anything */
  if (!(p = poll_of(lp, (int)fd, &err))) {
    moonlet__op_abandon(&w->op);
    return moonlet__push_failure(L, err, NULL);
  }
  slot = writable ? &p->writer : &p->reader;
  if (*slot) {
    moonlet__op_abandon(&w->op);
    return luaL_error(L, "another task is waiting for this descriptor to be %s",
                      writable ? "writable" : "readable");
  }
  w->op.what = writable ? "wait writable" : "wait readable";
  w->op.describe = describe;
  w->op.on_abandon = abandon;
  w->p = p;
  *slot = w;
  if ((err = update(p)) != 0) {
    *slot = NULL;
    w->p = NULL;
    moonlet__op_abandon(&w->op);
    update(p);
    return moonlet__push_failure(L, err, NULL);
  }
  return moonlet__op_await(L, &w->op, ms, wait_k);
}

/* wait_readable(fd[, timeout]) -> true | nil, msg, code */
static int l_wait_readable(lua_State *L) { return wait_fd(L, 0); }
/* wait_writable(fd[, timeout]) -> true | nil, msg, code */
static int l_wait_writable(lua_State *L) { return wait_fd(L, 1); }

/* Adds an entry to fds for each descriptor in the array at idx. */
static int collect(lua_State *L, int idx, short events, struct pollfd *fds, int n) {
  lua_Integer i, len = idx ? (lua_Integer)lua_rawlen(L, idx) : 0;
  for (i = 1; i <= len; i++, n++) {
    lua_rawgeti(L, idx, i);
    fds[n].fd = (int)luaL_optinteger(L, -1, -1);
    fds[n].events = events;
    fds[n].revents = 0;
    lua_pop(L, 1);
  }
  return n;
}

/* The positions of the ready ones among n entries, as a new array. */
static void push_ready(lua_State *L, const struct pollfd *fds, int n) {
  int i, k = 0;
  lua_createtable(L, 0, 0);
  for (i = 0; i < n; i++) {
    if (fds[i].revents & (fds[i].events | POLLERR | POLLHUP)) {
      lua_pushinteger(L, i + 1);
      lua_rawseti(L, -2, ++k);
    }
  }
}

/* _ready(rfds, wfds) -> rpos, wpos: which descriptors are readable and
 * which writable now, without waiting (poll(2): no FD_SETSIZE limit);
 * negative entries are never ready. */
static int l_ready(lua_State *L) {
  int r = lua_isnoneornil(L, 1) ? 0 : 1, w = lua_isnoneornil(L, 2) ? 0 : 2;
  lua_Integer nr, nw;
  struct pollfd *fds;
  if (r) luaL_checktype(L, 1, LUA_TTABLE);
  if (w) luaL_checktype(L, 2, LUA_TTABLE);
  nr = r ? (lua_Integer)lua_rawlen(L, 1) : 0;
  nw = w ? (lua_Integer)lua_rawlen(L, 2) : 0;
  luaL_argcheck(L, nr + nw <= 1 << 20, 1, "too many descriptors");
  fds = lua_newuserdatauv(L, (size_t)(nr + nw + 1) * sizeof *fds, 0);
  collect(L, r, POLLIN, fds, 0);
  collect(L, w, POLLOUT, fds, (int)nr);
  if (poll(fds, (nfds_t)(nr + nw), 0) < 0) return moonlet__push_failure(L, uv_translate_sys_error(errno), NULL);
  push_ready(L, fds, (int)nr);
  push_ready(L, fds + nr, (int)nw);
  return 2;
}

void moonlet__open_poll(lua_State *L, moonlet_loop *lp) {
  static const luaL_Reg funcs[] = {{"wait_readable", l_wait_readable},
                                   {"wait_writable", l_wait_writable},
                                   {"_ready", l_ready},
                                   {NULL, NULL}};
  moonlet__setfuncs(L, lp, funcs);
}
