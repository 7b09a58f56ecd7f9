/*
 * parse.c - HTTP/1.x request parsing for moonlet.http's server with
 * Debian's http-parser (nodejs/http-parser). A parser is fed the bytes a
 * connection delivers and lists what they completed as events; requests
 * may arrive in any split and pipelined.
 *
 *   p = core._http_parser{max_header = bytes, request_mt =}
 *   n, kind, value, out = p:feed(data[, out])
 *     the first event the data completed (or nil), and out[1..n] the
 *     others: kind, value, kind, value, ... (out made when first needed,
 *     if none was given). Events:
 *     "head", the request: {method=, target=, path=, query=, version=,
 *              headers=, keep_alive=, upgrade=, _body_length=,
 *              _body_chunked=, and _done = true when there is no
 *              body, no "done" following} with request_mt as its metatable, its
 *              headers a header list (csrc/http/headers.c) made from
 *              the fields packed as they arrived, in one copy
 *     "body", string
 *     "trailers", header list   (chunked bodies that have any)
 *     "done", keep_alive
 *     "upgrade", bytes   (after an Upgrade or CONNECT head: what followed
 *                         it in the same packet; the parser is then done)
 *   or nil, message, code on a malformed request ("HEADER_TOO_LARGE" when
 *   the head exceeds max_header); the parser is then unusable.
 *
 * Debian builds http-parser without HTTP_PARSER_STRICT, so what RFC 9112
 * requires and the lenient parser lets through is checked here: header
 * names are tokens (no "Transfer-Encoding :"), chunk data ends with CRLF,
 * and Content-Length fits a Lua integer.
 *
 * Most requests come whole in one read and are of the plainest kind; those
 * are parsed without http-parser (plain_head).
 */
#include <http_parser.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/sched.h"
#include "http/http.h"

#define PARSER_MT "moonlet.http_parser"

enum { TOK_NONE, TOK_URL, TOK_FIELD, TOK_VALUE };

/* The buffers a message is parsed in: lent to a parser from a message's
 * first byte to its end, so that an idle connection's parser holds none.
 * Spares wait in a free list per Lua state, at most MAX_SPARES. */
typedef struct scratch {
  struct scratch *next;
  char *url;              /* the URL */
  char *pack;             /* the head's fields, packed as they arrive */
  size_t url_len, pack_len;
  size_t url_cap, pack_cap;
  size_t entry;           /* where the field being received starts */
  size_t name_len, value_len; /* of that field, so far */
  size_t head_bytes;      /* of the head, or of the trailers */
} scratch;

typedef struct scratch_pool {
  scratch *spares;
  int n;
} scratch_pool;

#define MAX_SPARES 256
#define SPARE_BUFFER_MAX 4096 /* a spare keeps no bigger buffer: a burst of
                               * huge heads leaves no memory behind */

/* Frees the buffer at *buf if it grew beyond SPARE_BUFFER_MAX. */
static void shrink(char **buf, size_t *cap) {
  if (*cap <= SPARE_BUFFER_MAX) return;
  free(*buf);
  *buf = NULL;
  *cap = 0;
}

static void free_scratch(scratch *s) {
  free(s->pack);
  free(s->url);
  free(s);
}

typedef struct hparser {
  http_parser p;
  lua_State *L;           /* during feed */
  int n;                  /* entries in the event table */
  int nfields;            /* fields packed (trailers: any at all) */
  scratch *s;             /* during a message: its buffers */
  scratch_pool *pool;     /* where they come from (kept by uservalue) */
  size_t max_header;
  uint64_t chunk_left;    /* bytes of the current chunk not yet seen */
  uint8_t first;          /* a first event was given */
  uint8_t last;           /* TOK_* that tok holds */
  uint8_t too_large, dead;
  uint8_t in_trailers;    /* the fields now arriving are trailers */
  uint8_t done_told;      /* the request was made with _done = true */
  uint8_t crlf_need;      /* bytes of a chunk's closing CRLF not yet seen */
  lua_Integer plain_heads; /* parsed by plain_head (for the specs) */
  const char *end;        /* during feed: the end of the data */
  const char *bad_msg, *bad_code; /* a violation found by a callback */
} hparser;

