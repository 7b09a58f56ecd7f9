/*
 * rbuf.c - read buffer and io-style read formats (see rbuf.h).
 */
#include <ctype.h>
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "io/rbuf.h"

#define RBUF_MIN (16u << 10)
#define RBUF_KEEP (256u << 10) /* an emptied buffer larger than this is freed */
#define MAX_NUMERAL 200

void moonlet__rbuf_init(moonlet_rbuf *rb) {
  memset(rb, 0, sizeof *rb);
  rb->max_line = MOONLET_MAX_LINE_DEFAULT;
}

void moonlet__rbuf_free(moonlet_rbuf *rb) {
  free(rb->data);
  rb->data = NULL;
  rb->head = rb->tail = rb->cap = rb->scanned = 0;
}

void moonlet__rbuf_pool_trim(moonlet_rbuf_pool *pool, int keep) {
  int unused = pool->low - keep;
  while (unused-- > 0 && pool->n > 0) free(pool->bufs[--pool->n]);
  pool->low = pool->n;
}

void moonlet__rbuf_pool_free(moonlet_rbuf_pool *pool) {
  pool->low = pool->n;
  moonlet__rbuf_pool_trim(pool, 0);
  free(pool->bufs);
  pool->bufs = NULL;
  pool->cap = 0;
}

/* Keeps an emptied buffer of the pool's size; 0 if there is no room. */
static int pool_put(moonlet_rbuf_pool *pool, char *data) {
  if (pool->n == pool->cap) {
    int cap = pool->cap ? pool->cap * 2 : 16;
    char **b = realloc(pool->bufs, (size_t)cap * sizeof *b);
    if (!b) return 0;
    pool->bufs = b;
    pool->cap = cap;
  }
  pool->bufs[pool->n++] = data;
  return 1;
}

void moonlet__rbuf_clear(moonlet_rbuf *rb) {
  moonlet_rbuf_pool *pool = rb->pool;
  rb->head = rb->tail = rb->scanned = 0;
  if (pool && rb->data) {
    if (rb->cap != MOONLET_RBUF_CHUNK || !pool_put(pool, rb->data)) {
      moonlet__rbuf_free(rb);
      return;
    }
    rb->data = NULL;
    rb->cap = 0;
  } else if (rb->cap > RBUF_KEEP) {
    moonlet__rbuf_free(rb);
  }
}

char *moonlet__rbuf_reserve(moonlet_rbuf *rb, size_t want, size_t *room) {
  size_t len = rb->tail - rb->head;
  if (len == 0) rb->head = rb->tail = 0;
  if (!rb->data && rb->pool && rb->pool->n > 0 && want <= MOONLET_RBUF_CHUNK) {
    moonlet_rbuf_pool *pool = rb->pool;
    rb->data = pool->bufs[--pool->n];
    rb->cap = MOONLET_RBUF_CHUNK;
    if (pool->n < pool->low) pool->low = pool->n;
  }
  if (rb->cap - rb->tail < want) {
    if (rb->head > 0) { /* slide the live bytes down first */
      memmove(rb->data, rb->data + rb->head, len);
      rb->head = 0;
      rb->tail = len;
    }
    if (rb->cap - len < want) {
      size_t cap = rb->cap ? rb->cap : RBUF_MIN;
      char *d;
      while (cap - len < want) {
        if (cap > ((size_t)-1) / 2) return NULL;
        cap *= 2;
      }
      d = realloc(rb->data, cap);
      if (!d) return NULL;
      rb->data = d;
      rb->cap = cap;
    }
  }
  *room = rb->cap - rb->tail;
  return rb->data + rb->tail;
}

static void consume(moonlet_rbuf *rb, size_t n) {
  rb->head += n;
  rb->scanned = 0;
  if (rb->head == rb->tail) moonlet__rbuf_clear(rb);
}

/* Pushes n bytes from the head and consumes skip >= n of them. */
static void push_take(lua_State *L, moonlet_rbuf *rb, size_t n, size_t skip) {
  lua_pushlstring(L, rb->data ? rb->data + rb->head : "", n);
  consume(rb, skip);
}

