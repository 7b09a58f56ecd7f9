/*
 * stream.c - streams and servers over uv_stream_t.
 *
 * Reading: bytes land straight in the stream's read buffer (rbuf.h), which
 * serves the io formats; the stream keeps reading while someone waits or
 * the buffer holds less than a high-water mark, so a slow reader stops the
 * peer through TCP flow control instead of growing memory. A buffer that
 * empties goes back to the loop's pool (rbuf.h), so idle streams hold none;
 * while the pool holds more than a few spares, every two seconds it frees
 * those no read needed meanwhile (the timer stops once it is down to them,
 * so a quiet loop is not woken).
 *
 * Writing: write() first tries to hand everything to the kernel at once;
 * what is left goes through uv_write, and the writer waits until libuv has
 * passed it on. The pending bytes are the caller's own strings, anchored
 * until then, so nothing is copied and the queue never holds more than
 * what waiting writers gave it. A writer that is cancelled or times out
 * leaves its bytes queued: the byte stream is never torn.
 */
#include <stdlib.h>
#include <string.h>

#include "io/rbuf.h"
#include "io/stream.h"

#define READ_CHUNK MOONLET_RBUF_CHUNK
#define TRIM_MS 2000
#define SPARES_KEPT 4 /* at least, through quiet times */
#define READ_HIGH_WATER (256u << 10) /* buffered with no reader: pause */

typedef struct mstream {
  moonlet_io io;
  union {
    uv_handle_t h;
    uv_stream_t s;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } u;
  moonlet_rbuf rb;
  int read_err;           /* UV_EOF or an error: reading has ended */
  int write_err;          /* the first write error: later writes fail */
  int reading;
  int pending;            /* server: a connection waits for accept */
  moonlet_op reader;      /* or, on a server, the accepting task */
  uint64_t timeout;       /* ms for each later operation; 0: none */
} mstream;

#define STREAM_KIND MOONLET_MT_STREAM
#define SERVER_KIND MOONLET_MT_SERVER

/* --- lifetime ------------------------------------------------------------ */

static void on_closed(uv_handle_t *h) {
  mstream *s = h->data;
  moonlet__rbuf_free(&s->rb);
  moonlet__io_free(&s->io);
}

static void stream_close(moonlet_io *io) {
  mstream *s = (mstream *)io;
  moonlet__op_finish(&s->reader, 0);
  /* Pending writes and a pending connect end with UV_ECANCELED. */
  uv_close(&s->u.h, on_closed);
}

/* For task dumps: the descriptor, and the peer of a connected TCP stream. */
static void describe_stream(lua_State *L, moonlet_io *io) {
  mstream *s = (mstream *)io;
  struct sockaddr_storage ss;
  uv_os_fd_t fd;
  int len = sizeof ss;
  if (uv_fileno(&s->u.h, &fd) == 0) {
    lua_pushinteger(L, fd);
    lua_setfield(L, -2, "fd");
  }
  if (s->u.h.type == UV_TCP &&
      uv_tcp_getpeername(&s->u.tcp, (struct sockaddr *)&ss, &len) == 0 &&
      moonlet__push_addr(L, (struct sockaddr *)&ss) == 2) {
    lua_pushfstring(L, "%s:%d", lua_tostring(L, -2), (int)lua_tointeger(L, -1));
    lua_setfield(L, -4, "peer");
    lua_pop(L, 2);
  }
}

/* The loop's spare read buffers and the timer that trims them. */
struct read_bufs {
  moonlet_rbuf_pool pool;
  uv_timer_t trim;
};

static void trim_read_bufs(uv_timer_t *t) {
  struct read_bufs *rb = t->data;
  moonlet__rbuf_pool_trim(&rb->pool, SPARES_KEPT);
  if (rb->pool.n <= SPARES_KEPT) uv_timer_stop(t);
}

/* After a read: the buffer it emptied may have grown the pool past what
 * is kept; trimming then starts, measuring use from now. */
static void trim_later(moonlet_loop *lp) {
  struct read_bufs *rb = lp->read_bufs;
  if (!rb || rb->pool.n <= SPARES_KEPT || uv_is_active((uv_handle_t *)&rb->trim)) return;
  rb->pool.low = rb->pool.n;
  uv_timer_start(&rb->trim, trim_read_bufs, TRIM_MS, TRIM_MS);
}

