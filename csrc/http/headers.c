/*
 * headers.c - HTTP header lists (moonlet.http.Headers): the fields in
 * arrival order with their original spelling, repeated names all kept,
 * lookups in any case (like aiohttp's CIMultiDict and Go's http.Header).
 *
 *   h["content-type"], h:get("Content-Type")   first value, or nil
 *   h:get_all("set-cookie")                    every value, in order
 *   for name, value in h:each() do ... end     every field (pairs(h) too)
 *   #h                                         the number of fields
 *   h:add(name, value), h:set(name, value), h:remove(name)
 *   h[name] = value, h[name] = nil             set, remove
 *
 * A list is a userdata holding its fields packed, each as two uint32_t
 * (the name's and the value's lengths) then the bytes of both: the
 * server's parser hands a request's fields over in one copy, and a
 * response's head is written from them with no Lua string per field.
 * The bytes live after the struct, or, once they outgrow that room, in a
 * plain userdata kept as the list's uservalue.
 *
 * Names given by Lua code must be RFC 9110 tokens and values strings (or
 * numbers) without CR, LF or NUL, so no field can split a message or
 * smuggle another. Fields received from a peer are taken as they came.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/sched.h"
#include "http/http.h"

typedef struct headers {
  char *data;
  size_t len, cap;
} headers;

#define ROOM 128 /* an empty list's: a response's few fields fit */

static char headers_key; /* the metatable, in the registry */

const unsigned char moonlet__tchars[256] = {
  ['a' ... 'z'] = 1, ['A' ... 'Z'] = 1, ['0' ... '9'] = 1,
  ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1,
  ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,
};

int moonlet__is_token(const char *s, size_t len) {
  size_t i;
  for (i = 0; i < len; i++)
    if (!moonlet__tchars[(unsigned char)s[i]]) return 0;
  return 1;
}

void moonlet__pack_lengths(char *dst, size_t nl, size_t vl) {
  uint32_t lens[2];
  lens[0] = (uint32_t)nl;
  lens[1] = (uint32_t)vl;
  memcpy(dst, lens, sizeof lens);
}

size_t moonlet__pack_field(char *dst, const char *name, size_t nl, const char *value, size_t vl) {
  moonlet__pack_lengths(dst, nl, vl);
  memcpy(dst + MOONLET_FIELD_HEAD, name, nl);
  memcpy(dst + MOONLET_FIELD_HEAD + nl, value, vl);
  return MOONLET_FIELD_HEAD + nl + vl;
}

int moonlet__next_field(const char *raw, size_t len, size_t *at, const char **name,
                        size_t *nl, const char **value, size_t *vl) {
  uint32_t lens[2];
  if (*at + sizeof lens > len) return 0;
  memcpy(lens, raw + *at, sizeof lens);
  if (lens[0] > len - *at - sizeof lens || lens[1] > len - *at - sizeof lens - lens[0]) return 0;
  *name = raw + *at + sizeof lens;
  *nl = lens[0];
  *value = *name + lens[0];
  *vl = lens[1];
  *at += sizeof lens + lens[0] + lens[1];
  return 1;
}

static void push_mt(lua_State *L) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &headers_key);
}

/* A new list with room bytes to spare, its fields copied from packed. */
static headers *new_headers(lua_State *L, const char *packed, size_t len, size_t room) {
  headers *h = lua_newuserdatauv(L, sizeof *h + len + room, 1);
  h->data = (char *)(h + 1);
  if (len) memcpy(h->data, packed, len);
  h->len = len;
  h->cap = len + room;
  push_mt(L);
  lua_setmetatable(L, -2);
  return h;
}

void moonlet__push_headers(lua_State *L, const char *packed, size_t len) {
  new_headers(L, packed, len, 0);
}

static headers *test_headers(lua_State *L, int idx) {
  headers *h = lua_touserdata(L, idx);
  if (!h || !lua_getmetatable(L, idx)) return NULL;
  push_mt(L);
  if (!lua_rawequal(L, -1, -2)) h = NULL;
  lua_pop(L, 2);
  return h;
}

static headers *check_headers(lua_State *L, int idx) {
  headers *h = test_headers(L, idx);
  if (!h) luaL_typeerror(L, idx, "header list");
  return h;
}

/* Makes room for need more bytes: the fields move to a bigger box. The
 * list is at idx. */
