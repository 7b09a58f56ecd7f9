/*
 * channel.c - Go channels. An operation hands off to a waiter first, then
 * uses the buffer, then queues (Tarantool's fiber_channel order); waiters
 * are served FIFO.
 *
 * Values move only through the channel object: its first user value is the
 * ring buffer, its second a table of slots keyed by the address of each
 * waiting sender's wait (holding the value it offers) or receiver's (the
 * value handed to it); a task reuses its wait, so the keys stay few. A
 * waiter that is cancelled before it was served leaves nothing behind and
 * takes nothing.
 */
#include <limits.h>

#include "sched.h"

#define CHANNEL_MT "moonlet.channel"

enum { UV_RING = 1, UV_SLOTS = 2, UV_STOP = 3 };

typedef struct moonlet_channel {
  lua_Integer cap;     /* 0: unbuffered */
  lua_Integer head;    /* ring index (0-based) of the oldest value */
  lua_Integer count;   /* values in the ring */
  int closed;
  mqueue recvq, sendq; /* moonlet_wait.node */
} moonlet_channel;

static moonlet_channel *check_channel(lua_State *L, int idx) {
  if (moonlet__objkind(L, moonlet__loop(L), idx) != MOONLET_MT_CHANNEL)
    luaL_typeerror(L, idx, "channel");
  return lua_touserdata(L, idx);
}

/* --- the ring and the slots, all at stack index 1 ------------------------ */

static void ring_push(lua_State *L, moonlet_channel *c) { /* pops a value */
  lua_getiuservalue(L, 1, UV_RING);
  lua_rotate(L, -2, 1);
  lua_rawseti(L, -2, (c->head + c->count) % c->cap + 1);
  lua_pop(L, 1);
  c->count++;
}

static void ring_pop(lua_State *L, moonlet_channel *c) { /* pushes it */
  lua_getiuservalue(L, 1, UV_RING);
  lua_rawgeti(L, -1, c->head + 1);
  lua_pushnil(L);
  lua_rawseti(L, -3, c->head + 1);
  lua_remove(L, -2);
  c->head = (c->head + 1) % c->cap;
  c->count--;
}

static void slots(lua_State *L) {
  if (lua_getiuservalue(L, 1, UV_SLOTS) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, 1, UV_SLOTS);
  }
}

static void slot_put(lua_State *L, moonlet_wait *w) { /* pops a value */
  slots(L);
  lua_rotate(L, -2, 1);
  lua_rawsetp(L, -2, w);
  lua_pop(L, 1);
}

static void slot_take(lua_State *L, moonlet_wait *w) { /* pushes, clears */
  slots(L);
  lua_rawgetp(L, -1, w);
  lua_pushnil(L);
  lua_rawsetp(L, -3, w);
  lua_remove(L, -2);
}

static moonlet_wait *first_waiter(mqueue *q) {
  mqueue *n = mq_shift(q);
  return n ? mq_data(n, moonlet_wait, node) : NULL;
}

/* --- operations that never block ----------------------------------------- */

/* Sends the value on top (popped) if that needs no waiting. */
static int try_send(lua_State *L, moonlet_channel *c) {
  moonlet_wait *r;
  if (c->closed) return luaL_error(L, "send on a closed channel");
  if ((r = first_waiter(&c->recvq)) != NULL) {
    slot_put(L, r);
    moonlet__wake(r, MW_OK);
    return 1;
  }
  if (c->count < c->cap) {
    ring_push(L, c);
    return 1;
  }
  return 0;
}

/* Pushes a value and returns 1 if one can be had without waiting. */
static int try_recv(lua_State *L, moonlet_channel *c) {
  moonlet_wait *s;
  if (c->count > 0) {
    ring_pop(L, c);
    /* The buffer has room now: the first waiting sender moves in. */
    if ((s = first_waiter(&c->sendq)) != NULL) {
      slot_take(L, s);
      ring_push(L, c);
      moonlet__wake(s, MW_OK);
    }
    return 1;
  }
  if ((s = first_waiter(&c->sendq)) != NULL) {
    slot_take(L, s);
    moonlet__wake(s, MW_OK);
    return 1;
  }
  return 0;
}