/* Uservalues: the metatable of requests, the scratch pool. */
enum { UV_REQUEST_MT = 1, UV_POOL = 2 };

/* The strings a request and the events are made of, made once: feed's
 * upvalue holds them at these indexes (and methods' names after them, as
 * they are first seen). */
enum {
  K_TARGET = 1, K_HEADERS, K_METHOD, K_VERSION, K_KEEP_ALIVE, K_BODY_CHUNKED,
  K_UPGRADE, K_PATH, K_QUERY, K_BODY_LENGTH, K_DONE_FIELD, K_HEAD, K_BODY,
  K_TRAILERS, K_DONE, K_V10, K_V11, K_EMPTY, K_METHODS
};
static const char *const key_names[] = {
  NULL, "target", "headers", "method", "version", "keep_alive", "_body_chunked",
  "upgrade", "path", "query", "_body_length", "_done", "head", "body",
  "trailers", "done", "1.0", "1.1", ""
};
#define KEYS lua_upvalueindex(1)
enum { OUT = 3, FIRST_KIND = 4, FIRST_VALUE = 5 }; /* feed's stack */

static void push_key(lua_State *L, int k) {
  lua_rawgeti(L, KEYS, k);
}

static int violation(hparser *h, const char *msg, const char *code) {
  h->bad_msg = msg;
  h->bad_code = code;
  return -1;
}

/* The value of the event is on top. The first event of a feed is
 * returned as feed's results (most feeds complete one request), the rest
 * go to the table. */
static void emit(hparser *h, int kind) {
  lua_State *L = h->L;
  if (!h->first) {
    lua_replace(L, FIRST_VALUE);
    push_key(L, kind);
    lua_replace(L, FIRST_KIND);
    h->first = 1;
    return;
  }
  if (h->n == 0 && !lua_istable(L, OUT)) { /* made when first needed */
    lua_createtable(L, 4, 0);
    lua_replace(L, OUT);
  }
  push_key(L, kind);
  lua_rawseti(L, OUT, ++h->n);
  lua_rawseti(L, OUT, ++h->n);
}

/* A head's fields are not made into Lua strings one by one: they are
 * packed as they arrive, as header lists keep them (csrc/http/headers.c:
 * the lengths of name and value, then their bytes), and the list is made
 * from the packed bytes in one copy when the head is complete. */

/* The field being received is complete: its lengths go before it. */
static void end_field(hparser *h) {
  scratch *s = h->s;
  moonlet__pack_lengths(s->pack + s->entry, s->name_len, s->value_len);
  h->nfields++;
}

/* Appends the bytes of the URL, a field's name or its value where they go:
 * the URL aside, names and values packed, a new field getting room for
 * its lengths first. */
static int take(http_parser *p, int kind, const char *at, size_t len) {
  hparser *h = (hparser *)p;
  scratch *s = h->s;
  s->head_bytes += len;
  if (s->head_bytes > h->max_header) {
    h->too_large = 1;
    return -1;
  }
  if (h->last != kind) {
    if (h->last == TOK_VALUE) end_field(h);
    if (kind == TOK_FIELD || (kind == TOK_VALUE && h->last != TOK_FIELD)) {
      if (moonlet__grow(&s->pack, &s->pack_cap, s->pack_len + MOONLET_FIELD_HEAD) != 0) return -1;
      s->entry = s->pack_len;
      s->pack_len += MOONLET_FIELD_HEAD;
      s->name_len = 0;
    }
    if (kind == TOK_VALUE) s->value_len = 0;
    h->last = kind;
  }
  if (kind == TOK_URL) {
    if (moonlet__grow(&s->url, &s->url_cap, s->url_len + len) != 0) return -1;
    memcpy(s->url + s->url_len, at, len);
    s->url_len += len;
    return 0;
  }
  if (moonlet__grow(&s->pack, &s->pack_cap, s->pack_len + len) != 0) return -1;
  memcpy(s->pack + s->pack_len, at, len);
  s->pack_len += len;
  if (kind == TOK_FIELD) s->name_len += len;
  else s->value_len += len;
  return 0;
}

