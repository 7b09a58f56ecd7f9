/*
 * offload.c - moonlet.work(name, ...): runs a registered C work function
 * (moonlet.h) on libuv's thread pool with copies of the arguments, and
 * returns its results to the calling task, which alone waits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "io/io.h"
#include "moonlet.h"

typedef struct offload_job {
  moonlet_op base;           /* first: a pool job (op.h) */
  uv_work_t work;
  moonlet_work_fn fn;
  int status;
  moonlet_work_call call;
  moonlet_value args[];
} offload_job;

static void offload_release(moonlet_op *base) {
  offload_job *j = (offload_job *)base;
  int i;
  for (i = 0; i < j->call.nargs; i++)
    if (j->args[i].type == LUA_TSTRING) free((char *)j->args[i].v.s);
  for (i = 0; i < j->call.nresults && i < MOONLET_WORK_MAXRESULTS; i++)
    if (j->call.results[i].type == LUA_TSTRING) free((char *)j->call.results[i].v.s);
}

static void offload_run(moonlet_op *base) {
  offload_job *j = (offload_job *)base;
  j->status = j->fn(&j->call);
  if (j->call.nresults < 0 || j->call.nresults > MOONLET_WORK_MAXRESULTS) {
    j->call.nresults = 0;
    if (j->status == 0) {
      j->status = -1;
      strcpy(j->call.error, "too many results");
    }
  }
}

static void push_value(lua_State *L, const moonlet_value *v) {
  switch (v->type) {
    case LUA_TBOOLEAN: lua_pushboolean(L, v->v.b); break;
    case LUA_TNUMBER:
      if (v->is_int) lua_pushinteger(L, v->v.i); else lua_pushnumber(L, v->v.n);
      break;
    case LUA_TSTRING: lua_pushlstring(L, v->v.s ? v->v.s : "", v->len); break;
    default: lua_pushnil(L); break;
  }
}

static int offload_k(lua_State *L, int status, lua_KContext ctx) {
  offload_job *j = (offload_job *)moonlet__op_of(ctx);
  int i, n;
  (void)status;
  moonlet__op_end(L, ctx, 0); /* done, or Cancelled: the job ends alone */
  if (j->base.status != 0 || j->status != 0) {
    if (j->base.status != 0) {
      n = moonlet__push_failure(L, j->base.status, lua_tostring(L, 1));
    } else {
      lua_pushfstring(L, "work '%s': %s", lua_tostring(L, 1), j->call.error);
      n = moonlet__push_error(L, "EWORK", lua_tostring(L, -1));
    }
    moonlet__op_free(&j->base);
    return n;
  }
  n = j->call.nresults;
  luaL_checkstack(L, n, "too many results");
  for (i = 0; i < n; i++) push_value(L, &j->call.results[i]);
  moonlet__op_free(&j->base);
  return n;
}

/* work(name, ...) -> the work function's results */
static int l_work(lua_State *L) {
  moonlet_loop *lp = moonlet__loop(L);
  const char *name = luaL_checkstring(L, 1);
  int nargs = lua_gettop(L) - 1, i;
  moonlet_work_reg reg;
  offload_job *j;
  luaL_getsubtable(L, LUA_REGISTRYINDEX, MOONLET_WORK_REGISTRY);
  if (lua_getfield(L, -1, name) != LUA_TUSERDATA ||
      lua_rawlen(L, -1) != sizeof reg || lua_getmetatable(L, -1))
    return luaL_argerror(L, 1, lua_pushfstring(L, "no work function '%s'", name));
  reg = *(moonlet_work_reg *)lua_touserdata(L, -1);
  lua_pop(L, 2);
  for (i = 2; i <= nargs + 1; i++) {
    int t = lua_type(L, i);
    if (t != LUA_TNIL && t != LUA_TBOOLEAN && t != LUA_TNUMBER && t != LUA_TSTRING)
      luaL_typeerror(L, i, "nil, boolean, number or string");
  }
  j = moonlet__req_begin(L, lp, sizeof *j + (size_t)nargs * sizeof(moonlet_value),
                        offload_release);
  j->base.what = "work";
  j->base.run = offload_run;
  j->fn = reg.fn;
  j->call.ud = reg.ud;
  j->call.args = j->args;
  for (i = 0; i < nargs; i++) {
    moonlet_value *v = &j->args[i];
    int idx = i + 2;
    v->type = lua_type(L, idx);
    if (v->type == LUA_TBOOLEAN) {
      v->v.b = lua_toboolean(L, idx);
    } else if (v->type == LUA_TNUMBER) {
      v->is_int = lua_isinteger(L, idx);
      if (v->is_int) v->v.i = lua_tointeger(L, idx); else v->v.n = lua_tonumber(L, idx);
    } else if (v->type == LUA_TSTRING) {
      const char *s = lua_tolstring(L, idx, &v->len);
      v->v.s = moonlet__memdup(s, v->len);
      if (!v->v.s) {
        j->call.nargs = i;
        moonlet__op_abandon(&j->base);
        return luaL_error(L, "not enough memory");
      }
    }
    j->call.nargs = i + 1;
  }
  lua_settop(L, 1); /* the name, for error messages */
  return moonlet__op_queue(L, &j->base, &j->work, offload_k);
}

/* --- built-in work functions --------------------------------------------- */

/* crc32(data[, crc]) -> CRC-32 (IEEE 802.3, as zlib's crc32) */
static int work_crc32(moonlet_work_call *c) {
  uint32_t crc, table[256];
  size_t i;
  const unsigned char *p;
  if (c->nargs < 1 || c->args[0].type != LUA_TSTRING) {
    strcpy(c->error, "string expected");
    return -1;
  }
  for (i = 0; i < 256; i++) {
    uint32_t x = (uint32_t)i;
    int k;
    for (k = 0; k < 8; k++) x = (x >> 1) ^ (0xEDB88320u & (0u - (x & 1u)));
    table[i] = x;
  }
  crc = c->nargs > 1 && c->args[1].type == LUA_TNUMBER && c->args[1].is_int
            ? (uint32_t)c->args[1].v.i : 0;
  crc = ~crc;
  p = (const unsigned char *)c->args[0].v.s;
  for (i = 0; i < c->args[0].len; i++) crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  c->nresults = 1;
  c->results[0].type = LUA_TNUMBER;
  c->results[0].is_int = 1;
  c->results[0].v.i = (lua_Integer)(~crc);
  return 0;
}

void moonlet__open_offload(lua_State *L, moonlet_loop *lp) {
  static const luaL_Reg funcs[] = {{"work", l_work}, {NULL, NULL}};
  moonlet_register_work(L, "crc32", work_crc32);
  moonlet__setfuncs(L, lp, funcs);
}
