/*
 * http.h - the HTTP client on libcurl, and the HTTP/1.x request parser and
 * response head builder the Lua server uses.
 */
#ifndef MOONLET_HTTP_H
#define MOONLET_HTTP_H

#include <stdint.h>

#include "core/loop.h"

void moonlet__open_http(lua_State *L, moonlet_loop *lp);
void moonlet__open_http_parse(lua_State *L, moonlet_loop *lp);
void moonlet__open_http_head(lua_State *L, moonlet_loop *lp);
void moonlet__open_http_headers(lua_State *L, moonlet_loop *lp);

/* Header lists (headers.c). A field packed is two uint32_t, the lengths
 * of its name and value, then the bytes of both. */
int moonlet__is_token(const char *s, size_t len); /* RFC 9110 (len 0: yes) */
/* RFC 9110 token characters, what a header name may contain: 1, else 0. */
extern const unsigned char moonlet__tchars[256];
#define MOONLET_FIELD_HEAD (2 * sizeof(uint32_t))
/* Writes the lengths that start a packed field. */
void moonlet__pack_lengths(char *dst, size_t nl, size_t vl);
/* Writes a whole packed field at dst; returns its size. */
size_t moonlet__pack_field(char *dst, const char *name, size_t nl, const char *value, size_t vl);
int moonlet__next_field(const char *raw, size_t len, size_t *at, const char **name,
                        size_t *nl, const char **value, size_t *vl);
/* Pushes a list of the packed fields (as received: not checked). */
void moonlet__push_headers(lua_State *L, const char *packed, size_t len);
/* The packed fields of the list at idx; a plain table there is first
 * made into a list (its fields checked) in its place. NULL for anything
 * else. */
const char *moonlet__headers_packed(lua_State *L, int idx, size_t *len);

#endif