/* The head (or the trailers) is complete: so is its last field. A name
 * without a value at the end ("Name:") has an empty one. */
static void end_fields(hparser *h) {
  if (h->last == TOK_FIELD) {
    h->s->value_len = 0;
    end_field(h);
  } else if (h->last == TOK_VALUE) {
    end_field(h);
  }
  h->last = TOK_NONE;
}

static int on_url(http_parser *p, const char *at, size_t len) {
  return take(p, TOK_URL, at, len);
}
static int on_field(http_parser *p, const char *at, size_t len) {
  if (!moonlet__is_token(at, len))
    return violation((hparser *)p, "invalid character in header name", "INVALID_HEADER_TOKEN");
  return take(p, TOK_FIELD, at, len);
}
static int on_value(http_parser *p, const char *at, size_t len) {
  return take(p, TOK_VALUE, at, len);
}

/* A message begins: it gets buffers from the pool. */
static int borrow(hparser *h) {
  scratch_pool *pool = h->pool;
  if (h->s) return 0;
  if (pool->spares) {
    h->s = pool->spares;
    pool->spares = h->s->next;
    pool->n--;
  } else if (!(h->s = calloc(1, sizeof *h->s))) {
    return -1;
  }
  return 0;
}

static int on_begin(http_parser *p) {
  hparser *h = (hparser *)p;
  if (borrow(h) != 0) return -1;
  h->s->head_bytes = 0;
  h->last = TOK_NONE;
  h->in_trailers = 0;
  h->chunk_left = 0;
  h->crlf_need = 0;
  h->nfields = 0;
  h->s->pack_len = 0;
  h->s->url_len = 0;
  h->done_told = 0;
  return 0;
}


/* Fields are set as key (made once), value, rawset. */

/* The request on the stack gets target, and path and query from it: the
 * path ends at the first '?' or '#', the query runs from after a '?' to a
 * '#'. */
static void split_target(hparser *h) {
  lua_State *L = h->L;
  const char *t = h->s->url ? h->s->url : "";
  size_t len = h->s->url_len, path_len, q_end;
  push_key(L, K_TARGET);
  lua_pushlstring(L, t, len);
  lua_rawset(L, -3);
  for (path_len = 0; path_len < len && t[path_len] != '?' && t[path_len] != '#'; path_len++) {}
  push_key(L, K_PATH);
  if (path_len == 0) push_key(L, K_EMPTY);
  else lua_pushlstring(L, t, path_len);
  lua_rawset(L, -3);
  push_key(L, K_QUERY);
  if (path_len < len && t[path_len] == '?') {
    for (q_end = path_len + 1; q_end < len && t[q_end] != '#'; q_end++) {}
    lua_pushlstring(L, t + path_len + 1, q_end - path_len - 1);
  } else {
    push_key(L, K_EMPTY);
  }
  lua_rawset(L, -3);
}

static void push_method(lua_State *L, unsigned method) {
  if (lua_rawgeti(L, KEYS, K_METHODS + (int)method) == LUA_TSTRING) return;
  lua_pop(L, 1);
  lua_pushstring(L, http_method_str((enum http_method)method));
  lua_pushvalue(L, -1);
  lua_rawseti(L, KEYS, K_METHODS + (int)method);
}

/* What a head says of the message, beside its URL and fields. */
typedef struct head_info {
  unsigned method;
  int major, minor, keep_alive, chunked, upgrade, has_length;
  uint64_t length;
} head_info;

/* Emits the request of a complete head whose URL and fields are in h->s.
 * Returns whether the message ends with it (no body). */
