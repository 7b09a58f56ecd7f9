/*
 * udp.c - datagram sockets. Arriving datagrams queue on the socket (up to
 * a bound; beyond it reception pauses and the kernel drops, as UDP does)
 * until a task takes them with recv_from.
 */
#include <netdb.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "io/io.h"

#define UDP_KIND MOONLET_MT_UDP
#define MAX_QUEUED 1024
#define MAX_DATAGRAM 65536

typedef struct dgram {
  struct dgram *next;
  struct sockaddr_storage from;
  size_t len;
  char data[];
} dgram;

typedef struct mudp {
  moonlet_io io;
  uv_udp_t h;
  dgram *head, *tail;
  unsigned queued;
  int recv_err;
  int receiving;
  moonlet_op reader;
  uint64_t timeout;
  char buf[MAX_DATAGRAM];  /* libuv receives here; then it is copied */
} mudp;

static void on_closed(uv_handle_t *h) {
  mudp *u = h->data;
  while (u->head) {
    dgram *d = u->head;
    u->head = d->next;
    free(d);
  }
  moonlet__io_free(&u->io);
}

static void udp_close(moonlet_io *io) {
  mudp *u = (mudp *)io;
  moonlet__op_finish(&u->reader, 0);
  uv_close((uv_handle_t *)&u->h, on_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  mudp *u = h->data;
  (void)suggested;
  *buf = uv_buf_init(u->buf, sizeof u->buf);
}

static void on_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *buf,
                    const struct sockaddr *addr, unsigned flags) {
  mudp *u = h->data;
  dgram *d;
  (void)buf;
  (void)flags;
  if (n < 0) {
    u->recv_err = (int)n;
  } else if (addr) { /* n == 0 without an address: nothing more to read */
    d = malloc(sizeof *d + (size_t)n);
    if (!d) {
      u->recv_err = UV_ENOMEM;
    } else {
      d->next = NULL;
      d->len = (size_t)n;
      u->io.lp->stats.bytes_in += (uint64_t)n;
      memcpy(&d->from, addr, addr->sa_family == AF_INET6
                                 ? sizeof(struct sockaddr_in6)
                                 : sizeof(struct sockaddr_in));
      memcpy(d->data, u->buf, (size_t)n);
      if (u->tail) u->tail->next = d; else u->head = d;
      u->tail = d;
      if (++u->queued >= MAX_QUEUED) {
        uv_udp_recv_stop(h);
        u->receiving = 0;
      }
    }
  } else {
    return;
  }
  moonlet__op_finish(&u->reader, 0);
}

/* For task dumps: the descriptor. */
static void describe_udp(lua_State *L, moonlet_io *io) {
  uv_os_fd_t fd;
  if (uv_fileno((uv_handle_t *)&((mudp *)io)->h, &fd) == 0) {
    lua_pushinteger(L, fd);
    lua_setfield(L, -2, "fd");
  }
}

static mudp *check_udp(lua_State *L) {
  return (mudp *)moonlet__io_check(L, 1, UDP_KIND);
}

/* _udp_bind(ip, port, {reuseaddr=, ipv6only=, broadcast=}) -> socket */
static int l_bind(lua_State *L) {
  moonlet_loop *lp = moonlet__loop(L);
  const char *ip = luaL_checkstring(L, 1);
  int port = moonlet__check_port(L, 2), r;
  unsigned flags = 0;
  struct sockaddr_storage ss;
  mudp *u;
  luaL_argcheck(L, moonlet__addr(ip, port, &ss) == 0, 1, "numeric IP address expected");
  if (moonlet__opt_bool(L, 3, "reuseaddr", 0)) flags |= UV_UDP_REUSEADDR;
  if (moonlet__opt_bool(L, 3, "ipv6only", 0)) flags |= UV_UDP_IPV6ONLY;
  moonlet__io_reserve(L);
  if (!(u = malloc(sizeof *u))) return luaL_error(L, "not enough memory");
  memset(u, 0, offsetof(mudp, buf));
  uv_udp_init(lp->uv, &u->h);
  u->h.data = u;
  u->io.close = udp_close;
  u->io.describe = describe_udp;
  moonlet__io_fill(L, lp, &u->io, UDP_KIND);
  r = uv_udp_bind(&u->h, (struct sockaddr *)&ss, flags);
  if (r == 0 && moonlet__opt_bool(L, 3, "broadcast", 0))
    r = uv_udp_set_broadcast(&u->h, 1);
  if (r != 0) {
    moonlet__io_close(&u->io);
    return moonlet__push_failure(L, r, NULL);
  }
  return 1;
}

/* --- receiving ----------------------------------------------------------- */