static void free_read_bufs(uv_handle_t *h) {
  struct read_bufs *rb = h->data;
  moonlet__rbuf_pool_free(&rb->pool);
  free(rb);
}

/* Streams are closed by now: nothing takes from the pool or adds to it. */
static void close_read_bufs(lua_State *L, moonlet_loop *lp) {
  (void)L;
  uv_close((uv_handle_t *)&lp->read_bufs->trim, free_read_bufs);
  lp->read_bufs = NULL;
}

/* The loop's pool of spare read buffers, made with its first stream (NULL
 * when out of memory: streams then keep their buffers). Its timer keeps
 * no loop alive, and runs only while there is something to trim. */
static moonlet_rbuf_pool *read_bufs(moonlet_loop *lp) {
  struct read_bufs *rb = lp->read_bufs;
  if (!rb) {
    if (!(rb = calloc(1, sizeof *rb))) return NULL;
    uv_timer_init(lp->uv, &rb->trim);
    rb->trim.data = rb;
    uv_unref((uv_handle_t *)&rb->trim);
    lp->read_bufs = rb;
    moonlet__on_close(lp, MOONLET_CLOSE_HANDLES, close_read_bufs);
  }
  return &rb->pool;
}

int moonlet__stream_spare_buffers(moonlet_loop *lp) {
  return lp->read_bufs ? lp->read_bufs->pool.n : 0;
}

int moonlet__stream_own_handle(moonlet_loop *lp, const uv_handle_t *h) {
  return lp->read_bufs && h == (const uv_handle_t *)&lp->read_bufs->trim;
}

/* Pushes a new stream (or server) object; raises when out of memory. */
static mstream *new_stream(lua_State *L, moonlet_loop *lp, int kind,
                           int pipe) {
  mstream *s;
  moonlet__io_reserve(L);
  if (!(s = calloc(1, sizeof *s))) luaL_error(L, "not enough memory");
  if (pipe)
    uv_pipe_init(lp->uv, &s->u.pipe, 0);
  else
    uv_tcp_init(lp->uv, &s->u.tcp);
  s->u.h.data = s;
  s->io.close = stream_close;
  s->io.describe = describe_stream;
  moonlet__rbuf_init(&s->rb);
  s->rb.pool = read_bufs(lp);
  moonlet__io_fill(L, lp, &s->io, kind);
  return s;
}

uv_pipe_t *moonlet__stream_pipe(lua_State *L, moonlet_loop *lp) {
  return &new_stream(L, lp, STREAM_KIND, 1)->u.pipe;
}

static mstream *check_stream(lua_State *L, int idx) {
  return (mstream *)moonlet__io_check(L, idx, STREAM_KIND);
}

/* --- reading ------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  mstream *s = h->data;
  size_t room = 0;
  char *p = moonlet__rbuf_reserve(&s->rb, READ_CHUNK, &room);
  (void)suggested;
  *buf = uv_buf_init(p, p ? (unsigned)room : 0);
}

static void on_read(uv_stream_t *h, ssize_t n, const uv_buf_t *buf) {
  mstream *s = h->data;
  (void)buf;
  if (n > 0) {
    moonlet__rbuf_commit(&s->rb, (size_t)n);
    s->io.lp->stats.bytes_in += (uint64_t)n;
  } else if (n < 0) {
    s->read_err = (int)n;
    uv_read_stop(h);
    s->reading = 0;
  } else {
    return;
  }
  if (moonlet__op_waiting(&s->reader)) {
    moonlet__op_finish(&s->reader, 0);
  } else if (s->reading && moonlet__rbuf_len(&s->rb) > READ_HIGH_WATER) {
    uv_read_stop(h);
    s->reading = 0;
  }
}

static const moonlet_retry read_retry;

/* Serves the format from the buffer, waiting for data as needed. The
 * stack is: stream, format. */
static int read_step(lua_State *L, void *obj) {
  mstream *s = obj;
  moonlet_loop *lp = s->io.lp;
  moonlet_rfmt f;
  moonlet__rfmt_check(L, 2, -1, &f);
  for (;;) {
    int r;
    /* After an error, what is buffered is still served; then the error. */
    if (s->read_err != 0 && s->read_err != UV_EOF && moonlet__rbuf_len(&s->rb) == 0)
      return moonlet__push_failure(L, s->read_err, NULL);
    r = moonlet__rbuf_take(L, &s->rb, &f, s->read_err != 0);
    if (r > 0) {
      trim_later(lp);
      return 1;
    }
    if (r < 0)
      return moonlet__push_failure(L, UV_ENOBUFS, "line longer than max_line");
    if (!s->reading) {
      int e = uv_read_start(&s->u.s, on_alloc, on_read);
      if (e != 0) {
        s->read_err = e;
        continue;
      }
      s->reading = 1;
    }
    break;
  }
  return moonlet__op_retry(L, lp, &s->reader, s->timeout, &read_retry);
}