static int push_request(hparser *h, const head_info *hd) {
  lua_State *L = h->L;
  int done = !hd->chunked && !hd->upgrade && (!hd->has_length || hd->length == 0);
  lua_createtable(L, 0, 16);   /* the request, with room for the server's fields */
  push_key(L, K_HEADERS);
  moonlet__push_headers(L, h->s->pack, h->s->pack_len);
  lua_rawset(L, -3);
  push_key(L, K_METHOD);
  push_method(L, hd->method);
  lua_rawset(L, -3);
  push_key(L, K_VERSION);
  if (hd->major == 1 && hd->minor <= 1)
    push_key(L, hd->minor ? K_V11 : K_V10);
  else
    lua_pushfstring(L, "%d.%d", hd->major, hd->minor);
  lua_rawset(L, -3);
  push_key(L, K_KEEP_ALIVE);
  lua_pushboolean(L, hd->keep_alive);
  lua_rawset(L, -3);
  push_key(L, K_BODY_CHUNKED);
  lua_pushboolean(L, hd->chunked);
  lua_rawset(L, -3);
  push_key(L, K_UPGRADE);
  lua_pushboolean(L, hd->upgrade);
  lua_rawset(L, -3);
  if (hd->has_length) {
    push_key(L, K_BODY_LENGTH);
    lua_pushinteger(L, (lua_Integer)hd->length);
    lua_rawset(L, -3);
  }
  /* Without a body the message ends with its head: the request says so
   * and no "done" follows. */
  if (done) {
    push_key(L, K_DONE_FIELD);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
  }
  split_target(h);
  lua_getiuservalue(L, 1, UV_REQUEST_MT);
  lua_setmetatable(L, -2);
  emit(h, K_HEAD);
  return done;
}

static int on_headers(http_parser *p) {
  hparser *h = (hparser *)p;
  head_info hd;
  end_fields(h);
  if ((p->flags & F_CONTENTLENGTH) && p->content_length > (uint64_t)LUA_MAXINTEGER)
    return violation(h, "request body too large", "BODY_TOO_LARGE");
  hd.method = p->method;
  hd.major = p->http_major;
  hd.minor = p->http_minor;
  hd.keep_alive = http_should_keep_alive(p);
  hd.chunked = (p->flags & F_CHUNKED) != 0;
  hd.upgrade = p->upgrade;
  hd.has_length = (p->flags & F_CONTENTLENGTH) != 0;
  hd.length = p->content_length;
  h->done_told = (uint8_t)push_request(h, &hd);
  /* Fields after this are trailers (http-parser reports them the same). */
  h->in_trailers = 1;
  h->s->head_bytes = 0;
  h->nfields = 0;
  h->s->pack_len = 0;
  return 0;
}

/* Consumes what is seen of the CRLF that must close a chunk's data. */
static int check_crlf(hparser *h, const char *at) {
  for (; h->crlf_need > 0 && at < h->end; at++, h->crlf_need--)
    if (*at != (h->crlf_need == 2 ? '\r' : '\n'))
      return violation(h, "chunk data not followed by CRLF", "INVALID_CHUNK");
  return 0;
}

static int on_chunk_header(http_parser *p) {
  ((hparser *)p)->chunk_left = p->content_length;
  return 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
  hparser *h = (hparser *)p;
  lua_pushlstring(h->L, at, len);
  emit(h, K_BODY);
  if ((p->flags & F_CHUNKED) && h->chunk_left > 0) {
    h->chunk_left -= len < h->chunk_left ? len : h->chunk_left;
    if (h->chunk_left == 0) {
      h->crlf_need = 2;
      return check_crlf(h, at + len);
    }
  }
  return 0;
}

/* The message is over: its buffers go back to the pool. */
static void give_back(hparser *h) {
  scratch_pool *pool = h->pool;
  if (!h->s) return;
  if (pool->n < MAX_SPARES) {
    shrink(&h->s->url, &h->s->url_cap);
    shrink(&h->s->pack, &h->s->pack_cap);
    h->s->next = pool->spares;
    pool->spares = h->s;
    pool->n++;
  } else {
    free_scratch(h->s);
  }
  h->s = NULL;
}

static int on_complete(http_parser *p) {
  hparser *h = (hparser *)p;
  lua_State *L = h->L;
  end_fields(h);
  if (h->in_trailers && h->nfields > 0) {
    moonlet__push_headers(L, h->s->pack, h->s->pack_len);
    emit(h, K_TRAILERS);
  }
  give_back(h);
  h->in_trailers = 0;
  if (h->done_told) return 0;
  lua_pushboolean(L, http_should_keep_alive(p));
  emit(h, K_DONE);
  return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_begin,
    .on_url = on_url,
    .on_header_field = on_field,
    .on_header_value = on_value,
    .on_headers_complete = on_headers,
    .on_body = on_body,
    .on_message_complete = on_complete,
    .on_chunk_header = on_chunk_header,
};

