/*
 * io.c - Lua objects of libuv handles, addresses, options and deadlines
 * (see io.h).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io.h"

void moonlet__io_reserve(lua_State *L) {
  moonlet_io **box = lua_newuserdatauv(L, sizeof *box, 1);
  *box = NULL; /* no metatable yet: nothing to finalize if left */
}

void moonlet__io_fill(lua_State *L, moonlet_loop *lp, moonlet_io *io,
                      int kind) {
  moonlet_io **box = lua_touserdata(L, -1);
  io->kind = kind;
  *box = io;
  io->box = box;
  io->lp = lp;
  io->closed = 0;
  mq_push(&lp->io, &io->node);
  moonlet__setmt(L, lp, -1, kind);
}

static moonlet_io **check_box(lua_State *L, int idx, int kind) {
  moonlet_loop *lp = moonlet__loop(L);
  if (moonlet__objkind(L, lp, idx) != kind) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, lp->mt[kind]);
    lua_getfield(L, -1, "__name");
    luaL_typeerror(L, idx, lua_tostring(L, -1));
  }
  return lua_touserdata(L, idx);
}

moonlet_io *moonlet__io_check(lua_State *L, int idx, int kind) {
  moonlet_io *io = *check_box(L, idx, kind);
  if (!io || io->closed) {
    lua_getmetatable(L, idx);
    lua_getfield(L, -1, "__name");
    luaL_error(L, "attempt to use a closed %s", lua_tostring(L, -1));
  }
  return io;
}

moonlet_io *moonlet__io_live(lua_State *L, int idx) {
  moonlet_io *io = *(moonlet_io **)lua_touserdata(L, idx);
  return io && !io->closed ? io : NULL;
}

void moonlet__io_close(moonlet_io *io) {
  if (io->closed) return;
  io->closed = 1;
  mq_remove(&io->node);
  /* After the loop ended (a lua_close from inside a task) the uv loop is
   * gone: leave the rest to the process exit. */
  if (!io->lp->closed) io->close(io);
}

void moonlet__io_free(moonlet_io *io) {
  if (io->box) *io->box = NULL;
  free(io);
}

/* At close: every handle still open is closed. */
static void io_close_all(lua_State *L, moonlet_loop *lp) {
  mqueue *q;
  (void)L;
  while ((q = lp->io.next) != &lp->io)
    moonlet__io_close(mq_data(q, moonlet_io, node));
}

int moonlet__io_gc(lua_State *L) {
  int kind = moonlet__objkind(L, moonlet__loop(L), 1);
  moonlet_io *io;
  if (kind < MOONLET_MT_STREAM) luaL_typeerror(L, 1, "moonlet handle");
  io = *(moonlet_io **)lua_touserdata(L, 1);
  if (io) moonlet__io_close(io);
  lua_pushboolean(L, 1);
  return 1;
}

/* __gc: the object is going away, so the state must not point back. */
static int io_collect(lua_State *L) {
  moonlet_io **box = lua_touserdata(L, 1);
  if (box && *box) {
    moonlet_io *io = *box;
    io->box = NULL;
    *box = NULL;
    moonlet__io_close(io);
  }
  return 0;
}

static int io_tostring(lua_State *L) {
  moonlet_io **box = lua_touserdata(L, 1);
  lua_getmetatable(L, 1);
  lua_getfield(L, -1, "__name");
  if (*box && !(*box)->closed)
    lua_pushfstring(L, "%s (%p)", lua_tostring(L, -1), (void *)*box);
  else
    lua_pushfstring(L, "%s (closed)", lua_tostring(L, -1));
  return 1;
}

void moonlet__io_newmt(lua_State *L, moonlet_loop *lp, int kind,
                       const char *name, const luaL_Reg *methods) {
  static const luaL_Reg meta[] = {{"__gc", io_collect},
                                  {"__close", moonlet__io_gc},
                                  {"__tostring", io_tostring},
                                  {NULL, NULL}};
  luaL_newmetatable(L, name);
  moonlet__setfuncs(L, lp, meta);
  lua_newtable(L);
  moonlet__setfuncs(L, lp, methods);
  lua_pushlightuserdata(L, lp);
  lua_pushcclosure(L, moonlet__io_gc, 1);
  lua_setfield(L, -2, "close");
  lua_setfield(L, -2, "__index");
  moonlet__register_mt(L, lp, kind);
  moonlet__on_close(lp, MOONLET_CLOSE_HANDLES, io_close_all);
}

/* --- lines --------------------------------------------------------------- */

/* After the read: its value, or the failure raised where the loop is. */
static int lines_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  (void)ctx;
  if (lua_isnil(L, 1) && lua_type(L, 2) == LUA_TSTRING) {
    luaL_where(L, 1);
    lua_pushvalue(L, 2);
    lua_concat(L, 2);
    return lua_error(L);
  }
  lua_settop(L, 1);
  return 1;
}

/* The iterator: obj:read(fmt) with the object and format it was made for. */
static int lines_next(lua_State *L) {
  lua_settop(L, 0);
  lua_pushvalue(L, lua_upvalueindex(1));
  if (lua_getfield(L, 1, "read") != LUA_TFUNCTION)
    return luaL_error(L, "object has no read method");
  lua_insert(L, 1);
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_callk(L, 2, 2, 0, lines_k);
  return lines_k(L, LUA_OK, 0);
}