static const moonlet_retry read_retry = {
    "read", read_step, 1, "stream is already being read by another task",
    "stream closed while reading", NULL};

static int s_read(lua_State *L) {
  mstream *s = check_stream(L, 1);
  moonlet_rfmt f;
  luaL_argcheck(L, lua_gettop(L) <= 2, 3, "one format per call");
  moonlet__rfmt_check(L, 2, -1, &f);
  moonlet__checkpoint(L, s->io.lp);
  lua_settop(L, 2);
  return read_step(L, s);
}

/* --- writing ------------------------------------------------------------- */

/* A write, shutdown or connect: the request op and libuv's request. */
typedef struct stream_req {
  moonlet_op op;
  union {
    uv_write_t write;
    uv_shutdown_t shutdown;
    uv_connect_t connect;
  } u;
  mstream *s;
} stream_req;

static void on_write(uv_write_t *req, int status) {
  stream_req *r = req->data;
  if (status < 0 && status != UV_ECANCELED && r->s->write_err == 0)
    r->s->write_err = status;
  moonlet__op_finish(&r->op, status);
}

/* A request for s, begun (see op.h). */
static stream_req *stream_req_begin(lua_State *L, mstream *s,
                                    const char *what) {
  stream_req *r = moonlet__req_begin(L, s->io.lp, sizeof *r, NULL);
  r->op.what = what;
  r->op.io = &s->io;
  r->s = s;
  r->u.write.data = r; /* data is the first field of every uv_req_t */
  return r;
}

/* After a write or shutdown: the stream, or nil, message, code. */
static int op_k(lua_State *L, int status, lua_KContext ctx) {
  moonlet_op_result res = moonlet__req_end(L, ctx, 1, &status);
  if (res != MOONLET_OP_DONE)
    return moonlet__op_push_result(L, res, "stream closed while writing");
  if (status < 0) return moonlet__push_failure(L, status, NULL);
  lua_settop(L, 1);
  return 1;
}

#define SMALL_BUFS 8

static int s_write(lua_State *L) {
  mstream *s = check_stream(L, 1);
  moonlet_loop *lp = s->io.lp;
  int n = lua_gettop(L) - 1, i, first = 0, r;
  uv_buf_t small[SMALL_BUFS], *bufs = small;
  size_t total = 0, done, sent;
  stream_req *op;
  for (i = 0; i < n; i++) {
    if (lua_type(L, i + 2) != LUA_TNUMBER) luaL_checktype(L, i + 2, LUA_TSTRING);
    luaL_checklstring(L, i + 2, NULL); /* numbers become strings in place */
  }
  moonlet__checkpoint(L, lp);
  if (s->write_err) return moonlet__push_failure(L, s->write_err, NULL);
  if (n > SMALL_BUFS) bufs = lua_newuserdatauv(L, (size_t)n * sizeof *bufs, 0);
  for (i = 0; i < n; i++) {
    size_t len;
    const char *p = lua_tolstring(L, i + 2, &len);
    bufs[i] = uv_buf_init((char *)p, (unsigned)len);
    total += len;
  }
  if (total == 0) {
    lua_settop(L, 1);
    return 1;
  }
  r = uv_try_write(&s->u.s, bufs, (unsigned)n);
  if (r == UV_EAGAIN || r == UV_ENOSYS) r = 0;
  if (r < 0) {
    s->write_err = r;
    return moonlet__push_failure(L, r, NULL);
  }
  sent = (size_t)r;
  lp->stats.bytes_out += sent; /* the rest once uv_write takes it */
  if (sent == total) {
    lua_settop(L, 1);
    return 1;
  }
  for (done = (size_t)r; done >= bufs[first].len; first++) done -= bufs[first].len;
  bufs[first].base += done;
  bufs[first].len -= (unsigned)done;
  op = stream_req_begin(L, s, "write");
  moonlet__req_anchor(L, &op->op, 2, n);
  r = uv_write(&op->u.write, &s->u.s, bufs + first, (unsigned)(n - first),
               on_write);
  if (r != 0) {
    moonlet__op_abandon(&op->op);
    s->write_err = r;
    return moonlet__push_failure(L, r, NULL);
  }
  lp->stats.bytes_out += total - sent;
  return moonlet__op_await(L, &op->op, s->timeout, op_k);
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  moonlet__op_finish(&((stream_req *)req->data)->op, status);
}