/* --- whole heads of the plainest kind ------------------------------------ */

/* A head that came whole and uses nothing of HTTP/1.1's framing (no body,
 * no Upgrade, an origin-form target, CRLF line ends) is parsed here in one
 * pass of table lookups, at a few instructions a byte where http-parser's
 * state machine takes about twenty. What this path takes is a strict
 * subset of what http-parser accepts, made into the same request; at
 * anything else (a body's framing fields, Upgrade, a Connection other
 * than "close" or "keep-alive", a value ending in whitespace, a bare LF,
 * a control byte, a head cut short, one over the size limits) it takes
 * nothing and http-parser gets the bytes as before, and decides. */

/* Target bytes: visible ASCII (all of which http-parser takes after '/'). */
static const unsigned char urlchars[256] = {['!' ... '~'] = 1};
/* Field value bytes: HTAB, SP, visible ASCII, obs-text. */
static const unsigned char vchars[256] = {['\t'] = 1, [' ' ... '~'] = 1, [0x80 ... 0xff] = 1};

static const struct {
  const char *name;
  size_t len;
  unsigned method;
} plain_methods[] = {{"GET", 3, HTTP_GET},     {"POST", 4, HTTP_POST},       {"HEAD", 4, HTTP_HEAD},
                     {"PUT", 3, HTTP_PUT},     {"DELETE", 6, HTTP_DELETE},   {"PATCH", 5, HTTP_PATCH},
                     {"OPTIONS", 7, HTTP_OPTIONS}};

enum { CONN_CLOSE = 1, CONN_KEEP_ALIVE = 2 };

#define BYTES(b) ((uint64_t)(b) * 0x0101010101010101ULL)

/* Skips 8 bytes at a time while all are SP or visible ASCII (most of a
 * value): a word with a byte below 0x20 or from 0x7F stops it (the test
 * may stop early, never late), and the byte loop goes on from there. */
static const unsigned char *skip_visible(const unsigned char *p, const unsigned char *end) {
  uint64_t w;
  while (end - p >= 8) {
    memcpy(&w, p, 8);
    if ((((w - BYTES(0x20)) & ~w) | (w + BYTES(0x01)) | w) & BYTES(0x80)) break;
    p += 8;
  }
  return p;
}

/* Whether a field leaves the message plain: not one of those http-parser
 * reads for framing or the connection, but Connection: close or
 * keep-alive, noted in *conn. */
static int plain_field(const char *name, size_t nl, const char *value, size_t vl, int *conn) {
  switch (nl) {
  case 7: return strncasecmp(name, "upgrade", 7) != 0;
  case 14: return strncasecmp(name, "content-length", 14) != 0;
  case 16: return strncasecmp(name, "proxy-connection", 16) != 0;
  case 17: return strncasecmp(name, "transfer-encoding", 17) != 0;
  case 10:
    if (strncasecmp(name, "connection", 10) != 0) return 1;
    if (vl == 5 && strncasecmp(value, "close", 5) == 0) *conn |= CONN_CLOSE;
    else if (vl == 10 && strncasecmp(value, "keep-alive", 10) == 0) *conn |= CONN_KEEP_ALIVE;
    else return 0;
    return 1;
  default: return 1;
  }
}

/* Parses the head at data[0..len) if it is whole and plain: emits its
 * request and returns the bytes it took; else returns 0, having emitted
 * and kept nothing. data[len] must be readable and not a byte any table
 * above takes (a Lua string's terminating NUL): the scans stop there. */
