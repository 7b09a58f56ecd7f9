/*
 * process.c - child processes: spawn with each stdio a pipe (a stream, see
 * stream.h), the parent's descriptor, /dev/null or a file; wait for the
 * exit; send signals.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/stream.h"

extern char **environ;

typedef struct mproc {
  moonlet_io io;
  uv_process_t h;
  int exited;
  int64_t exit_status;
  int term_signal;
  mqueue waiters;        /* exit_wait.node of tasks in wait() */
} mproc;

#define PROC_KIND MOONLET_MT_PROCESS

/* A task in p:wait(): a request op that the exit (or the close) finishes. */
typedef struct exit_wait {
  moonlet_op op;
  mqueue node;
} exit_wait;

static void wake_all(mproc *p) {
  mqueue *q;
  while ((q = mq_shift(&p->waiters)) != NULL)
    moonlet__op_finish(&mq_data(q, exit_wait, node)->op, 0);
}

/* A waiter that gives up leaves the list; nothing else would finish it. */
static void exit_wait_abandon(moonlet_op *op) {
  mq_remove(&((exit_wait *)op)->node);
  moonlet__op_finish(op, UV_ECANCELED);
}

static void on_exit_cb(uv_process_t *h, int64_t status, int sig) {
  mproc *p = h->data;
  p->exited = 1;
  p->exit_status = status;
  p->term_signal = sig;
  wake_all(p);
}

static void on_closed(uv_handle_t *h) {
  moonlet__io_free(&((mproc *)h->data)->io);
}

static void proc_close(moonlet_io *io) {
  mproc *p = (mproc *)io;
  wake_all(p);
  uv_close((uv_handle_t *)&p->h, on_closed);
}

/* For task dumps: the child's pid. */
static void describe_process(lua_State *L, moonlet_io *io) {
  lua_pushinteger(L, ((mproc *)io)->h.pid);
  lua_setfield(L, -2, "pid");
}

/* --- spawn --------------------------------------------------------------- */

static int open_stdio(const char *path, int fd) {
  int flags = fd == 0 ? O_RDONLY : O_WRONLY | O_CREAT | O_TRUNC;
  return open(path, flags | O_CLOEXEC, 0666);
}

/* Sets up child descriptor fd from opts[name]; a pipe pushes its stream
 * (else nil is pushed). Returns 0 or a libuv error; *opened gets a
 * descriptor to close after the spawn. */
static int stdio_option(lua_State *L, moonlet_loop *lp, int opts, int fd,
                        uv_stdio_container_t *c, int *opened) {
  static const char *const names[] = {"stdin", "stdout", "stderr"};
  const char *v = "inherit";
  *opened = -1;
  if (lua_istable(L, opts)) {
    lua_getfield(L, opts, names[fd]);
    if (!lua_isnil(L, -1)) {
      if (lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "option '%s' must be \"pipe\", \"inherit\", \"null\" or a path",
                   names[fd]);
      v = lua_tostring(L, -1);
    }
    lua_pop(L, 1);
  }
  if (strcmp(v, "pipe") == 0) {
    uv_pipe_t *pipe = moonlet__stream_pipe(L, lp);
    c->flags = UV_CREATE_PIPE | (fd == 0 ? UV_READABLE_PIPE : UV_WRITABLE_PIPE);
    c->data.stream = (uv_stream_t *)pipe;
    return 0;
  }
  lua_pushnil(L);
  if (strcmp(v, "inherit") == 0) {
    c->flags = UV_INHERIT_FD;
    c->data.fd = fd;
    return 0;
  }
  *opened = strcmp(v, "null") == 0 ? open("/dev/null", O_RDWR | O_CLOEXEC)
                                   : open_stdio(v, fd);
  if (*opened < 0) return uv_translate_sys_error(errno);
  c->flags = UV_INHERIT_FD;
  c->data.fd = *opened;
  return 0;
}

/* An argv-style array of the strings in the table at idx (anchored by the
 * table itself), in a scratch userdata it pushes. */
static char **string_array(lua_State *L, int idx, size_t n) {
  char **a = lua_newuserdatauv(L, (n + 1) * sizeof *a, 0);
  size_t i;
  for (i = 0; i < n; i++) {
    lua_rawgeti(L, idx, (lua_Integer)i + 1);
    a[i] = (char *)lua_tostring(L, -1);
    lua_pop(L, 1);
  }
  a[n] = NULL;
  return a;
}

/* The env option as a table of "K=V" strings, pushed. */
static size_t env_list(lua_State *L, int opts) {
  size_t n = 0;
  lua_newtable(L);
  lua_getfield(L, opts, "env");
  luaL_argcheck(L, lua_istable(L, -1), 2, "option 'env' must be a table");
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    if (lua_type(L, -2) != LUA_TSTRING || !lua_isstring(L, -1))
      luaL_error(L, "option 'env' must map names to strings");
    lua_pushfstring(L, "%s=%s", lua_tostring(L, -2), lua_tostring(L, -1));
    lua_rawseti(L, -5, (lua_Integer)++n);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return n;
}

