/*
 * moonlet.h - moonlet's C interface for hosts and C modules.
 *
 * Work functions (the first part) are header-only: a C module registers
 * them without linking against moonlet, through the Lua registry.
 *
 * Embedding (the second part) needs the library: a host opens moonlet in
 * its lua_State, on its own libuv loop or on moonlet's, spawns tasks, runs
 * them or lets its loop run them, blocks from C functions that tasks call,
 * and resolves futures from any thread.
 *   cc host.c $(pkg-config --cflags --libs moonlet)
 */
#ifndef MOONLET_H
#define MOONLET_H

#include <stddef.h>

/* The version of this header and of the library it came with. */
#define MOONLET_VERSION_MAJOR 0
#define MOONLET_VERSION_MINOR 2
#define MOONLET_VERSION_PATCH 0
#define MOONLET_VERSION_STRING "0.2.0"

/* C++ hosts: Lua's headers have no guard of their own (lua.hpp adds one). */
#ifdef __cplusplus
extern "C" {
#endif

#include <lauxlib.h>
#include <lua.h>

/* --- work functions ------------------------------------------------------ */

typedef struct moonlet_table moonlet_table;

/* A value crossing threads: nil, boolean, integer, number or string (type
 * is LUA_TNIL, LUA_TBOOLEAN, LUA_TNUMBER or LUA_TSTRING; is_int tells an
 * integer from a float), and for futures resolved from other threads also
 * tables of those (LUA_TTABLE). */
typedef struct moonlet_value {
  int type;
  int is_int;
  union {
    int b;
    lua_Integer i;
    lua_Number n;
    const char *s;    /* len bytes, NUL-terminated. Work arguments: moonlet's,
                       * valid during the call. Work results: malloc'd by the
                       * work function, freed by moonlet. Values given to
                       * moonlet_future_resolve_threadsafe: the caller's,
                       * copied before it returns. */
    const moonlet_table *t;
  } v;
  size_t len;         /* strings */
} moonlet_value;

/* A table value: n key/value pairs. */
struct moonlet_table {
  size_t n;
  const moonlet_value *keys, *values;
};

#define MOONLET_WORK_MAXRESULTS 8

/* One call of a work function. It runs on a pool thread: it must not touch
 * any lua_State. Arguments are copies (strings are NUL-terminated). */
typedef struct moonlet_work_call {
  int nargs;
  const moonlet_value *args;
  int nresults;                         /* set by the function */
  moonlet_value results[MOONLET_WORK_MAXRESULTS];
  char error[256];                      /* message when it returns non-zero */
  void *ud;                             /* given at registration */
} moonlet_work_call;

/* Returns 0, or non-zero with a message in call->error (moonlet.work then
 * raises "work 'name': message"). */
typedef int (*moonlet_work_fn)(moonlet_work_call *call);

#define MOONLET_WORK_REGISTRY "moonlet.work"

/* What the registry keeps per name (a userdata). */
typedef struct moonlet_work_reg {
  moonlet_work_fn fn;
  void *ud;
} moonlet_work_reg;

/* Makes fn callable from Lua as moonlet.work(name, ...), in this Lua state
 * (call it after require "moonlet" or before: the table is shared); each
 * call gets ud in call->ud (the caller keeps it valid while L lives). */
static inline void moonlet_register_work_ud(lua_State *L, const char *name,
                                            moonlet_work_fn fn, void *ud) {
  moonlet_work_reg *r;
  luaL_getsubtable(L, LUA_REGISTRYINDEX, MOONLET_WORK_REGISTRY);
  r = (moonlet_work_reg *)lua_newuserdatauv(L, sizeof *r, 0);
  r->fn = fn;
  r->ud = ud;
  lua_setfield(L, -2, name);
  lua_pop(L, 1);
}

static inline void moonlet_register_work(lua_State *L, const char *name,
                                         moonlet_work_fn fn) {
  moonlet_register_work_ud(L, name, fn, NULL);
}

/* --- embedding (link with libmoonlet) ------------------------------------ */

struct uv_loop_s;

/* Results of the calls below. MOONLET_ERROR leaves the error value on the
 * Lua stack. */
enum {
  MOONLET_OK = 0,
  MOONLET_ERROR = -1,      /* a Lua error (message or error object pushed) */
  MOONLET_ECANCELLED = -2, /* the calling task was cancelled: return soon */
  MOONLET_ENOTASK = -3,    /* nothing may block here (no loop, a callback) */
  MOONLET_ECLOSED = -4,    /* the moonlet instance is closed */
  MOONLET_ENOMEM = -5,
  MOONLET_EBUSY = -6       /* not from here: moonlet is running this code */
};

/* Opens moonlet in L: loads moonlet.core and the Lua modules (built into
 * the library, so no files are needed) and sets the global-free module
 * "moonlet" in package.loaded. With loop NULL moonlet runs its own libuv
 * loop; otherwise it attaches to the host's loop, which the host drives
 * with uv_run (moonlet's own loop then runs inside it). */
int moonlet_open(lua_State *L, struct uv_loop_s *loop);

/* Errors nobody handled (a task that failed and that nobody awaited, a
 * failing callback, a failing HTTP handler) go to m.on_error's Lua handler
 * if the script set one, else to fn if set here, else to stderr. fn gets
 * where it happened, the error as text and the traceback (or NULL); it runs
 * on the loop thread and must not call into Lua. A failed task is reported
 * when its object is collected, or at the latest at the end of
 * moonlet_run(L, 0) and at moonlet_close, whichever comes first, once.
 * MOONLET_ECLOSED if moonlet is not open in L. */
typedef void (*moonlet_error_fn)(const char *where, const char *message,
                                 const char *traceback, void *ud);
int moonlet_on_error(lua_State *L, moonlet_error_fn fn, void *ud);

/* Cancels every task and waits for their cleanup, closes every handle
 * moonlet opened (also on the host's loop: uv_loop_close then succeeds)
 * and leaves the state usable for plain Lua. lua_close does it too.
 * MOONLET_OK (also when already closed or never opened), or MOONLET_EBUSY
 * from a C function that a task or a callback of this instance called:
 * nothing is closed then. */
int moonlet_close(lua_State *L);

/* Spawns the function below its nargs arguments on the stack as a task,
 * popping them, and pushes the task. MOONLET_ERROR if it is not a
 * function. */
int moonlet_spawn(lua_State *L, int nargs);

/* Runs the loop until the task (or future) at idx is done, or with idx 0
 * until no task is left. With a host loop it runs the host's loop (so the
 * host's handles run too). The task's outcome stays in it. MOONLET_ERROR
 * (message pushed) when nothing left to run can finish it. */
int moonlet_run(lua_State *L, int idx);

/* One turn of the loop without waiting; returns the number of unfinished
 * tasks. */
int moonlet_step(lua_State *L);
/* One turn that waits until something happens (a timer, I/O, a post) if
 * anything can, for hosts that interleave their own work; returns the
 * number of unfinished tasks. */
int moonlet_turn(lua_State *L);

/* For hosts on another event loop (epoll, GLib, ...), with moonlet on its
 * own loop: poll the descriptor for reading with the timeout in ms (-1:
 * nothing pending, 0: work is ready), then call moonlet_step.
 * MOONLET_ENOTASK on a host's libuv loop or when closed. */
int moonlet_backend_fd(lua_State *L);
int moonlet_backend_timeout(lua_State *L);

/* The task or future at idx: "pending", "done", "failed" or "cancelled"
 * (NULL if it is neither). */
const char *moonlet_status(lua_State *L, int idx);
/* Pushes the results of the finished task or future at idx and returns
 * their count; MOONLET_ERROR with its error pushed if it failed or was
 * cancelled (the error counts as seen); MOONLET_ENOTASK while pending. */
int moonlet_result(lua_State *L, int idx);
/* Requests cancellation of the task at idx (as t:cancel()): 1, or 0 if it
 * had finished; MOONLET_ERROR (message pushed) if it is not a task. */
int moonlet_cancel(lua_State *L, int idx);

/* From a C function that a task calls (directly or through any chain of
 * Lua and C calls): suspends the task for s seconds and returns
 * MOONLET_OK, with no continuation function (moonlet switches the whole C
 * stack). MOONLET_ECANCELLED if the task was cancelled (the cancellation
 * is raised again at its next blocking call), MOONLET_ENOTASK where
 * nothing may block. From the main chunk it runs the loop meanwhile. */
int moonlet_sleep(lua_State *L, double seconds);

/* Like moonlet_sleep, waiting for the future or task at idx (its results
 * are pushed and counted in the return value, >= 0), or for the next value
 * of the channel at idx (one value pushed; nil once closed and drained).
 * A failure returns MOONLET_ERROR with the error pushed. */
int moonlet_await(lua_State *L, int idx);

/* A handle on a moonlet instance that other threads may use; it stays
 * valid (calls then return MOONLET_ECLOSED) after the instance closes,
 * until released. While held it keeps the loop alive (moonlet_run waits
 * for what it may post); release it from any thread. */
typedef struct moonlet_remote moonlet_remote;
moonlet_remote *moonlet_remote_get(lua_State *L);
void moonlet_remote_release(moonlet_remote *r);

/* From any thread: fn(L, data) runs on the loop thread, on a later turn,
 * outside any task (it may spawn tasks and resolve futures, not block);
 * posts queued when the instance closes run during the close.
 * MOONLET_ECLOSED if the instance closed: fn will not run. */
int moonlet_post(moonlet_remote *r, void (*fn)(lua_State *L, void *data),
                 void *data);

/* C fibers: spawns fn(L, arg) as a task on a C stack of its own of
 * stack_size bytes (0: 256 KiB; at least 64 KiB; a guard region below it
 * reports an overflow by name), pooled for the next fibers. fn may block
 * with moonlet_sleep and moonlet_await like any C function a task calls,
 * and unlike on the shared stack its locals keep their addresses for
 * other threads and callbacks while it is suspended. fn works like a
 * lua_CFunction: it returns the number of results it pushed on L, which
 * become the task's; a Lua error in it fails the task. Pushes the task. */
typedef int (*moonlet_fiber_fn)(lua_State *L, void *arg);
int moonlet_fiber_spawn(lua_State *L, moonlet_fiber_fn fn, void *arg,
                        size_t stack_size);

/* Pushes a new future and returns a handle on it for another thread. The
 * handle is used once: resolved, failed or dropped (the future then fails
 * with "abandoned"). Values are copied before the call returns. */
typedef struct moonlet_future_ref moonlet_future_ref;
moonlet_future_ref *moonlet_future_new(lua_State *L);
int moonlet_future_resolve_threadsafe(moonlet_future_ref *f, int n,
                                      const moonlet_value *values);
int moonlet_future_fail_threadsafe(moonlet_future_ref *f, const char *message);
void moonlet_future_drop(moonlet_future_ref *f);

#ifdef __cplusplus
}
#endif

#endif