static size_t plain_head(hparser *h, const char *data, size_t len) {
  const unsigned char *p = (const unsigned char *)data, *end = p + len, *url, *name, *value;
  size_t i, url_len, nl, vl, head_bytes;
  scratch *s;
  head_info hd;
  int conn = 0;
  for (i = 0; i < sizeof plain_methods / sizeof plain_methods[0]; i++)
    if (len > plain_methods[i].len && p[plain_methods[i].len] == ' ' &&
        memcmp(p, plain_methods[i].name, plain_methods[i].len) == 0)
      break;
  if (i == sizeof plain_methods / sizeof plain_methods[0]) return 0;
  p += plain_methods[i].len + 1;
  if (*p != '/') return 0;
  for (url = p; urlchars[*p]; p++) {}
  url_len = (size_t)(p - url);
  if (end - p < 11 || memcmp(p, " HTTP/1.", 8) != 0 || (p[8] != '0' && p[8] != '1') ||
      p[9] != '\r' || p[10] != '\n')
    return 0;
  memset(&hd, 0, sizeof hd);
  hd.method = plain_methods[i].method;
  hd.major = 1;
  hd.minor = p[8] - '0';
  p += 11;
  head_bytes = url_len;
  if (head_bytes > h->max_header || borrow(h) != 0) return 0;
  s = h->s;
  s->pack_len = 0;
  for (;;) {
    if (*p == '\r') {
      if (end - p < 2 || p[1] != '\n') goto slow;
      p += 2;
      break;
    }
    for (name = p; moonlet__tchars[*p]; p++) {}
    nl = (size_t)(p - name);
    if (nl == 0 || *p != ':') goto slow;
    for (p++; *p == ' ' || *p == '\t'; p++) {}
    for (value = p, p = skip_visible(p, end); vchars[*p]; p++) {}
    vl = (size_t)(p - value);
    if (end - p < 2 || p[0] != '\r' || p[1] != '\n') goto slow;
    if (vl > 0 && (value[vl - 1] == ' ' || value[vl - 1] == '\t')) goto slow;
    if (!plain_field((const char *)name, nl, (const char *)value, vl, &conn)) goto slow;
    head_bytes += nl + vl;
    if (head_bytes > h->max_header) goto slow;
    if (moonlet__grow(&s->pack, &s->pack_cap, s->pack_len + MOONLET_FIELD_HEAD + nl + vl) != 0)
      goto slow;
    s->pack_len += moonlet__pack_field(s->pack + s->pack_len, (const char *)name, nl,
                                       (const char *)value, vl);
    p += 2;
  }
  if ((size_t)(p - (const unsigned char *)data) > HTTP_MAX_HEADER_SIZE ||
      moonlet__grow(&s->url, &s->url_cap, url_len) != 0)
    goto slow;
  memcpy(s->url, url, url_len);
  s->url_len = url_len;
  /* as http_should_keep_alive */
  hd.keep_alive = hd.minor ? !(conn & CONN_CLOSE) : (conn & CONN_KEEP_ALIVE) != 0;
  push_request(h, &hd);
  give_back(h);
  h->plain_heads++;
  return (size_t)(p - (const unsigned char *)data);
slow:
  give_back(h);
  return 0;
}

static hparser *check_parser(lua_State *L) {
  return luaL_checkudata(L, 1, PARSER_MT);
}