/* _spawn(argv, opts) -> process, stdin, stdout, stderr | nil, msg, code */
static int l_spawn(lua_State *L) {
  moonlet_loop *lp = moonlet__loop(L);
  uv_process_options_t o;
  uv_stdio_container_t stdio[3];
  int opened[3] = {-1, -1, -1}, i, r = 0, base;
  size_t argc;
  mproc *p;
  luaL_checktype(L, 1, LUA_TTABLE);
  argc = lua_rawlen(L, 1);
  luaL_argcheck(L, argc > 0, 1, "command expected");
  for (i = 1; i <= (int)argc; i++) {
    if (lua_rawgeti(L, 1, i) != LUA_TSTRING && !lua_isnumber(L, -1))
      luaL_argerror(L, 1, "command and arguments must be strings");
    lua_pop(L, 1);
  }
  if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  memset(&o, 0, sizeof o);
  o.file = lua_tostring(L, (lua_rawgeti(L, 1, 1), -1));
  o.args = string_array(L, 1, argc);
  if (lua_istable(L, 2)) {
    if (lua_getfield(L, 2, "cwd") != LUA_TNIL) {
      luaL_argcheck(L, lua_type(L, -1) == LUA_TSTRING, 2, "option 'cwd' must be a string");
      o.cwd = lua_tostring(L, -1);
    }
    if (lua_getfield(L, 2, "env") != LUA_TNIL) {
      size_t n;
      lua_pop(L, 1);
      n = env_list(L, 2);
      o.env = string_array(L, lua_gettop(L), n);
    }
  }
  if (!o.env) o.env = environ;
  moonlet__checkpoint(L, lp);
  base = lua_gettop(L);
  for (i = 0; i < 3 && r == 0; i++)
    r = stdio_option(L, lp, 2, i, &stdio[i], &opened[i]);
  if (r == 0) {
    moonlet__io_reserve(L);
    if (!(p = calloc(1, sizeof *p))) return luaL_error(L, "not enough memory");
    p->h.data = p;
    p->io.close = proc_close;
    p->io.describe = describe_process;
    mq_init(&p->waiters);
    moonlet__io_fill(L, lp, &p->io, PROC_KIND);
    o.stdio = stdio;
    o.stdio_count = 3;
    o.exit_cb = on_exit_cb;
    r = uv_spawn(lp->uv, &p->h, &o);
    if (r != 0) moonlet__io_close(&p->io); /* libuv wants it closed */
  }
  for (i = 0; i < 3; i++)
    if (opened[i] >= 0) close(opened[i]);
  if (r != 0) {
    for (i = base + 1; i <= base + 3 && i <= lua_gettop(L); i++)
      if (moonlet__objkind(L, lp, i) == MOONLET_MT_STREAM)
        moonlet__io_close(*(moonlet_io **)lua_touserdata(L, i));
    return moonlet__push_failure(L, r, o.file);
  }
  lua_rotate(L, base + 1, 1); /* process, stdin, stdout, stderr */
  return 4;
}

/* --- the process object -------------------------------------------------- */

static int push_status(lua_State *L, mproc *p) {
  if (p->term_signal) {
    const char *name = moonlet__signal_name(p->term_signal);
    lua_pushinteger(L, 128 + p->term_signal); /* as a shell reports it */
    if (name) lua_pushstring(L, name); else lua_pushinteger(L, p->term_signal);
    return 2;
  }
  lua_pushinteger(L, (lua_Integer)p->exit_status);
  return 1;
}

static int wait_k(lua_State *L, int status, lua_KContext ctx) {
  moonlet_op_result res = moonlet__req_end(L, ctx, 1, &status);
  if (res != MOONLET_OP_DONE)
    return moonlet__op_push_result(L, res, "process object closed");
  return push_status(L, (mproc *)moonlet__io_live(L, 1));
}

/* p:wait([timeout]) -> exit_code[, signal] */
static int p_wait(lua_State *L) {
  mproc *p = (mproc *)moonlet__io_check(L, 1, PROC_KIND);
  uint64_t ms = moonlet__check_timeout(L, 2);
  exit_wait *e;
  moonlet__checkpoint(L, p->io.lp);
  if (p->exited) return push_status(L, p);
  lua_settop(L, 2);
  e = moonlet__req_begin(L, p->io.lp, sizeof *e, NULL);
  e->op.what = "process wait";
  e->op.io = &p->io;
  mq_push(&p->waiters, &e->node);
  e->op.on_abandon = exit_wait_abandon;
  return moonlet__op_await(L, &e->op, ms, wait_k);
}

/* p:kill([sig]) -> true | nil, msg, code (default TERM) */
static int p_kill(lua_State *L) {
  mproc *p = (mproc *)moonlet__io_check(L, 1, PROC_KIND);
  int sig = lua_isnoneornil(L, 2) ? SIGTERM : moonlet__check_signal(L, 2), r;
  if (p->exited) return moonlet__push_failure(L, UV_ESRCH, "the process has exited");
  r = uv_process_kill(&p->h, sig);
  if (r != 0) return moonlet__push_failure(L, r, NULL);
  lua_pushboolean(L, 1);
  return 1;
}

static int p_pid(lua_State *L) {
  mproc *p = (mproc *)moonlet__io_check(L, 1, PROC_KIND);
  lua_pushinteger(L, p->h.pid);
  return 1;
}

/* environ() -> table of the current process's environment */
static int l_environ(lua_State *L) {
  char **e;
  lua_newtable(L);
  for (e = environ; *e; e++) {
    const char *eq = strchr(*e, '=');
    if (!eq) continue;
    lua_pushlstring(L, *e, (size_t)(eq - *e));
    lua_pushstring(L, eq + 1);
    lua_rawset(L, -3);
  }
  return 1;
}

void moonlet__open_process(lua_State *L, moonlet_loop *lp) {
  static const luaL_Reg methods[] = {
      {"wait", p_wait}, {"kill", p_kill}, {"pid", p_pid}, {NULL, NULL}};
  static const luaL_Reg funcs[] = {
      {"_spawn", l_spawn}, {"_environ", l_environ}, {NULL, NULL}};
  if (!lp->mt[PROC_KIND])
    moonlet__io_newmt(L, lp, PROC_KIND, "moonlet.process", methods);
  moonlet__setfuncs(L, lp, funcs);
}
