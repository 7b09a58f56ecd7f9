/*
 * dns.c - moonlet.dns: names to addresses and back through libuv's
 * resolver (getaddrinfo on the thread pool). Requests are request ops
 * (op.h): one outlives a caller that gives up, and its callback frees it.
 */
#include <netdb.h>
#include <string.h>

#include "io/io.h"

typedef struct dns_req {
  moonlet_op base;        /* first: freed as a request op */
  union {
    uv_getaddrinfo_t ai;
    uv_getnameinfo_t ni;  /* holds the host name found */
  } u;
  struct addrinfo *res;
} dns_req;

static void req_release(moonlet_op *r) {
  dns_req *d = (dns_req *)r;
  if (d->res) uv_freeaddrinfo(d->res);
}

static void on_addrinfo(uv_getaddrinfo_t *req, int status,
                        struct addrinfo *res) {
  dns_req *d = req->data;
  d->res = res;
  moonlet__op_finish(&d->base, status);
}

static void on_nameinfo(uv_getnameinfo_t *req, int status, const char *host,
                        const char *service) {
  (void)host;
  (void)service;
  moonlet__op_finish(&((dns_req *)req->data)->base, status);
}

/* In a continuation: the finished request, or NULL with the failure (or
 * the timeout) pushed; *n is what to return then. */
static dns_req *finished(lua_State *L, lua_KContext ctx, int *n) {
  dns_req *d = (dns_req *)moonlet__op_of(ctx);
  moonlet_op_result res = moonlet__op_end(L, ctx, 0);
  if (res != MOONLET_OP_DONE) {
    *n = moonlet__op_push_result(L, res, NULL);
    return NULL;
  }
  if (d->base.status != 0) {
    int status = d->base.status;
    moonlet__op_free(&d->base);
    *n = moonlet__push_failure(L, status, lua_tostring(L, 1));
    return NULL;
  }
  return d;
}

static void push_entry(lua_State *L, const struct addrinfo *ai) {
  char buf[64];
  if (ai->ai_family == AF_INET)
    uv_ip4_name((const struct sockaddr_in *)ai->ai_addr, buf, sizeof buf);
  else
    uv_ip6_name((const struct sockaddr_in6 *)ai->ai_addr, buf, sizeof buf);
  lua_pushstring(L, buf);
}

/* Stack: host, opts. */
static int lookup_k(lua_State *L, int status, lua_KContext ctx) {
  dns_req *d;
  const struct addrinfo *ai;
  int all, n = 0;
  (void)status;
  if (!(d = finished(L, ctx, &n))) return n;
  all = moonlet__opt_bool(L, 2, "all", 0);
  lua_newtable(L); /* seen addresses: getaddrinfo repeats them per socktype */
  if (all) lua_newtable(L);
  for (ai = d->res; ai; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    push_entry(L, ai);
    if (lua_rawget(L, all ? -3 : -2) != LUA_TNIL) {
      lua_pop(L, 1);
      continue;
    }
    lua_pop(L, 1);
    push_entry(L, ai);
    lua_pushboolean(L, 1);
    lua_rawset(L, all ? -4 : -3);
    if (!all) {
      push_entry(L, ai);
      lua_pushinteger(L, ai->ai_family == AF_INET ? 4 : 6);
      moonlet__op_free(&d->base);
      return 2;
    }
    lua_createtable(L, 0, 2);
    push_entry(L, ai);
    lua_setfield(L, -2, "address");
    lua_pushinteger(L, ai->ai_family == AF_INET ? 4 : 6);
    lua_setfield(L, -2, "family");
    lua_rawseti(L, -2, ++n);
  }
  moonlet__op_free(&d->base);
  if (!all) return moonlet__push_failure(L, UV_EAI_NODATA, lua_tostring(L, 1));
  return 1;
}

static int family_option(lua_State *L, int idx) {
  int f = AF_UNSPEC;
  if (!lua_istable(L, idx)) return f;
  lua_getfield(L, idx, "family");
  if (!lua_isnil(L, -1)) {
    lua_Integer v = lua_tointeger(L, -1);
    const char *s = lua_tostring(L, -1);
    if (v == 4 || (s && strcmp(s, "inet") == 0)) f = AF_INET;
    else if (v == 6 || (s && strcmp(s, "inet6") == 0)) f = AF_INET6;
    else luaL_error(L, "option 'family' must be 4, 6, \"inet\" or \"inet6\"");
  }
  lua_pop(L, 1);
  return f;
}

/* Awaits d, or abandons it and returns the failure to start it. */
static int start(lua_State *L, dns_req *d, int r, uint64_t ms,
                 lua_KFunction k) {
  if (r != 0) {
    moonlet__op_abandon(&d->base);
    return moonlet__push_failure(L, r, lua_tostring(L, 1));
  }
  return moonlet__op_await(L, &d->base, ms, k);
}

static dns_req *new_req(lua_State *L, moonlet_loop *lp) {
  dns_req *d = moonlet__req_begin(L, lp, sizeof *d, req_release);
  d->base.what = "dns";
  d->u.ai.data = d; /* data is the first field of every uv_req_t */
  return d;
}

/* lookup(host, {family=, all=, timeout=}) -> address, family | list */
static int l_lookup(lua_State *L) {
  moonlet_loop *lp = moonlet__loop(L);
  const char *host = luaL_checkstring(L, 1);
  struct addrinfo hints;
  uint64_t ms;
  dns_req *d;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = family_option(L, 2);
  hints.ai_socktype = SOCK_STREAM;
  ms = moonlet__opt_timeout(L, 2, "timeout");
  moonlet__opt_bool(L, 2, "all", 0);
  lua_settop(L, 2);
  d = new_req(L, lp);
  return start(L, d,
               uv_getaddrinfo(lp->uv, &d->u.ai, on_addrinfo, host, NULL, &hints),
               ms, lookup_k);
}

static int reverse_k(lua_State *L, int status, lua_KContext ctx) {
  dns_req *d;
  int n = 0;
  (void)status;
  if (!(d = finished(L, ctx, &n))) return n;
  lua_pushstring(L, d->u.ni.host);
  moonlet__op_free(&d->base);
  return 1;
}

/* reverse(ip, {timeout=}) -> name */
static int l_reverse(lua_State *L) {
  moonlet_loop *lp = moonlet__loop(L);
  const char *ip = luaL_checkstring(L, 1);
  struct sockaddr_storage ss;
  uint64_t ms = moonlet__opt_timeout(L, 2, "timeout");
  dns_req *d;
  luaL_argcheck(L, moonlet__addr(ip, 0, &ss) == 0, 1, "numeric IP address expected");
  lua_settop(L, 2);
  d = new_req(L, lp);
  return start(L, d,
               uv_getnameinfo(lp->uv, &d->u.ni, on_nameinfo,
                              (struct sockaddr *)&ss, NI_NAMEREQD),
               ms, reverse_k);
}

void moonlet__open_dns(lua_State *L, moonlet_loop *lp) {
  static const luaL_Reg funcs[] = {
      {"lookup", l_lookup}, {"reverse", l_reverse}, {NULL, NULL}};
  lua_newtable(L);
  moonlet__setfuncs(L, lp, funcs);
  lua_setfield(L, -2, "dns");
}
