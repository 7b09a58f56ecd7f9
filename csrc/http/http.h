/*
 * http.h - the HTTP client on libcurl, and the HTTP/1.x request parser and
 * response head builder the Lua server uses.
 */
#ifndef MOONLET_HTTP_H
#define MOONLET_HTTP_H

#include "core/loop.h"

void moonlet__open_http(lua_State *L, moonlet_loop *lp);
void moonlet__open_http_parse(lua_State *L, moonlet_loop *lp);
void moonlet__open_http_head(lua_State *L, moonlet_loop *lp);

#endif
