/*
 * poll.c - m.wait_readable(fd) and m.wait_writable(fd): waiting on a
 * descriptor moonlet does not own (a LuaSocket socket, a database
 * driver's connection, an inotify descriptor) until it is ready. One
 * uv_poll per descriptor (libuv allows no more), with at most one reader
 * and one writer waiting; it closes when nobody waits.
 *
 * moonlet.socket's sockets wait through _socket_wait instead: their poll
 * is kept between waits, until _socket_forget, which moonlet.socket calls
 * before it closes the descriptor (and before a socket's first wait, in
 * case the number was closed behind its back and reused). Initializing a
 * poll costs four system calls, stopping it one and starting it two, so a
 * kept poll goes on watching for reading while nobody waits: a socket read
 * from in turns (request, response) is waited on again for free; readable
 * twice in a row with nobody waiting stops it. Raw waits never get a kept poll that sat
 * idle: for them it is made afresh.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "io/io.h"

typedef struct fd_wait fd_wait;
typedef struct fd_poll fd_poll;

struct fd_poll {
  moonlet_loop *lp;
  int fd;
  int kept;             /* a moonlet.socket's: stays open while idle */
  int events;           /* what the poll watches for now */
  int unread;           /* readable reports in a row with no reader */
  uv_poll_t h;
  fd_wait *reader, *writer;
};

/* A task waiting: a request op, freed by whoever is last. */
struct fd_wait {
  moonlet_op op;
  fd_poll *p;           /* NULL once the poll let it go */
};

static void free_poll(uv_handle_t *h) { free(h->data); }

static void on_poll(uv_poll_t *h, int status, int events);

/* Leaves the loop's table and closes. */
static void retire(fd_poll *p) {
  p->lp->polls[p->fd] = NULL;
  uv_close((uv_handle_t *)&p->h, free_poll);
}

/* Watches what the waiters want; when nobody waits, a kept poll goes on
 * watching for reading (stopping and starting again costs three system
 * calls: a socket read from in turns is waited on again at once) unless
 * told to drop it, and any other closes. */
static int update(fd_poll *p, int drop) {
  int want = (p->reader ? UV_READABLE : 0) | (p->writer ? UV_WRITABLE : 0);
  int err = 0;
  if (!p->kept) {
    if (!want) {
      retire(p);
      return 0;
    }
  } else {
    want |= p->events & UV_READABLE & ~drop;
  }
  if (want == p->events) return 0;
  err = want ? uv_poll_start(&p->h, want, on_poll) : uv_poll_stop(&p->h);
  p->events = err ? 0 : want;
  return err;
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
  /* Readable with nobody waiting, twice (the first may be the turn
   * before its reader runs again): data for no one, stop watching. */
  int drop = 0;
  if (status < 0) drop = UV_READABLE;
  else if (events & UV_READABLE) {
    p->unread = p->reader ? 0 : p->unread + 1;
    if (p->unread >= 2) drop = UV_READABLE;
  }
  if (status < 0 || (events & UV_READABLE)) release(&p->reader, status);
  if (status < 0 || (events & UV_WRITABLE)) release(&p->writer, status);
  update(p, drop);
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
    update(p, 0);
  }
  moonlet__op_finish(op, UV_ECANCELED);
}

/* At close: every poll still open (their waiters have ended). */
static void close_polls(lua_State *L, moonlet_loop *lp) {
  int fd;
  (void)L;
  for (fd = 0; fd < lp->npolls; fd++) {
    fd_poll *p = lp->polls[fd];
    if (!p) continue;
    release(&p->reader, UV_ECANCELED);
    release(&p->writer, UV_ECANCELED);
    retire(p);
  }
  free(lp->polls);
  lp->polls = NULL;
  lp->npolls = 0;
}

/* Room in the loop's table for descriptor fd. */
static int grow(moonlet_loop *lp, int fd) {
  int n = lp->npolls ? lp->npolls : 64;
  fd_poll **t;
  while (n <= fd) n *= 2;
  if (!(t = realloc(lp->polls, (size_t)n * sizeof *t))) return UV_ENOMEM;
  memset(t + lp->npolls, 0, (size_t)(n - lp->npolls) * sizeof *t);
  if (!lp->polls) moonlet__on_close(lp, MOONLET_CLOSE_HANDLES, close_polls);
  lp->polls = t;
  lp->npolls = n;
  return 0;
}

/* The poll of fd, made if needed (afresh for a raw wait when a kept one
 * sat idle); NULL with *err set when libuv refuses the descriptor. */
static fd_poll *poll_of(moonlet_loop *lp, int fd, int kept, int *err) {
  fd_poll *p = fd < lp->npolls ? lp->polls[fd] : NULL;
  if (p && !kept && p->kept && !p->reader && !p->writer) {
    retire(p);
    p = NULL;
  }
  if (p) return p;
  if (fd >= lp->npolls && (*err = grow(lp, fd)) != 0) return NULL;
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
  lp->polls[fd] = p;
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

static int wait_fd(lua_State *L, int writable, int kept) {
  moonlet_loop *lp = moonlet__loop(L);
  lua_Integer fd = luaL_checkinteger(L, 1);
  uint64_t ms = moonlet__check_timeout(L, 2);
  fd_poll *p;
  fd_wait *w, **slot;
  int err = 0;
  luaL_argcheck(L, fd >= 0 && fd <= INT32_MAX, 1, "descriptor out of range");
  w = moonlet__req_begin(L, lp, sizeof *w, NULL); /* raises before anything */
  if (!(p = poll_of(lp, (int)fd, kept, &err))) {
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
  p->kept |= kept;
  if ((err = update(p, 0)) != 0) {
    *slot = NULL;
    w->p = NULL;
    moonlet__op_abandon(&w->op);
    update(p, UV_READABLE);
    return moonlet__push_failure(L, err, NULL);
  }
  return moonlet__op_await(L, &w->op, ms, wait_k);
}

/* wait_readable(fd[, timeout]) -> true | nil, msg, code */
static int l_wait_readable(lua_State *L) { return wait_fd(L, 0, 0); }
/* wait_writable(fd[, timeout]) -> true | nil, msg, code */
static int l_wait_writable(lua_State *L) { return wait_fd(L, 1, 0); }

/* _socket_wait(fd, writable, timeout): as wait_readable/wait_writable,
 * for a LuaSocket descriptor: its poll is kept between waits. */
static int l_socket_wait(lua_State *L) {
  int writable = lua_toboolean(L, 2);
  lua_remove(L, 2);
  return wait_fd(L, writable, 1);
}

/* _socket_forget(fd): the socket is closing (or its number was closed
 * behind its back): tasks waiting on it wake with EBADF (once closed, the
 * descriptor would never be reported ready: epoll forgets it), and the
 * poll closes. */
static int l_socket_forget(lua_State *L) {
  moonlet_loop *lp = moonlet__loop(L);
  lua_Integer fd = luaL_checkinteger(L, 1);
  fd_poll *p = fd >= 0 && fd < lp->npolls ? lp->polls[fd] : NULL;
  if (p && p->kept) {
    release(&p->reader, UV_EBADF);
    release(&p->writer, UV_EBADF);
    retire(p);
  }
  return 0;
}

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
                                   {"_socket_wait", l_socket_wait},
                                   {"_socket_forget", l_socket_forget},
                                   {NULL, NULL}};
  moonlet__setfuncs(L, lp, funcs);
}