static int push_dgram(lua_State *L, mudp *u) {
  dgram *d = u->head;
  u->head = d->next;
  if (!u->head) u->tail = NULL;
  u->queued--;
  lua_pushlstring(L, d->data, d->len);
  moonlet__push_addr(L, (struct sockaddr *)&d->from);
  free(d);
  if (!u->receiving && u->queued < MAX_QUEUED / 2 &&
      uv_udp_recv_start(&u->h, on_alloc, on_recv) == 0)
    u->receiving = 1; /* the paused socket resumes once half drained */
  return 3;
}

static const moonlet_retry recv_retry;

static int recv_step(lua_State *L, void *obj) {
  mudp *u = obj;
  if (u->head) return push_dgram(L, u);
  if (u->recv_err) {
    int e = u->recv_err;
    u->recv_err = 0;
    return moonlet__push_failure(L, e, NULL);
  }
  if (!u->receiving) {
    int r = uv_udp_recv_start(&u->h, on_alloc, on_recv);
    if (r != 0) return moonlet__push_failure(L, r, NULL);
    u->receiving = 1;
  }
  return moonlet__op_retry(L, u->io.lp, &u->reader, u->timeout, &recv_retry);
}

static const moonlet_retry recv_retry = {
    "receive", recv_step, 1, "socket is already being read by another task",
    "socket closed while receiving", NULL};

/* u:recv_from() -> data, host, port */
static int u_recv_from(lua_State *L) {
  mudp *u = check_udp(L);
  moonlet__checkpoint(L, u->io.lp);
  lua_settop(L, 1);
  return recv_step(L, u);
}

/* --- sending ------------------------------------------------------------- */

/* A send, or the lookup of the host name it goes to. */
typedef struct send_req {
  moonlet_op op;
  union {
    uv_udp_send_t send;
    uv_getaddrinfo_t ai;
  } u;
  struct addrinfo *res;
} send_req;

static void send_release(moonlet_op *op) {
  send_req *r = (send_req *)op;
  if (r->res) uv_freeaddrinfo(r->res);
}

static void on_send(uv_udp_send_t *req, int status) {
  moonlet__op_finish(req->data, status);
}

static int send_k(lua_State *L, int status, lua_KContext ctx) {
  moonlet_op_result res = moonlet__req_end(L, ctx, 1, &status);
  if (res != MOONLET_OP_DONE)
    return moonlet__op_push_result(L, res, "socket closed while sending");
  if (status < 0) return moonlet__push_failure(L, status, NULL);
  lua_pushboolean(L, 1);
  return 1;
}

/* Sends the datagram at 2 to ss; stack: socket, data, host, port. */
static int send_to(lua_State *L, mudp *u, const struct sockaddr *sa) {
  size_t len;
  const char *data = lua_tolstring(L, 2, &len);
  uv_buf_t buf = uv_buf_init((char *)data, (unsigned)len);
  send_req *req;
  int r = uv_udp_try_send(&u->h, &buf, 1, sa);
  if (r >= 0) {
    u->io.lp->stats.bytes_out += len;
    lua_pushboolean(L, 1);
    return 1;
  }
  if (r != UV_EAGAIN) return moonlet__push_failure(L, r, NULL);
  req = moonlet__req_begin(L, u->io.lp, sizeof *req, NULL);
  req->op.what = "send";
  req->op.io = &u->io;
  req->u.send.data = &req->op;
  moonlet__req_anchor(L, &req->op, 2, 1);
  r = uv_udp_send(&req->u.send, &u->h, &buf, 1, sa, on_send);
  if (r != 0) {
    moonlet__op_abandon(&req->op);
    return moonlet__push_failure(L, r, NULL);
  }
  u->io.lp->stats.bytes_out += len;
  return moonlet__op_await(L, &req->op, u->timeout, send_k);
}

static void on_resolved(uv_getaddrinfo_t *ai, int status, struct addrinfo *res) {
  send_req *r = ai->data;
  r->res = res;
  moonlet__op_finish(&r->op, status);
}

/* The host name is resolved: send to its first address. */
static int resolved_k(lua_State *L, int status, lua_KContext ctx) {
  send_req *r = (send_req *)moonlet__op_of(ctx);
  moonlet_op_result res = moonlet__op_end(L, ctx, 1);
  struct sockaddr_storage ss;
  if (res != MOONLET_OP_DONE)
    return moonlet__op_push_result(L, res, "socket closed while sending");
  status = r->op.status;
  if (status == 0 && r->res) {
    uint16_t port = htons((uint16_t)lua_tointeger(L, 4));
    memcpy(&ss, r->res->ai_addr, r->res->ai_addrlen);
    if (ss.ss_family == AF_INET6)
      ((struct sockaddr_in6 *)&ss)->sin6_port = port;
    else
      ((struct sockaddr_in *)&ss)->sin_port = port;
  } else if (status == 0) {
    status = UV_EAI_NODATA;
  }
  moonlet__op_free(&r->op);
  if (status != 0) return moonlet__push_failure(L, status, lua_tostring(L, 3));
  return send_to(L, (mudp *)moonlet__io_live(L, 1), (struct sockaddr *)&ss);
}