/* --- blocking operations ------------------------------------------------- */

static int send_k(lua_State *L, int status, lua_KContext ctx) {
  moonlet_wait *w = (moonlet_wait *)ctx;
  (void)status;
  if (w->status != MW_OK || w->closed) {
    slot_take(L, w); /* never delivered: drop it */
    lua_pop(L, 1);
  }
  moonlet__check_wake(L, w);
  if (w->closed) return luaL_error(L, "send on a closed channel");
  return 0;
}

static int c_send(lua_State *L) {
  moonlet_loop *lp = moonlet__loop(L);
  moonlet_channel *c = check_channel(L, 1);
  moonlet_wait *w;
  luaL_checkany(L, 2);
  lua_settop(L, 2);
  moonlet__checkpoint(L, lp);
  if (try_send(L, c)) return 0;
  w = moonlet__enter_block(L, lp);
  w->closed = 0;
  slot_put(L, w);
  mq_push(&c->sendq, &w->node);
  w->detach = moonlet__detach_node;
  return moonlet__block(L, lp, w, send_k);
}

static int recv_k(lua_State *L, int status, lua_KContext ctx) {
  moonlet_wait *w = (moonlet_wait *)ctx;
  (void)status;
  if (w->status != MW_OK) {
    slot_take(L, w);
    lua_pop(L, 1);
  }
  moonlet__check_wake(L, w);
  if (w->closed) {
    lua_pushnil(L);
    lua_pushboolean(L, 0);
    return 2;
  }
  slot_take(L, w);
  lua_pushboolean(L, 1);
  return 2;
}

static int c_recv(lua_State *L) {
  moonlet_loop *lp = moonlet__loop(L);
  moonlet_channel *c = check_channel(L, 1);
  moonlet_wait *w;
  lua_settop(L, 1);
  moonlet__checkpoint(L, lp);
  if (try_recv(L, c)) {
    lua_pushboolean(L, 1);
    return 2;
  }
  if (c->closed) {
    lua_pushnil(L);
    lua_pushboolean(L, 0);
    return 2;
  }
  w = moonlet__enter_block(L, lp);
  w->closed = 0;
  mq_push(&c->recvq, &w->node);
  w->detach = moonlet__detach_node;
  return moonlet__block(L, lp, w, recv_k);
}

static int c_try_send(lua_State *L) {
  moonlet_channel *c = check_channel(L, 1);
  luaL_checkany(L, 2);
  lua_settop(L, 2);
  lua_pushboolean(L, try_send(L, c));
  return 1;
}

static int c_try_recv(lua_State *L) {
  moonlet_channel *c = check_channel(L, 1);
  lua_settop(L, 1);
  if (try_recv(L, c)) {
    lua_pushboolean(L, 1);
    return 2;
  }
  lua_pushnil(L);
  if (c->closed)
    lua_pushboolean(L, 0);
  else
    lua_pushnil(L);
  return 2;
}

/* Wakes every waiter in q as closed. */
static void wake_closed(mqueue *q) {
  moonlet_wait *w;
  while ((w = first_waiter(q)) != NULL) {
    w->closed = 1;
    moonlet__wake(w, MW_OK);
  }
}

static int c_close(lua_State *L) {
  moonlet_channel *c = check_channel(L, 1);
  if (c->closed) return luaL_error(L, "close of a closed channel");
  c->closed = 1;
  wake_closed(&c->recvq);
  wake_closed(&c->sendq);
  return 0;
}

static int c_closed(lua_State *L) {
  lua_pushboolean(L, check_channel(L, 1)->closed);
  return 1;
}

