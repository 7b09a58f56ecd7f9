/*
 * io.h - what the bindings of libuv handles share: the Lua object that
 * points at a handle, closing (by the user, the collector or the end of the
 * loop), socket addresses, option fields and timeouts, and lines(); they
 * block through io/op.h.
 *
 * A handle's C state outlives its Lua object until libuv's close callback,
 * so the two point at each other: the object holds a pointer to the state,
 * the state a pointer back to that slot, and whichever goes first clears
 * the other's link.
 */
#ifndef MOONLET_IO_H
#define MOONLET_IO_H

#include <sys/socket.h>

#include "core/errors.h"
#include "core/loop.h"
#include "core/refs.h"
#include "core/timer.h"
#include "io/op.h"

typedef struct moonlet_io moonlet_io;

struct moonlet_io {
  mqueue node;             /* loop->io while open */
  moonlet_loop *lp;
  moonlet_io **box;        /* the Lua object's slot, NULL once collected */
  int closed;
  int kind;                /* MOONLET_MT_* */
  /* Wakes the waiters and starts closing the uv handle(s); the last close
   * callback calls moonlet__io_free. */
  void (*close)(moonlet_io *io);
  /* For task dumps, or NULL: adds what identifies it (fd, peer, pid, URL)
   * to the table on top of L. */
  void (*describe)(lua_State *L, moonlet_io *io);
};

/* An I/O object is made in two steps, so that a memory error leaves
 * nothing behind: moonlet__io_reserve pushes the Lua object, empty, before
 * the state (and its uv handles) exist; moonlet__io_fill, which cannot
 * raise, then gives it io (the object on top), with metatable kind, and
 * links io into the loop's list of open handles. */
void moonlet__io_reserve(lua_State *L);
void moonlet__io_fill(lua_State *L, moonlet_loop *lp, moonlet_io *io,
                      int kind);

/* The io behind the object at idx: raises unless it is of kind and open. */
moonlet_io *moonlet__io_check(lua_State *L, int idx, int kind);

/* In a continuation: the io behind the object at idx (checked before it
 * blocked), or NULL when it was closed meanwhile. */
moonlet_io *moonlet__io_live(lua_State *L, int idx);

/* Idempotent. */
void moonlet__io_close(moonlet_io *io);
/* Frees io (malloc'd) and clears its object's link. */
void moonlet__io_free(moonlet_io *io);

/* obj:lines([fmt]): an iterator of obj:read(fmt) (default "l") until it
 * returns nil; a failure is raised. For streams and files. */
int moonlet__io_lines(lua_State *L);

/* close() and __close of every io object: closes, returns true. */
int moonlet__io_gc(lua_State *L);
/* Makes a metatable with methods (__index), close/__close/__gc/__tostring,
 * and records it as kind. */
void moonlet__io_newmt(lua_State *L, moonlet_loop *lp, int kind,
                       const char *name, const luaL_Reg *methods);

/* Fills ss from a numeric IPv4 or IPv6 address; 0 or a libuv error. */
int moonlet__addr(const char *ip, int port, struct sockaddr_storage *ss);
/* Pushes the address's host and port (2 values), or nil and nil. */
int moonlet__push_addr(lua_State *L, const struct sockaddr *sa);
/* A port argument: an integer in 0..65535. */
int moonlet__check_port(lua_State *L, int idx);

/* Option field helpers for the table at idx (absent table: defaults). */
int moonlet__opt_bool(lua_State *L, int idx, const char *k, int dflt);
lua_Integer moonlet__opt_int(lua_State *L, int idx, const char *k,
                             lua_Integer dflt);
/* A timeout in seconds (nil, false or absent: none) as milliseconds. */
uint64_t moonlet__opt_timeout(lua_State *L, int idx, const char *k);
/* A timeout argument in seconds (nil: none). */
uint64_t moonlet__check_timeout(lua_State *L, int idx);
/* The same, naming the value what in its errors. */
uint64_t moonlet__check_timeout_as(lua_State *L, int idx, const char *what);

/* A signal argument: a number, or a name like "TERM" or "SIGTERM". */
int moonlet__check_signal(lua_State *L, int idx);
/* "TERM" for SIGTERM; NULL for numbers without a name. */
const char *moonlet__signal_name(int signum);

/* The bindings of the I/O layer, each adding its functions to the table
 * on top. */
void moonlet__open_fs(lua_State *L, moonlet_loop *lp);
void moonlet__open_file(lua_State *L, moonlet_loop *lp);
void moonlet__open_stream(lua_State *L, moonlet_loop *lp);
void moonlet__open_dns(lua_State *L, moonlet_loop *lp);
void moonlet__open_process(lua_State *L, moonlet_loop *lp);
void moonlet__open_signal(lua_State *L, moonlet_loop *lp);
void moonlet__open_udp(lua_State *L, moonlet_loop *lp);
void moonlet__open_offload(lua_State *L, moonlet_loop *lp);
void moonlet__open_poll(lua_State *L, moonlet_loop *lp);

#endif
