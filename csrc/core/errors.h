/*
 * errors.h - the error conventions: state checks, the error triple of
 * calls that return their failure, the Cancelled and Timeout objects,
 * protected calls and reporting errors nobody handled.
 */
#ifndef MOONLET_ERRORS_H
#define MOONLET_ERRORS_H

#include "core/sched.h"

/* State checks, on in the test and sanitizer builds (MOONLET_CHECKS):
 * a failed one prints where and aborts. */
#ifdef MOONLET_CHECKS
#define moonlet__check(c) \
  ((c) ? (void)0 : moonlet__check_failed(#c, __FILE__, __LINE__))
#else
#define moonlet__check(c) ((void)0)
#endif
void moonlet__check_failed(const char *what, const char *file, int line);

/* The error triple of a call that returns its failure: pushes nil,
 * "ENAME: message[: detail]", "ENAME" for the libuv error err and returns
 * 3. Every module's failures, timeouts (UV_ETIMEDOUT) and closes
 * (UV_ECANCELED) are made by it. */
int moonlet__push_failure(lua_State *L, int err, const char *detail);
/* The same with a code of moonlet's own ("EWORK") and its message. */
int moonlet__push_error(lua_State *L, const char *code, const char *message);

/* Pushes a new Cancelled or Timeout error object with a traceback of L. */
void moonlet__push_error_object(lua_State *L, const char *kind,
                                const char *message);
/* Raises Cancelled for the current task (message from cancel() if any). */
int moonlet__raise_cancelled(lua_State *L, moonlet_loop *lp, moonlet_task *t);
int moonlet__is_error_kind(lua_State *L, int idx, const char *kind);

/* Calls the function below nargs values in protected mode with a traceback;
 * errors go to moonlet__report. Returns the lua_pcall status. */
int moonlet__pcall(lua_State *L, moonlet_loop *lp, int nargs,
                   const char *where);

/* Reports an error nobody handled: to on_error if set, else to stderr. The
 * error is at err_idx; traceback may be NULL; obj_idx (0: none) is the
 * task or future it came from. */
void moonlet__report(lua_State *L, moonlet_loop *lp, int err_idx,
                     const char *traceback, int obj_idx, const char *where);


void moonlet__open_errors(lua_State *L, moonlet_loop *lp);

#endif