static void reserve(lua_State *L, int idx, headers *h, size_t need) {
  size_t cap;
  char *box;
  if (h->cap - h->len >= need) return;
  cap = h->cap * 2 > h->len + need ? h->cap * 2 : h->len + need;
  if (cap < 256) cap = 256;
  idx = lua_absindex(L, idx);
  box = lua_newuserdatauv(L, cap, 0);
  memcpy(box, h->data, h->len);
  lua_setiuservalue(L, idx, 1);
  h->data = box;
  h->cap = cap;
}

static void append(lua_State *L, int idx, headers *h, const char *name, size_t nl,
                   const char *value, size_t vl) {
  /* The packed lengths are 32 bits: refuse, with nothing changed. */
  if (nl > UINT32_MAX || vl > UINT32_MAX) luaL_error(L, "header field too long");
  reserve(L, idx, h, MOONLET_FIELD_HEAD + nl + vl);
  h->len += moonlet__pack_field(h->data + h->len, name, nl, value, vl);
}

/* Adds s quoted, for messages about what Lua code gave. */
static void add_quoted(luaL_Buffer *b, const char *s, size_t len) {
  size_t i;
  luaL_addchar(b, '"');
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') {
      luaL_addchar(b, '\\');
      luaL_addchar(b, (char)c);
    } else if (c < 32 || c == 127) {
      char esc[8];
      snprintf(esc, sizeof esc, "\\%d", c);
      luaL_addstring(b, esc);
    } else {
      luaL_addchar(b, (char)c);
    }
  }
  luaL_addchar(b, '"');
}

static const char *check_name(lua_State *L, int idx, size_t *len) {
  const char *name = lua_type(L, idx) == LUA_TSTRING ? lua_tolstring(L, idx, len) : NULL;
  if (!name || *len == 0 || !moonlet__is_token(name, *len)) {
    luaL_Buffer b;
    size_t tl;
    const char *text = luaL_tolstring(L, idx, &tl);
    luaL_buffinit(L, &b);
    add_quoted(&b, text, tl);
    luaL_pushresult(&b);
    luaL_error(L, "bad header name %s", lua_tostring(L, -1));
  }
  return name;
}

static const char *check_value(lua_State *L, int idx, const char *name, size_t *len) {
  const char *value;
  int t = lua_type(L, idx);
  if (t != LUA_TSTRING && t != LUA_TNUMBER)
    luaL_error(L, "header value of '%s' must be a string or a number, not %s", name,
               t == LUA_TNONE ? "nil" : lua_typename(L, t));
  value = lua_tolstring(L, idx, len);
  if (memchr(value, '\r', *len) || memchr(value, '\n', *len) || memchr(value, '\0', *len))
    luaL_error(L, "header value of '%s' contains CR, LF or NUL", name);
  return value;
}

static int is_name(const char *a, size_t al, const char *b, size_t bl) {
  return al == bl && strncasecmp(a, b, al) == 0;
}

/* Removes every field named name, in place. */
static void remove_all(headers *h, const char *want, size_t wl) {
  size_t at = 0, from = 0, to = 0, nl, vl;
  const char *name, *value;
  while (moonlet__next_field(h->data, h->len, &at, &name, &nl, &value, &vl)) {
    if (!is_name(name, nl, want, wl)) {
      if (to != from) memmove(h->data + to, h->data + from, at - from);
      to += at - from;
    }
    from = at;
  }
  h->len = to;
}

static int h_get(lua_State *L) {
  headers *h = check_headers(L, 1);
  size_t wl, at = 0, nl, vl;
  const char *want = luaL_checklstring(L, 2, &wl), *name, *value;
  while (moonlet__next_field(h->data, h->len, &at, &name, &nl, &value, &vl)) {
    if (is_name(name, nl, want, wl)) {
      lua_pushlstring(L, value, vl);
      return 1;
    }
  }
  lua_pushnil(L);
  return 1;
}

static int h_get_all(lua_State *L) {
  headers *h = check_headers(L, 1);
  size_t wl, at = 0, nl, vl;
  const char *want = luaL_checklstring(L, 2, &wl), *name, *value;
  lua_Integer n = 0;
  lua_newtable(L);
  while (moonlet__next_field(h->data, h->len, &at, &name, &nl, &value, &vl)) {
    if (is_name(name, nl, want, wl)) {
      lua_pushlstring(L, value, vl);
      lua_rawseti(L, -2, ++n);
    }
  }
  return 1;
}