/* u:send_to(data, host, port) -> true | nil, msg, code; a host name is
 * looked up first (within the socket's timeout). */
static int u_send_to(lua_State *L) {
  mudp *u = check_udp(L);
  size_t len;
  const char *host = (luaL_checklstring(L, 2, &len), luaL_checkstring(L, 3));
  int port = moonlet__check_port(L, 4), r;
  struct sockaddr_storage ss;
  struct addrinfo hints;
  send_req *req;
  luaL_argcheck(L, len <= 65507, 2, "datagram larger than 65507 bytes");
  moonlet__checkpoint(L, u->io.lp);
  lua_settop(L, 4);
  if (moonlet__addr(host, port, &ss) == 0)
    return send_to(L, u, (struct sockaddr *)&ss);
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  req = moonlet__req_begin(L, u->io.lp, sizeof *req, send_release);
  req->op.what = "lookup";
  req->op.io = &u->io;
  req->u.ai.data = req;
  r = uv_getaddrinfo(u->io.lp->uv, &req->u.ai, on_resolved, host, NULL, &hints);
  if (r != 0) {
    moonlet__op_abandon(&req->op);
    return moonlet__push_failure(L, r, host);
  }
  return moonlet__op_await(L, &req->op, u->timeout, resolved_k);
}

/* --- options ------------------------------------------------------------- */

static int result(lua_State *L, int r) {
  if (r != 0) return moonlet__push_failure(L, r, NULL);
  lua_settop(L, 1);
  return 1;
}

static int u_set_broadcast(lua_State *L) {
  return result(L, uv_udp_set_broadcast(&check_udp(L)->h, lua_toboolean(L, 2)));
}

static int u_set_multicast_loop(lua_State *L) {
  return result(L, uv_udp_set_multicast_loop(&check_udp(L)->h, lua_toboolean(L, 2)));
}

static int u_set_multicast_ttl(lua_State *L) {
  mudp *u = check_udp(L);
  lua_Integer ttl = luaL_checkinteger(L, 2);
  luaL_argcheck(L, ttl >= 1 && ttl <= 255, 2, "must be in 1..255");
  return result(L, uv_udp_set_multicast_ttl(&u->h, (int)ttl));
}

static int membership(lua_State *L, uv_membership m) {
  mudp *u = check_udp(L);
  const char *group = luaL_checkstring(L, 2);
  const char *iface = luaL_optstring(L, 3, NULL);
  return result(L, uv_udp_set_membership(&u->h, group, iface, m));
}

static int u_join_group(lua_State *L) { return membership(L, UV_JOIN_GROUP); }
static int u_leave_group(lua_State *L) { return membership(L, UV_LEAVE_GROUP); }

static int u_local_address(lua_State *L) {
  mudp *u = check_udp(L);
  struct sockaddr_storage ss;
  int len = sizeof ss;
  int r = uv_udp_getsockname(&u->h, (struct sockaddr *)&ss, &len);
  if (r != 0) return moonlet__push_failure(L, r, NULL);
  return moonlet__push_addr(L, (struct sockaddr *)&ss);
}

static int u_set_timeout(lua_State *L) {
  mudp *u = check_udp(L);
  u->timeout = moonlet__check_timeout(L, 2);
  lua_settop(L, 1);
  return 1;
}

void moonlet__open_udp(lua_State *L, moonlet_loop *lp) {
  static const luaL_Reg methods[] = {
      {"recv_from", u_recv_from},
      {"send_to", u_send_to},
      {"set_broadcast", u_set_broadcast},
      {"set_multicast_loop", u_set_multicast_loop},
      {"set_multicast_ttl", u_set_multicast_ttl},
      {"join_group", u_join_group},
      {"leave_group", u_leave_group},
      {"local_address", u_local_address},
      {"set_timeout", u_set_timeout},
      {NULL, NULL}};
  static const luaL_Reg funcs[] = {{"_udp_bind", l_bind}, {NULL, NULL}};
  if (!lp->mt[UDP_KIND])
    moonlet__io_newmt(L, lp, UDP_KIND, "moonlet.udp", methods);
  moonlet__setfuncs(L, lp, funcs);
}
