/*
 * head.c - the status line and header fields of a response of moonlet's
 * HTTP server, and its framing, in one pass over the handler's fields:
 *
 *   head, chunked, keep_alive =
 *     core._http_head(status_line, fields, body_len, no_body, http11, keep_alive)
 *
 * fields is the response's header list (checked when set; a plain table is
 * made into one).
 * What frames the body is what the handler set (Content-Length,
 * Transfer-Encoding), else a Content-Length of body_len when the whole
 * body is known, else chunked for HTTP/1.1, else the connection's close.
 * Connection: close is added when the connection will close and the
 * handler said nothing of it.
 */
#include <string.h>
#include <strings.h>

#include "core/sched.h"
#include "http/http.h"

/* Whether a field's name is name (lowercase, len bytes), in any case. */
static int is_named(const char *field, size_t flen, const char *name, size_t len) {
  return flen == len && strncasecmp(field, name, len) == 0;
}

static int l_head(lua_State *L) {
  size_t line_len, packed_len, at = 0, nlen, vlen;
  const char *line = luaL_checklstring(L, 1, &line_len), *packed, *name, *value;
  int no_body = lua_toboolean(L, 4), http11 = lua_toboolean(L, 5);
  int keep_alive = lua_toboolean(L, 6), chunked = 0;
  const char *te = NULL, *length = NULL, *conn = NULL;
  size_t te_len = 0, conn_len = 0;
  luaL_Buffer b;
  packed = moonlet__headers_packed(L, 2, &packed_len);
  if (!packed) return luaL_error(L, "response headers must be a header list, not %s", luaL_typename(L, 2));
  luaL_buffinit(L, &b);
  luaL_addlstring(&b, line, line_len);
  while (moonlet__next_field(packed, packed_len, &at, &name, &nlen, &value, &vlen)) {
    /* The list stays alive at 2 and is not changed here: pointers into
     * it do too. */
    if (!te && is_named(name, nlen, "transfer-encoding", 17)) te = value, te_len = vlen;
    else if (!length && is_named(name, nlen, "content-length", 14)) length = value;
    else if (!conn && is_named(name, nlen, "connection", 10)) conn = value, conn_len = vlen;
    luaL_addlstring(&b, name, nlen);
    luaL_addlstring(&b, ": ", 2);
    luaL_addlstring(&b, value, vlen);
    luaL_addlstring(&b, "\r\n", 2);
  }
  if (no_body) {
    /* no body, nothing frames it */
  } else if (length) {
    /* the handler frames it */
  } else if (te) {
    size_t k;
    for (k = 0; k + 7 <= te_len; k++)
      if (strncasecmp(te + k, "chunked", 7) == 0) chunked = 1;
  } else if (!lua_isnoneornil(L, 3)) {
    lua_Integer body_len = luaL_checkinteger(L, 3);
    char digits[24], *d = digits + sizeof digits;
    lua_Unsigned v = body_len < 0 ? 0 : (lua_Unsigned)body_len;
    do *--d = (char)('0' + v % 10); while ((v /= 10) != 0); /* no printf: it costs more than the head */
    luaL_addstring(&b, "Content-Length: ");
    luaL_addlstring(&b, d, (size_t)(digits + sizeof digits - d));
    luaL_addlstring(&b, "\r\n", 2);
  } else if (http11) {
    luaL_addstring(&b, "Transfer-Encoding: chunked\r\n");
    chunked = 1;
  } else {
    keep_alive = 0; /* the body ends when the connection does */
  }
  if (conn && conn_len == 5 && strncasecmp(conn, "close", 5) == 0) keep_alive = 0;
  if (!keep_alive && !conn) luaL_addstring(&b, "Connection: close\r\n");
  luaL_addlstring(&b, "\r\n", 2);
  luaL_pushresult(&b);
  lua_pushboolean(L, chunked);
  lua_pushboolean(L, keep_alive);
  return 3;
}

void moonlet__open_http_head(lua_State *L, moonlet_loop *lp) {
  (void)lp;
  lua_pushcfunction(L, l_head);
  lua_setfield(L, -2, "_http_head");
}