/* The iterator of each(): upvalues the list and the next field's offset. */
static int h_next(lua_State *L) {
  headers *h = lua_touserdata(L, lua_upvalueindex(1));
  size_t at = (size_t)lua_tointeger(L, lua_upvalueindex(2)), nl, vl;
  const char *name, *value;
  if (!moonlet__next_field(h->data, h->len, &at, &name, &nl, &value, &vl)) return 0;
  lua_pushinteger(L, (lua_Integer)at);
  lua_replace(L, lua_upvalueindex(2));
  lua_pushlstring(L, name, nl);
  lua_pushlstring(L, value, vl);
  return 2;
}

static int h_each(lua_State *L) {
  check_headers(L, 1);
  lua_settop(L, 1);
  lua_pushinteger(L, 0);
  lua_pushcclosure(L, h_next, 2);
  return 1;
}

/* h:add(name, value) and, replacing the fields of that name, h:set. */
static int add_field(lua_State *L, int replace) {
  headers *h = check_headers(L, 1);
  size_t nl, vl;
  const char *name = check_name(L, 2, &nl);
  const char *value = check_value(L, 3, name, &vl);
  if (replace) remove_all(h, name, nl);
  append(L, 1, h, name, nl, value, vl);
  lua_settop(L, 1);
  return 1;
}

static int h_add(lua_State *L) { return add_field(L, 0); }
static int h_set(lua_State *L) { return add_field(L, 1); }

static int h_remove(lua_State *L) {
  headers *h = check_headers(L, 1);
  size_t nl;
  const char *name = luaL_checklstring(L, 2, &nl);
  remove_all(h, name, nl);
  lua_settop(L, 1);
  return 1;
}

/* h[k]: a method, else the first value of the field named k. */
static int h_index(lua_State *L) {
  lua_pushvalue(L, 2);
  if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
  if (lua_type(L, 2) != LUA_TSTRING) return 1;
  lua_pop(L, 1);
  return h_get(L);
}

static int h_newindex(lua_State *L) {
  if (lua_isnil(L, 3)) return h_remove(L);
  return h_set(L);
}

/* #h: the number of fields. */
static int h_len(lua_State *L) {
  headers *h = check_headers(L, 1);
  size_t at = 0, nl, vl;
  const char *name, *value;
  lua_Integer n = 0;
  while (moonlet__next_field(h->data, h->len, &at, &name, &nl, &value, &vl)) n++;
  lua_pushinteger(L, n);
  return 1;
}

static int h_tostring(lua_State *L) {
  headers *h = check_headers(L, 1);
  size_t at = 0, nl, vl;
  const char *name, *value;
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  while (moonlet__next_field(h->data, h->len, &at, &name, &nl, &value, &vl)) {
    if (at > MOONLET_FIELD_HEAD + nl + vl) luaL_addchar(&b, '\n');
    luaL_addlstring(&b, name, nl);
    luaL_addlstring(&b, ": ", 2);
    luaL_addlstring(&b, value, vl);
  }
  luaL_pushresult(&b);
  return 1;
}

/* The names of a {Name = value} table, sorted (a stable order). */
typedef struct named {
  const char *s;
  size_t len;
} named;