static int s_shutdown(lua_State *L) {
  mstream *s = check_stream(L, 1);
  stream_req *op;
  int r;
  moonlet__checkpoint(L, s->io.lp);
  lua_settop(L, 1);
  op = stream_req_begin(L, s, "shutdown");
  r = uv_shutdown(&op->u.shutdown, &s->u.s, on_shutdown);
  if (r != 0) {
    moonlet__op_abandon(&op->op);
    return moonlet__push_failure(L, r, NULL);
  }
  return moonlet__op_await(L, &op->op, s->timeout, op_k);
}

/* --- connecting ---------------------------------------------------------- */

static void on_connect(uv_connect_t *req, int status) {
  moonlet__op_finish(&((stream_req *)req->data)->op, status);
}

/* A connect given up on (timeout, cancellation) closes its half-made
 * stream at once; the request then ends with UV_ECANCELED. */
static void connect_abandon(moonlet_op *op) {
  moonlet__io_close(&((stream_req *)op)->s->io);
}


static void apply_tcp_options(mstream *s, int nodelay, lua_Integer keepalive) {
  if (s->u.h.type != UV_TCP) return;
  uv_tcp_nodelay(&s->u.tcp, nodelay);
  if (keepalive > 0) uv_tcp_keepalive(&s->u.tcp, 1, (unsigned)keepalive);
}

static lua_Integer opt_keepalive(lua_State *L, int idx) {
  lua_Integer k = 0;
  if (!lua_istable(L, idx)) return 0;
  switch (lua_getfield(L, idx, "keepalive")) {
    case LUA_TBOOLEAN: k = lua_toboolean(L, -1) ? 60 : 0; break;
    case LUA_TNIL: break;
    default:
      if (!lua_isinteger(L, -1) || (k = lua_tointeger(L, -1)) < 0)
        luaL_error(L, "option 'keepalive' must be a boolean or seconds");
  }
  lua_pop(L, 1);
  return k;
}

/* Stack: address, port or nil, opts, stream. */
static int connect_k(lua_State *L, int status, lua_KContext ctx) {
  moonlet_op_result res = moonlet__req_end(L, ctx, 4, &status);
  mstream *s = (mstream *)moonlet__io_live(L, 4);
  if (res != MOONLET_OP_DONE)
    return moonlet__op_push_result(L, res, "stream closed while connecting");
  if (status != 0) {
    moonlet__io_close(&s->io);
    return moonlet__push_failure(L, status, NULL);
  }
  apply_tcp_options(s, moonlet__opt_bool(L, 3, "nodelay", 1), opt_keepalive(L, 3));
  s->timeout = 0;
  lua_settop(L, 4);
  return 1;
}