/* p:feed(data[, out]) -> n, kind, value, out | nil, message, code */
static int l_feed(lua_State *L) {
  hparser *h = check_parser(L);
  size_t len, done;
  const char *data = luaL_checklstring(L, 2, &len);
  enum http_errno e;
  if (lua_toboolean(L, OUT)) luaL_checktype(L, OUT, LUA_TTABLE);
  if (h->dead) return luaL_error(L, "HTTP parser used after a parse error");
  lua_settop(L, FIRST_VALUE);
  h->L = L;
  h->first = 0;
  h->n = 0;
  h->end = data + len;
  /* The rest of a chunk's CRLF that the last data ended before. */
  if (h->crlf_need > 0 && check_crlf(h, data) != 0) {
    done = 0;
  } else {
    size_t used;
    done = 0;
    /* Between messages (no buffers lent), whole plain heads first. */
    while (!h->s && done < len && (used = plain_head(h, data + done, len - done)) > 0) done += used;
    /* (http-parser takes a call without bytes for the end of the stream) */
    if (done < len) done += http_parser_execute(&h->p, &settings, data + done, len - done);
  }
  h->L = NULL;
  e = HTTP_PARSER_ERRNO(&h->p);
  if (h->bad_msg) {
    h->dead = 1;
    lua_pushnil(L);
    lua_pushstring(L, h->bad_msg);
    lua_pushstring(L, h->bad_code);
    return 3;
  }
  if (h->too_large) {
    h->dead = 1;
    lua_pushnil(L);
    lua_pushliteral(L, "request header too large");
    lua_pushliteral(L, "HEADER_TOO_LARGE");
    return 3;
  }
  if (e != HPE_OK || (done != len && !h->p.upgrade)) {
    h->dead = 1;
    lua_pushnil(L);
    lua_pushstring(L, http_errno_description(e));
    lua_pushstring(L, http_errno_name(e) + 4); /* without "HPE_" */
    return 3;
  }
  if (h->p.upgrade) {
    /* The connection now speaks another protocol: hand on the rest. */
    h->L = L;
    lua_pushlstring(L, data + done, len - done);
    emit(h, K_UPGRADE);
    h->L = NULL;
    h->dead = 1;
  }
  lua_pushinteger(L, h->n);
  lua_pushvalue(L, FIRST_KIND);
  lua_pushvalue(L, FIRST_VALUE);
  lua_pushvalue(L, OUT);
  return 4;
}

/* p:_plain_heads() -> how many heads plain_head parsed (for the specs) */
static int l_plain_heads(lua_State *L) {
  lua_pushinteger(L, check_parser(L)->plain_heads);
  return 1;
}

static int l_gc(lua_State *L) {
  hparser *h = check_parser(L);
  if (h->s) free_scratch(h->s);
  h->s = NULL;
  return 0;
}

static int pool_gc(lua_State *L) {
  scratch_pool *pool = lua_touserdata(L, 1);
  while (pool->spares) {
    scratch *s = pool->spares;
    pool->spares = s->next;
    free_scratch(s);
  }
  pool->n = 0;
  return 0;
}

/* _http_parser({max_header=}) -> parser */
static int l_parser(lua_State *L) {
  lua_Integer max = 65536;
  hparser *h;
  if (lua_istable(L, 1)) {
    lua_getfield(L, 1, "max_header");
    if (!lua_isnil(L, -1)) max = luaL_checkinteger(L, -1);
    lua_pop(L, 1);
  }
  luaL_argcheck(L, max > 0, 1, "max_header must be positive");
  h = lua_newuserdatauv(L, sizeof *h, 2);
  memset(h, 0, sizeof *h);
  h->pool = lua_touserdata(L, lua_upvalueindex(1));
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_setiuservalue(L, -2, UV_POOL);
  if (lua_istable(L, 1)) {
    if (lua_getfield(L, 1, "request_mt") != LUA_TTABLE && !lua_isnil(L, -1))
      return luaL_error(L, "request_mt must be a table");
    lua_setiuservalue(L, -2, UV_REQUEST_MT);
  }
  http_parser_init(&h->p, HTTP_REQUEST);
  h->max_header = (size_t)max;
  luaL_setmetatable(L, PARSER_MT);
  return 1;
}

void moonlet__open_http_parse(lua_State *L, moonlet_loop *lp) {
  int k;
  (void)lp;
  if (luaL_newmetatable(L, PARSER_MT)) {
    lua_createtable(L, 0, 2);
    lua_createtable(L, K_METHODS + 40, 0);
    for (k = 1; k < K_METHODS; k++) {
      lua_pushstring(L, key_names[k]);
      lua_rawseti(L, -2, k);
    }
    lua_pushcclosure(L, l_feed, 1);
    lua_setfield(L, -2, "feed");
    lua_pushcfunction(L, l_plain_heads);
    lua_setfield(L, -2, "_plain_heads");
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  memset(lua_newuserdatauv(L, sizeof(scratch_pool), 0), 0, sizeof(scratch_pool));
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, pool_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_pushcclosure(L, l_parser, 1);
  lua_setfield(L, -2, "_http_parser");
}