static int by_name(const void *a, const void *b) {
  const named *x = a, *y = b;
  int c = memcmp(x->s, y->s, x->len < y->len ? x->len : y->len);
  return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Adds what the table at src holds to the list at -1: a flat list
 * {name, value, ...} or {Name = value | {values}}. */
static void add_table(lua_State *L, int src) {
  int list = lua_gettop(L);
  headers *h = lua_touserdata(L, list);
  lua_Integer n = (lua_Integer)lua_rawlen(L, src), i;
  if (n > 0) {
    for (i = 1; i <= n; i += 2) {
      size_t nl, vl;
      const char *name, *value;
      lua_rawgeti(L, src, i);
      lua_rawgeti(L, src, i + 1);
      name = check_name(L, -2, &nl);
      value = check_value(L, -1, name, &vl);
      append(L, list, h, name, nl, value, vl);
      lua_pop(L, 2);
    }
    return;
  }
  {
    size_t count = 0, k;
    named *names;
    lua_pushnil(L);
    while (lua_next(L, src)) {
      count++;
      lua_pop(L, 1);
    }
    names = lua_newuserdatauv(L, count * sizeof *names + 1, 0);
    count = 0;
    lua_pushnil(L);
    while (lua_next(L, src)) {
      lua_pop(L, 1);
      names[count].s = check_name(L, -1, &names[count].len); /* kept alive by src */
      count++;
    }
    qsort(names, count, sizeof *names, by_name);
    for (k = 0; k < count; k++) {
      size_t vl;
      const char *value;
      lua_pushlstring(L, names[k].s, names[k].len);
      if (lua_rawget(L, src) == LUA_TTABLE) {
        lua_Integer j, m = (lua_Integer)lua_rawlen(L, -1);
        for (j = 1; j <= m; j++) {
          lua_rawgeti(L, -1, j);
          value = check_value(L, -1, names[k].s, &vl);
          append(L, list, h, names[k].s, names[k].len, value, vl);
          lua_pop(L, 1);
        }
      } else {
        value = check_value(L, -1, names[k].s, &vl);
        append(L, list, h, names[k].s, names[k].len, value, vl);
      }
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
}

/* Headers([src]): a list copied from another, or from a table (see
 * add_table), or empty. */
static int l_new(lua_State *L) {
  headers *src;
  int t = lua_type(L, 1);
  if (t != LUA_TNONE && t != LUA_TNIL && t != LUA_TTABLE && !(t == LUA_TUSERDATA && test_headers(L, 1)))
    return luaL_error(L, "bad argument #1 to 'Headers' (table expected, got %s)", luaL_typename(L, 1));
  if ((src = t == LUA_TUSERDATA ? test_headers(L, 1) : NULL) != NULL) {
    new_headers(L, src->data, src->len, ROOM);
    return 1;
  }
  new_headers(L, NULL, 0, ROOM);
  if (t == LUA_TTABLE) add_table(L, 1);
  return 1;
}

const char *moonlet__headers_packed(lua_State *L, int idx, size_t *len) {
  headers *h = test_headers(L, idx);
  if (!h) {
    if (!lua_istable(L, idx)) return NULL;
    lua_pushcfunction(L, l_new); /* a plain table: checked as Headers(t) checks it */
    lua_pushvalue(L, idx);
    lua_call(L, 1, 1);
    h = lua_touserdata(L, -1);
    lua_replace(L, idx);
  }
  *len = h->len;
  return h->data;
}

/* _headers_parse(lines) -> the list of the fields of a received head's
 * lines after the first ("Name: value"; a line without a colon after a
 * name, such as a folded one, is skipped; spaces around the value are
 * dropped). */
static int l_parse(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len), *end = s + len, *line = s;
  headers *h = new_headers(L, NULL, 0, 0);
  int first = 1;
  while (line < end) {
    const char *eol = line, *name_end, *value, *value_end;
    while (eol < end && *eol != '\r' && *eol != '\n') eol++;
    if (first) {
      first = 0;
    } else {
      name_end = line;
      while (name_end < eol && *name_end != ':' && *name_end != ' ' && *name_end != '\t') name_end++;
      value = name_end;
      while (value < eol && (*value == ' ' || *value == '\t')) value++;
      if (name_end > line && value < eol && *value == ':') {
        value++;
        while (value < eol && (*value == ' ' || *value == '\t')) value++;
        value_end = eol;
        while (value_end > value && (value_end[-1] == ' ' || value_end[-1] == '\t')) value_end--;
        append(L, -1, h, line, (size_t)(name_end - line), value, (size_t)(value_end - value));
      }
    }
    line = eol;
    while (line < end && (*line == '\r' || *line == '\n')) line++;
  }
  return 1;
}

void moonlet__open_http_headers(lua_State *L, moonlet_loop *lp) {
  static const luaL_Reg methods[] = {
      {"get", h_get}, {"get_all", h_get_all}, {"each", h_each}, {"add", h_add},
      {"set", h_set}, {"remove", h_remove}, {NULL, NULL}};
  static const luaL_Reg meta[] = {
      {"__newindex", h_newindex}, {"__tostring", h_tostring}, {"__len", h_len},
      {"__pairs", h_each}, {NULL, NULL}};
  (void)lp;
  push_mt(L);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_createtable(L, 0, 6);
    lua_pushliteral(L, "Headers");
    lua_setfield(L, -2, "__name");
    luaL_newlib(L, methods);
    lua_pushcclosure(L, h_index, 1);
    lua_setfield(L, -2, "__index");
    luaL_setfuncs(L, meta, 0);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &headers_key);
  }
  lua_setfield(L, -2, "_headers_mt");
  lua_pushcfunction(L, l_new);
  lua_setfield(L, -2, "_headers");
  lua_pushcfunction(L, l_parse);
  lua_setfield(L, -2, "_headers_parse");
}