static int bind_option(lua_State *L, mstream *s) {
  struct sockaddr_storage ss;
  int port = 0, r;
  const char *ip;
  if (!lua_istable(L, 3) || lua_getfield(L, 3, "bind") == LUA_TNIL) {
    if (lua_istable(L, 3)) lua_pop(L, 1);
    return 0;
  }
  if (lua_istable(L, -1)) {
    lua_rawgeti(L, -1, 2);
    port = lua_isnil(L, -1) ? 0 : (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    lua_rawgeti(L, -1, 1);
    lua_replace(L, -2);
  }
  ip = lua_tostring(L, -1);
  if (!ip || moonlet__addr(ip, port, &ss) != 0)
    luaL_error(L, "option 'bind' must be a numeric IP address or {ip, port}");
  r = uv_tcp_bind(&s->u.tcp, (struct sockaddr *)&ss, 0);
  lua_pop(L, 1);
  return r;
}

/* _tcp_connect(ip, port, opts): ip is numeric (the Lua layer resolves). */
static int l_tcp_connect(lua_State *L) {
  moonlet_loop *lp = moonlet__loop(L);
  const char *ip = luaL_checkstring(L, 1);
  int port = moonlet__check_port(L, 2), r;
  struct sockaddr_storage ss;
  uint64_t ms = moonlet__opt_timeout(L, 3, "timeout");
  mstream *s;
  stream_req *op;
  luaL_argcheck(L, moonlet__addr(ip, port, &ss) == 0, 1, "numeric IP address expected");
  opt_keepalive(L, 3);
  lua_settop(L, 3);
  moonlet__checkpoint(L, lp);
  s = new_stream(L, lp, STREAM_KIND, 0);
  r = bind_option(L, s);
  if (r != 0) {
    moonlet__io_close(&s->io);
    return moonlet__push_failure(L, r, "bind");
  }
  op = stream_req_begin(L, s, "connect");
  r = uv_tcp_connect(&op->u.connect, &s->u.tcp, (struct sockaddr *)&ss, on_connect);
  if (r != 0) {
    moonlet__op_abandon(&op->op);
    moonlet__io_close(&s->io);
    return moonlet__push_failure(L, r, NULL);
  }
  op->op.on_abandon = connect_abandon;
  return moonlet__op_await(L, &op->op, ms, connect_k);
}

static int l_pipe_connect(lua_State *L) {
  moonlet_loop *lp = moonlet__loop(L);
  const char *path = luaL_checkstring(L, 1);
  uint64_t ms = moonlet__opt_timeout(L, 2, "timeout");
  mstream *s;
  stream_req *op;
  lua_settop(L, 2);
  lua_pushnil(L);
  lua_insert(L, 2); /* the same stack as connect_k's: path, nil, opts */
  moonlet__checkpoint(L, lp);
  s = new_stream(L, lp, STREAM_KIND, 1);
  op = stream_req_begin(L, s, "connect");
  uv_pipe_connect(&op->u.connect, &s->u.pipe, path, on_connect);
  op->op.on_abandon = connect_abandon;
  return moonlet__op_await(L, &op->op, ms, connect_k);
}

/* --- servers ------------------------------------------------------------- */

static void on_connection(uv_stream_t *h, int status) {
  mstream *s = h->data;
  if (status < 0)
    s->read_err = status;
  else
    s->pending = 1;
  moonlet__op_finish(&s->reader, 0);
}

static mstream *listen_on(lua_State *L, moonlet_loop *lp, int pipe,
                          const struct sockaddr *sa, const char *path,
                          int backlog, int *err) {
  mstream *s = new_stream(L, lp, SERVER_KIND, pipe);
  int r = pipe ? uv_pipe_bind(&s->u.pipe, path)
               : uv_tcp_bind(&s->u.tcp, sa, 0);
  if (r == 0) r = uv_listen(&s->u.s, backlog, on_connection);
  if (r != 0) {
    moonlet__io_close(&s->io);
    *err = r;
    return NULL;
  }
  return s;
}

static int backlog_option(lua_State *L, int idx) {
  lua_Integer b = moonlet__opt_int(L, idx, "backlog", 511);
  if (b < 1 || b > 65535) luaL_error(L, "option 'backlog' must be in 1..65535");
  return (int)b;
}

/* _tcp_listen(ip, port, opts) -> server */
static int l_tcp_listen(lua_State *L) {
  moonlet_loop *lp = moonlet__loop(L);
  const char *ip = luaL_checkstring(L, 1);
  int port = moonlet__check_port(L, 2), err = 0;
  int backlog = backlog_option(L, 3);
  struct sockaddr_storage ss;
  luaL_argcheck(L, moonlet__addr(ip, port, &ss) == 0, 1, "numeric IP address expected");
  if (!listen_on(L, lp, 0, (struct sockaddr *)&ss, NULL, backlog, &err))
    return moonlet__push_failure(L, err, NULL);
  return 1;
}

static int l_pipe_listen(lua_State *L) {
  moonlet_loop *lp = moonlet__loop(L);
  const char *path = luaL_checkstring(L, 1);
  int backlog = backlog_option(L, 2), err = 0;
  if (!listen_on(L, lp, 1, NULL, path, backlog, &err))
    return moonlet__push_failure(L, err, path);
  return 1;
}

static const moonlet_retry accept_retry;

static int accept_step(lua_State *L, void *obj) {
  mstream *s = obj;
  moonlet_loop *lp = s->io.lp;
  if (s->read_err) {
    int e = s->read_err;
    s->read_err = 0;
    return moonlet__push_failure(L, e, NULL);
  }
  if (s->pending) {
    mstream *c = new_stream(L, lp, STREAM_KIND, s->u.h.type == UV_NAMED_PIPE);
    int r = uv_accept(&s->u.s, &c->u.s);
    s->pending = 0;
    if (r == 0) {
      apply_tcp_options(c, 1, 0);
      return 1;
    }
    moonlet__io_close(&c->io);
    lua_pop(L, 1);
    if (r != UV_EAGAIN) return moonlet__push_failure(L, r, NULL);
  }
  return moonlet__op_retry(L, lp, &s->reader, s->timeout, &accept_retry);
}

static const moonlet_retry accept_retry = {
    "accept", accept_step, 1, "server is already accepting in another task",
    "server closed", NULL};

static int sv_accept(lua_State *L) {
  mstream *s = (mstream *)moonlet__io_check(L, 1, SERVER_KIND);
  moonlet__checkpoint(L, s->io.lp);
  lua_settop(L, 1);
  return accept_step(L, s);
}

/* --- addresses and settings ---------------------------------------------- */

static int push_name(lua_State *L, mstream *s, int peer) {
  if (s->u.h.type == UV_TCP) {
    struct sockaddr_storage ss;
    int len = sizeof ss;
    int r = peer ? uv_tcp_getpeername(&s->u.tcp, (struct sockaddr *)&ss, &len)
                 : uv_tcp_getsockname(&s->u.tcp, (struct sockaddr *)&ss, &len);
    if (r != 0) return moonlet__push_failure(L, r, NULL);
    return moonlet__push_addr(L, (struct sockaddr *)&ss);
  } else {
    char buf[1024];
    size_t len = sizeof buf;
    int r = peer ? uv_pipe_getpeername(&s->u.pipe, buf, &len)
                 : uv_pipe_getsockname(&s->u.pipe, buf, &len);
    if (r != 0) return moonlet__push_failure(L, r, NULL);
    lua_pushlstring(L, buf, len);
    return 1;
  }
}

static int s_peer(lua_State *L) { return push_name(L, check_stream(L, 1), 1); }
static int s_local(lua_State *L) { return push_name(L, check_stream(L, 1), 0); }
static int sv_address(lua_State *L) {
  return push_name(L, (mstream *)moonlet__io_check(L, 1, SERVER_KIND), 0);
}

static int set_timeout(lua_State *L, int kind) {
  mstream *s = (mstream *)moonlet__io_check(L, 1, kind);
  s->timeout = moonlet__check_timeout(L, 2);
  lua_settop(L, 1);
  return 1;
}

static int s_set_timeout(lua_State *L) { return set_timeout(L, STREAM_KIND); }
static int sv_set_timeout(lua_State *L) { return set_timeout(L, SERVER_KIND); }

static int s_set_max_line(lua_State *L) {
  mstream *s = check_stream(L, 1);
  lua_Integer n = luaL_checkinteger(L, 2);
  luaL_argcheck(L, n > 0, 2, "must be positive");
  s->rb.max_line = (size_t)n;
  lua_settop(L, 1);
  return 1;
}

void moonlet__open_stream(lua_State *L, moonlet_loop *lp) {
  static const luaL_Reg stream_methods[] = {
      {"read", s_read},
      {"lines", moonlet__io_lines},
      {"write", s_write},
      {"shutdown", s_shutdown},
      {"peer", s_peer},
      {"local_address", s_local},
      {"set_timeout", s_set_timeout},
      {"set_max_line", s_set_max_line},
      {NULL, NULL}};
  static const luaL_Reg server_methods[] = {
      {"accept", sv_accept},
      {"address", sv_address},
      {"set_timeout", sv_set_timeout},
      {NULL, NULL}};
  static const luaL_Reg funcs[] = {
      {"_tcp_connect", l_tcp_connect}, {"_tcp_listen", l_tcp_listen},
      {"_pipe_connect", l_pipe_connect}, {"_pipe_listen", l_pipe_listen},
      {NULL, NULL}};
  if (!lp->mt[STREAM_KIND]) {
    moonlet__io_newmt(L, lp, STREAM_KIND, "moonlet.stream", stream_methods);
    moonlet__io_newmt(L, lp, SERVER_KIND, "moonlet.server", server_methods);
  }
  moonlet__setfuncs(L, lp, funcs);
}