void moonlet__rfmt_check(lua_State *L, int idx, int dflt, moonlet_rfmt *f) {
  f->n = 0;
  if (lua_isnoneornil(L, idx)) {
    f->kind = dflt >= 0 ? dflt : RF_CHUNK;
  } else if (lua_type(L, idx) == LUA_TNUMBER) {
    lua_Integer n = luaL_checkinteger(L, idx);
    luaL_argcheck(L, n >= 0, idx, "byte count must not be negative");
    f->kind = RF_COUNT;
    f->n = (size_t)n;
  } else {
    const char *s = luaL_checkstring(L, idx);
    if (*s == '*') s++; /* Lua 5.1/5.2 spelling */
    switch (*s) {
      case 'l': f->kind = RF_LINE; break;
      case 'L': f->kind = RF_LINE_NL; break;
      case 'a': f->kind = RF_ALL; break;
      case 'n': f->kind = RF_NUMBER; break;
      default: luaL_argerror(L, idx, "invalid format");
    }
  }
}

static int take_line(lua_State *L, moonlet_rbuf *rb, int keep_nl, int eof) {
  size_t len = rb->tail - rb->head;
  const char *base = rb->data ? rb->data + rb->head : "";
  const char *nl = len > rb->scanned
                       ? memchr(base + rb->scanned, '\n', len - rb->scanned)
                       : NULL;
  if (nl) {
    size_t n = (size_t)(nl - base);
    if (n > rb->max_line) return -1;
    push_take(L, rb, keep_nl ? n + 1 : n, n + 1);
    return 1;
  }
  rb->scanned = len;
  if (len > rb->max_line) return -1;
  if (!eof) return 0;
  if (len == 0) {
    lua_pushnil(L);
  } else {
    push_take(L, rb, len, len); /* the last line has no newline */
  }
  return 1;
}

static int numeral_char(int c) {
  return isxdigit(c) || c == '.' || c == '+' || c == '-' || c == 'x' ||
         c == 'X' || c == 'p' || c == 'P';
}

static int take_number(lua_State *L, moonlet_rbuf *rb, int eof) {
  size_t i = 0, len;
  char buf[MAX_NUMERAL + 1];
  while (rb->head < rb->tail && isspace((unsigned char)rb->data[rb->head]))
    rb->head++;
  len = rb->tail - rb->head;
  while (i < len && i < MAX_NUMERAL && numeral_char((unsigned char)rb->data[rb->head + i]))
    i++;
  if (i == len && i < MAX_NUMERAL && !eof) return 0;
  memcpy(buf, rb->data ? rb->data + rb->head : "", i);
  buf[i] = '\0';
  consume(rb, i);
  if (i == 0 || lua_stringtonumber(L, buf) == 0) lua_pushnil(L);
  return 1;
}

int moonlet__rbuf_take(lua_State *L, moonlet_rbuf *rb, const moonlet_rfmt *f,
                       int eof) {
  size_t len = rb->tail - rb->head;
  switch (f->kind) {
    case RF_LINE: return take_line(L, rb, 0, eof);
    case RF_LINE_NL: return take_line(L, rb, 1, eof);
    case RF_NUMBER: return take_number(L, rb, eof);
    case RF_ALL:
      if (!eof) return 0;
      push_take(L, rb, len, len);
      return 1;
    case RF_COUNT:
      /* Like io, read(0) gives "" unless at the end of data. */
      if (len >= f->n && len > 0) {
        push_take(L, rb, f->n, f->n);
        return 1;
      }
      if (!eof) return 0;
      if (len == 0) lua_pushnil(L);
      else push_take(L, rb, len, len);
      return 1;
    default: /* RF_CHUNK */
      if (len > 0) {
        push_take(L, rb, len, len);
        return 1;
      }
      if (!eof) return 0;
      lua_pushnil(L);
      return 1;
  }
}

size_t moonlet__rbuf_want(const moonlet_rbuf *rb, const moonlet_rfmt *f) {
  size_t len = rb->tail - rb->head;
  if (f->kind == RF_COUNT && f->n > len) return f->n - len;
  return 1;
}