static int c_len(lua_State *L) {
  lua_pushinteger(L, check_channel(L, 1)->count);
  return 1;
}

static int c_cap(lua_State *L) {
  lua_pushinteger(L, check_channel(L, 1)->cap);
  return 1;
}

/* for v in ch:iter() do ... end: receives until the channel is closed and
 * drained. A nil value ends a for loop, as in Lua; use recv for channels
 * that carry nil. */
static int iter_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  (void)ctx;
  return 1; /* the value; ok was popped by the call below */
}

static int c_iter_next(lua_State *L) {
  lua_settop(L, 0);
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_pushvalue(L, lua_upvalueindex(1)); /* recv, ch */
  lua_callk(L, 1, 1, 0, iter_k);
  return 1;
}

static int c_iter(lua_State *L) {
  check_channel(L, 1);
  lua_settop(L, 1);
  lua_getfield(L, 1, "recv");
  lua_pushcclosure(L, c_iter_next, 2);
  return 1;
}

/* ch:stop(): for channels fed by a timer (ticker, after), stops feeding;
 * buffered values stay receivable. */
static int c_stop(lua_State *L) {
  check_channel(L, 1);
  if (lua_getiuservalue(L, 1, UV_STOP) != LUA_TFUNCTION)
    return luaL_error(L, "this channel is not fed by a timer");
  lua_call(L, 0, 0);
  return 0;
}

/* _set_stop(ch, fn): gives a timer-fed channel its stop function. */
static int l_set_stop(lua_State *L) {
  check_channel(L, 1);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_settop(L, 2);
  lua_setiuservalue(L, 1, UV_STOP);
  return 0;
}

static int c_tostring(lua_State *L) {
  moonlet_channel *c = check_channel(L, 1);
  lua_pushfstring(L, "moonlet.channel: %p (%I/%I%s)", (void *)c,
                  (lua_Integer)c->count, (lua_Integer)c->cap,
                  c->closed ? ", closed" : "");
  return 1;
}

static int l_channel(lua_State *L) {
  lua_Integer cap = luaL_optinteger(L, 1, 0);
  moonlet_channel *c;
  luaL_argcheck(L, cap >= 0 && cap <= INT_MAX, 1,
                "capacity must be between 0 and 2^31-1");
  c = lua_newuserdatauv(L, sizeof *c, 3);
  c->cap = cap;
  c->head = c->count = 0;
  c->closed = 0;
  mq_init(&c->recvq);
  mq_init(&c->sendq);
  moonlet__setmt(L, moonlet__loop(L), -1, MOONLET_MT_CHANNEL);
  if (cap > 0) {
    lua_createtable(L, cap < 1024 ? (int)cap : 1024, 0);
    lua_setiuservalue(L, -2, UV_RING);
  }
  return 1;
}

void moonlet__open_channel(lua_State *L, moonlet_loop *lp) {
  static const luaL_Reg methods[] = {
      {"send", c_send},         {"recv", c_recv},     {"try_send", c_try_send},
      {"try_recv", c_try_recv}, {"close", c_close},   {"closed", c_closed},
      {"cap", c_cap},           {"iter", c_iter},     {"stop", c_stop},
      {NULL, NULL}};
  static const luaL_Reg funcs[] = {
      {"channel", l_channel}, {"_set_stop", l_set_stop}, {NULL, NULL}};
  static const luaL_Reg meta[] = {
      {"__tostring", c_tostring}, {"__len", c_len}, {NULL, NULL}};
  if (!lp->mt[MOONLET_MT_CHANNEL]) {
    luaL_newmetatable(L, CHANNEL_MT);
    moonlet__setfuncs(L, lp, meta);
    lua_newtable(L);
    moonlet__setfuncs(L, lp, methods);
    lua_setfield(L, -2, "__index");
    moonlet__register_mt(L, lp, MOONLET_MT_CHANNEL);
  }
  moonlet__setfuncs(L, lp, funcs);
}