int moonlet__io_lines(lua_State *L) {
  luaL_checkany(L, 1);
  lua_settop(L, 2);
  if (lua_isnil(L, 2)) {
    lua_pushliteral(L, "l");
    lua_replace(L, 2);
  }
  lua_pushcclosure(L, lines_next, 2);
  return 1;
}

/* --- addresses ----------------------------------------------------------- */

int moonlet__addr(const char *ip, int port, struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof *ss);
  if (strchr(ip, ':'))
    return uv_ip6_addr(ip, port, (struct sockaddr_in6 *)ss);
  return uv_ip4_addr(ip, port, (struct sockaddr_in *)ss);
}

int moonlet__push_addr(lua_State *L, const struct sockaddr *sa) {
  char host[INET6_ADDRSTRLEN];
  int port;
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
    uv_ip4_name(a, host, sizeof host);
    port = ntohs(a->sin_port);
  } else if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
    uv_ip6_name(a, host, sizeof host);
    port = ntohs(a->sin6_port);
  } else {
    lua_pushnil(L);
    lua_pushnil(L);
    return 2;
  }
  lua_pushstring(L, host);
  lua_pushinteger(L, port);
  return 2;
}

int moonlet__check_port(lua_State *L, int idx) {
  lua_Integer p = luaL_checkinteger(L, idx);
  luaL_argcheck(L, p >= 0 && p <= 65535, idx, "port must be in 0..65535");
  return (int)p;
}

/* --- options ------------------------------------------------------------- */

static int opt_field(lua_State *L, int idx, const char *k) {
  if (lua_isnoneornil(L, idx)) return 0;
  luaL_checktype(L, idx, LUA_TTABLE);
  return lua_getfield(L, idx, k) != LUA_TNIL;
}

int moonlet__opt_bool(lua_State *L, int idx, const char *k, int dflt) {
  int v = dflt;
  if (opt_field(L, idx, k)) v = lua_toboolean(L, -1);
  if (!lua_isnoneornil(L, idx)) lua_pop(L, 1);
  return v;
}

lua_Integer moonlet__opt_int(lua_State *L, int idx, const char *k,
                             lua_Integer dflt) {
  lua_Integer v = dflt;
  if (opt_field(L, idx, k)) {
    int ok;
    v = lua_tointegerx(L, -1, &ok);
    if (!ok) luaL_error(L, "option '%s' must be an integer", k);
  }
  if (!lua_isnoneornil(L, idx)) lua_pop(L, 1);
  return v;
}

uint64_t moonlet__check_timeout_as(lua_State *L, int idx, const char *what) {
  lua_Number s;
  if (lua_isnoneornil(L, idx) || (lua_isboolean(L, idx) && !lua_toboolean(L, idx)))
    return 0;
  if (!lua_isnumber(L, idx)) luaL_error(L, "%s must be a number of seconds", what);
  s = lua_tonumber(L, idx);
  if (!(s >= 0)) luaL_error(L, "%s must not be negative", what);
  return s > 0 ? moonlet__ms(s) : 1;
}

uint64_t moonlet__opt_timeout(lua_State *L, int idx, const char *k) {
  uint64_t ms = 0;
  if (opt_field(L, idx, k)) {
    char what[64];
    snprintf(what, sizeof what, "option '%s'", k);
    ms = moonlet__check_timeout_as(L, -1, what);
  }
  if (!lua_isnoneornil(L, idx)) lua_pop(L, 1);
  return ms;
}

uint64_t moonlet__check_timeout(lua_State *L, int idx) {
  return moonlet__check_timeout_as(L, idx, "timeout");
}


/* --- signal names -------------------------------------------------------- */

static const struct {
  const char *name;
  int num;
} signals[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},     {"QUIT", SIGQUIT}, {"ILL", SIGILL},
    {"ABRT", SIGABRT}, {"FPE", SIGFPE},     {"KILL", SIGKILL}, {"SEGV", SIGSEGV},
    {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},   {"TERM", SIGTERM}, {"USR1", SIGUSR1},
    {"USR2", SIGUSR2}, {"CHLD", SIGCHLD},   {"CONT", SIGCONT}, {"STOP", SIGSTOP},
    {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},   {"TTOU", SIGTTOU}, {"WINCH", SIGWINCH},
    {"BUS", SIGBUS},   {"TRAP", SIGTRAP},   {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ},
    {"PROF", SIGPROF}, {"VTALRM", SIGVTALRM}, {"SYS", SIGSYS}, {"URG", SIGURG},
    {NULL, 0}};

int moonlet__check_signal(lua_State *L, int idx) {
  const char *s;
  int i;
  if (lua_type(L, idx) == LUA_TNUMBER) {
    lua_Integer n = luaL_checkinteger(L, idx);
    luaL_argcheck(L, n > 0 && n < 65, idx, "not a signal number");
    return (int)n;
  }
  s = luaL_checkstring(L, idx);
  if (strncmp(s, "SIG", 3) == 0) s += 3;
  for (i = 0; signals[i].name; i++)
    if (strcmp(s, signals[i].name) == 0) return signals[i].num;
  return luaL_argerror(L, idx, lua_pushfstring(L, "unknown signal '%s'", s));
}

const char *moonlet__signal_name(int signum) {
  int i;
  for (i = 0; signals[i].name; i++)
    if (signals[i].num == signum) return signals[i].name;
  return NULL;
}
