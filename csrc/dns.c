/*
 * dns.c - moonlet.dns: names to addresses and back through libuv's
 * resolver (getaddrinfo on the thread pool). A request outlives a caller
 * that gives up; its callback then frees it.
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"

typedef struct dns_req {
  union {
    uv_getaddrinfo_t ai;
    uv_getnameinfo_t ni;
  } req;
  moonlet_wait *w;        /* NULL once the caller gave up */
  int status, done;
  struct addrinfo *res;
  char host[NI_MAXHOST];
} dns_req;

static void req_free(dns_req *d) {
  if (d->res) uv_freeaddrinfo(d->res);
  free(d);
}

static void req_finish(dns_req *d, int status) {
  d->status = status;
  d->done = 1;
  if (!d->w) {
    req_free(d);
    return;
  }
  moonlet__sleep_stop(d->w);
  moonlet__wake(d->w, MW_OK);
}

static void on_addrinfo(uv_getaddrinfo_t *req, int status,
                        struct addrinfo *res) {
  dns_req *d = (dns_req *)req;
  d->res = res;
  req_finish(d, status);
}

static void on_nameinfo(uv_getnameinfo_t *req, int status, const char *host,
                        const char *service) {
  dns_req *d = (dns_req *)req;
  (void)service;
  if (status == 0 && host) snprintf(d->host, sizeof d->host, "%s", host);
  req_finish(d, status);
}

static void req_detach(moonlet_wait *w) {
  ((dns_req *)w->data)->w = NULL;
  moonlet__sleep_stop(w);
}

/* The request a continuation waited for, or NULL after its deadline. */
static dns_req *req_result(lua_State *L, moonlet_wait *w) {
  dns_req *d = w->data;
  moonlet__check_wake(L, w);
  if (!d->done) {
    d->w = NULL; /* left to finish alone */
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
  dns_req *d = req_result(L, (moonlet_wait *)ctx);
  const struct addrinfo *ai;
  int all, n = 0;
  (void)status;
  if (!d) return moonlet__push_timeout(L);
  if (d->status != 0) {
    status = d->status;
    req_free(d);
    return moonlet__push_failure(L, status, lua_tostring(L, 1));
  }
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
      req_free(d);
      return 2;
    }
    lua_createtable(L, 0, 2);
    push_entry(L, ai);
    lua_setfield(L, -2, "address");
    lua_pushinteger(L, ai->ai_family == AF_INET ? 4 : 6);
    lua_setfield(L, -2, "family");
    lua_rawseti(L, -2, ++n);
  }
  req_free(d);
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

static dns_req *req_new(lua_State *L, moonlet_wait *w) {
  dns_req *d = calloc(1, sizeof *d);
  if (!d) {
    w->status = MW_OK;
    luaL_error(L, "not enough memory");
  }
  d->w = w;
  w->data = d;
  return d;
}

/* lookup(host, {family=, all=, timeout=}) -> address, family | list */
static int l_lookup(lua_State *L) {
  moonlet_loop *lp = moonlet__loop(L);
  const char *host = luaL_checkstring(L, 1);
  struct addrinfo hints;
  uint64_t ms;
  moonlet_wait *w;
  dns_req *d;
  int r;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = family_option(L, 2);
  hints.ai_socktype = SOCK_STREAM;
  ms = moonlet__opt_timeout(L, 2, "timeout");
  moonlet__opt_bool(L, 2, "all", 0);
  lua_settop(L, 2);
  w = moonlet__enter_block(L, lp);
  d = req_new(L, w);
  r = uv_getaddrinfo(lp->uv, &d->req.ai, on_addrinfo, host, NULL, &hints);
  if (r != 0) {
    w->status = MW_OK;
    req_free(d);
    return moonlet__push_failure(L, r, host);
  }
  return moonlet__io_block(L, lp, w, ms, req_detach, lookup_k);
}

static int reverse_k(lua_State *L, int status, lua_KContext ctx) {
  dns_req *d = req_result(L, (moonlet_wait *)ctx);
  (void)status;
  if (!d) return moonlet__push_timeout(L);
  if (d->status != 0) {
    status = d->status;
    req_free(d);
    return moonlet__push_failure(L, status, lua_tostring(L, 1));
  }
  lua_pushstring(L, d->host);
  req_free(d);
  return 1;
}

/* reverse(ip, {timeout=}) -> name */
static int l_reverse(lua_State *L) {
  moonlet_loop *lp = moonlet__loop(L);
  const char *ip = luaL_checkstring(L, 1);
  struct sockaddr_storage ss;
  uint64_t ms = moonlet__opt_timeout(L, 2, "timeout");
  moonlet_wait *w;
  dns_req *d;
  int r;
  luaL_argcheck(L, moonlet__addr(ip, 0, &ss) == 0, 1, "numeric IP address expected");
  lua_settop(L, 2);
  w = moonlet__enter_block(L, lp);
  d = req_new(L, w);
  r = uv_getnameinfo(lp->uv, &d->req.ni, on_nameinfo, (struct sockaddr *)&ss,
                     NI_NAMEREQD);
  if (r != 0) {
    w->status = MW_OK;
    req_free(d);
    return moonlet__push_failure(L, r, ip);
  }
  return moonlet__io_block(L, lp, w, ms, req_detach, reverse_k);
}

void moonlet__open_dns(lua_State *L, moonlet_loop *lp) {
  static const luaL_Reg funcs[] = {
      {"lookup", l_lookup}, {"reverse", l_reverse}, {NULL, NULL}};
  lua_newtable(L);
  moonlet__setfuncs(L, lp, funcs);
  lua_setfield(L, -2, "dns");
}
