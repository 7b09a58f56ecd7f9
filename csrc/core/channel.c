/*
 * channel.c - Go channels. An operation hands off to a waiter first, then
 * uses the buffer, then queues (Tarantool's fiber_channel order); waiters
 * are served FIFO.
 *
 * A handoff moves the value from one thread's stack to the other's: a
 * waiting sender's value stays in its own frame (wait.vidx), and a waiting
 * receiver finds the value on top of its stack when it continues. Buffered
 * values live in a ring of the channel's user values (UV_SLOTS). A waiter
 * that is cancelled before it was served takes nothing and leaves nothing
 * behind.
 */
#include <limits.h>
#include <string.h>

#include "core/channel.h"
#include "core/errors.h"
#include "core/timer.h"

#define CHANNEL_MT "moonlet.channel"

/* The ring's slots are the channel's own user values from UV_SLOTS on when
 * the capacity is at most RING_UVS (no table to look up), else the entries
 * of the table in UV_RING. */
enum { UV_RING = 1, UV_STOP = 2, UV_SLOTS = 3 };
#define RING_UVS 1024

typedef struct moonlet_channel {
  uint64_t tag;        /* MOONLET_TAG_CHANNEL */
  moonlet_loop *loop;
  lua_Integer cap;     /* 0: unbuffered */
  lua_Integer head;    /* ring index (0-based) of the oldest value */
  lua_Integer count;   /* values in the ring */
  int closed;
  mqueue recvq, sendq; /* moonlet_wait.node */
} moonlet_channel;

static moonlet_channel *check_channel(lua_State *L, int idx) {
  moonlet_channel *c = moonlet__tagged(L, idx, MOONLET_TAG_CHANNEL);
  if (!c) luaL_typeerror(L, idx, "channel");
  return c;
}

/* --- the ring and the slots of the channel at stack index ci ------------- */

static void ring_push(lua_State *L, int ci, moonlet_channel *c) { /* pops */
  int i = (int)((c->head + c->count) % c->cap);
  if (c->cap <= RING_UVS) {
    lua_setiuservalue(L, ci, UV_SLOTS + i);
  } else {
    lua_getiuservalue(L, ci, UV_RING);
    lua_rotate(L, -2, 1);
    lua_rawseti(L, -2, i + 1);
    lua_pop(L, 1);
  }
  c->count++;
}

static void ring_pop(lua_State *L, int ci, moonlet_channel *c) { /* pushes */
  int i = (int)c->head;
  if (c->cap <= RING_UVS) {
    lua_getiuservalue(L, ci, UV_SLOTS + i);
    lua_pushnil(L);
    lua_setiuservalue(L, ci, UV_SLOTS + i);
  } else {
    lua_getiuservalue(L, ci, UV_RING);
    lua_rawgeti(L, -1, i + 1);
    lua_pushnil(L);
    lua_rawseti(L, -3, i + 1);
    lua_remove(L, -2);
  }
  c->head = (c->head + 1) % c->cap;
  c->count--;
}

/* --- handing values between the stacks of two threads -------------------- */

/* Raises in L, before anything changed, if the blocked thread of w has no
 * stack slot to spare for a handoff. */
static void room(lua_State *L, moonlet_wait *w) {
  if (!lua_checkstack(w->L, 1)) luaL_error(L, "not enough memory");
}

/* Moves the value on top of L to the blocked receiver r (after room). */
static void give(lua_State *L, moonlet_wait *r) { lua_xmove(L, r->L, 1); }

/* Pushes the value the blocked sender s offers (after room). */
static void take(lua_State *L, moonlet_wait *s) {
  lua_pushvalue(s->L, s->vidx);
  lua_xmove(s->L, L, 1);
}

static moonlet_wait *first_waiter(mqueue *q) {
  return mq_empty(q) ? NULL : mq_data(q->next, moonlet_wait, node);
}

/* Ends the wait of w, the first waiter of its queue, as served. */
static void serve(moonlet_wait *w) {
  mq_remove(&w->node);
  moonlet__wake(w, MW_OK);
}

/* --- operations that never block ----------------------------------------- */

static int can_send(const moonlet_channel *c) {
  return c->closed || !mq_empty(&c->recvq) || c->count < c->cap;
}

static int can_recv(const moonlet_channel *c) {
  return c->closed || c->count > 0 || !mq_empty(&c->sendq);
}

/* Sends the value on top (popped) if that needs no waiting. */
static int try_send(lua_State *L, int ci, moonlet_channel *c) {
  moonlet_wait *r;
  if (c->closed) return luaL_error(L, "send on a closed channel");
  if ((r = first_waiter(&c->recvq)) != NULL) {
    room(L, r);
    give(L, r);
    serve(r);
    return 1;
  }
  if (c->count < c->cap) {
    ring_push(L, ci, c);
    return 1;
  }
  return 0;
}

/* Pushes a value and returns 1 if one can be had without waiting. */
static int try_recv(lua_State *L, int ci, moonlet_channel *c) {
  moonlet_wait *s;
  s = first_waiter(&c->sendq);
  if (s) room(L, s);
  if (c->count > 0) {
    ring_pop(L, ci, c);
    /* The buffer has room now: the first waiting sender moves in. */
    if (s) {
      take(L, s);
      ring_push(L, ci, c);
      serve(s);
    }
    return 1;
  }
  if (s) {
    take(L, s);
    serve(s);
    return 1;
  }
  return 0;
}

/* --- blocking operations ------------------------------------------------- */

static int send_k(lua_State *L, int status, lua_KContext ctx) {
  moonlet_wait *w = (moonlet_wait *)ctx;
  (void)status;
  moonlet__check_wake(L, w);
  if (w->closed) return luaL_error(L, "send on a closed channel");
  return 0;
}

/* For dumps: the channel's capacity and what it holds. */
static void describe_channel(lua_State *L, moonlet_wait *w) {
  moonlet_channel *c = w->data;
  lua_pushinteger(L, c->cap);
  lua_setfield(L, -2, "capacity");
  lua_pushinteger(L, c->count);
  lua_setfield(L, -2, "buffered");
}

static int c_send(lua_State *L) {
  moonlet_channel *c = check_channel(L, 1);
  moonlet_loop *lp = c->loop;
  moonlet_wait *w;
  if (lua_gettop(L) != 2) {
    luaL_checkany(L, 2);
    lua_settop(L, 2);
  }
  moonlet__checkpoint(L, lp);
  if (try_send(L, 1, c)) return 0;
  w = moonlet__enter_block(L, lp);
  w->closed = 0;
  w->vidx = 2;
  moonlet__wait_in(w, &c->sendq, c, "channel send", describe_channel);
  return moonlet__block(L, lp, w, send_k);
}

/* recv's results, the value and whether one came (the value is on top
 * when it did); iter's, the value alone: nil ends a for loop. */
static int recv_results(lua_State *L, int got, int iter) {
  if (!got) lua_pushnil(L);
  if (iter) return 1;
  lua_pushboolean(L, got);
  return 2;
}

static int recv_k(lua_State *L, int status, lua_KContext ctx) {
  moonlet_wait *w = (moonlet_wait *)ctx;
  (void)status;
  moonlet__check_wake(L, w);
  return recv_results(L, !w->closed, 0);
}

static int iter_k(lua_State *L, int status, lua_KContext ctx) {
  moonlet_wait *w = (moonlet_wait *)ctx;
  (void)status;
  moonlet__check_wake(L, w);
  return recv_results(L, !w->closed, 1);
}

/* Receives from c, the only value on the stack. */
static int receive(lua_State *L, moonlet_channel *c, int iter) {
  moonlet_loop *lp = c->loop;
  moonlet_wait *w;
  moonlet__checkpoint(L, lp);
  if (try_recv(L, 1, c)) return recv_results(L, 1, iter);
  if (c->closed) return recv_results(L, 0, iter);
  w = moonlet__enter_block(L, lp);
  w->closed = 0;
  moonlet__wait_in(w, &c->recvq, c, "channel recv", describe_channel);
  return moonlet__block(L, lp, w, iter ? iter_k : recv_k);
}

static int c_recv(lua_State *L) {
  moonlet_channel *c = check_channel(L, 1);
  if (lua_gettop(L) != 1) lua_settop(L, 1);
  return receive(L, c, 0);
}

static int c_try_send(lua_State *L) {
  moonlet_channel *c = check_channel(L, 1);
  luaL_checkany(L, 2);
  lua_settop(L, 2);
  lua_pushboolean(L, try_send(L, 1, c));
  return 1;
}

static int c_try_recv(lua_State *L) {
  moonlet_channel *c = check_channel(L, 1);
  lua_settop(L, 1);
  if (try_recv(L, 1, c)) {
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
    serve(w);
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
 * that carry nil. The iterator's upvalue is the channel. */
static int c_iter_next(lua_State *L) {
  lua_settop(L, 0);
  lua_pushvalue(L, lua_upvalueindex(1));
  return receive(L, lua_touserdata(L, 1), 1);
}

static int c_iter(lua_State *L) {
  check_channel(L, 1);
  lua_settop(L, 1);
  lua_pushcclosure(L, c_iter_next, 1);
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

/* --- select ------------------------------------------------------------- */

/* A select that has to wait registers one wait per case, plus one in the
 * sleep heap for a timeout. They are satellites of the waiter's own wait,
 * which is what blocks: the first case served records itself, unhooks the
 * others and wakes the waiter. The state lives in a userdata on the
 * caller's Lua stack, at stack index SEL; case i's channel sits at SEL + i,
 * the values offered above the channels. */
#define SEL 3

typedef struct select_state select_state;

typedef struct select_case {
  moonlet_wait w;
  select_state *sel;
  int index; /* 1-based; 0 for the timeout */
  int send;
} select_case;

struct select_state {
  moonlet_wait *waiter;
  int ncases, has_timeout;
  int fired; /* the case that completed, 0 the timeout, -1 none */
  select_case cases[];   /* ncases, then the timeout */
};

static uint64_t next_random(moonlet_loop *lp) {
  uint64_t x = lp->rng;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  lp->rng = x;
  return x * 0x2545F4914F6CDD1DULL;
}

/* Unhooks every case wait still registered, except keep. */
static void unhook_cases(select_state *sel, select_case *keep) {
  int i, n = sel->ncases + sel->has_timeout;
  for (i = 0; i < n; i++) {
    moonlet_wait *w = &sel->cases[i].w;
    if (&sel->cases[i] == keep || w->status != MW_PENDING) continue;
    if (w->detach) w->detach(w);
    w->detach = NULL;
    w->status = MW_CANCELLED;
  }
}

static void case_fired(moonlet_wait *w) {
  select_case *c = mq_data(w, select_case, w);
  select_state *sel = c->sel;
  sel->fired = c->index;
  unhook_cases(sel, c);
  moonlet__wake(sel->waiter, MW_OK);
}

static void select_detach(moonlet_wait *w) {
  unhook_cases((select_state *)w->data, NULL);
}

/* Pushes the value case i (1-based) offers. */
static void case_value(lua_State *L, int i) {
  lua_rawgeti(L, 1, i);
  lua_rawgeti(L, -1, 3);
  lua_remove(L, -2);
}

static int select_k(lua_State *L, int status, lua_KContext ctx) {
  moonlet_wait *w = (moonlet_wait *)ctx;
  select_state *sel = lua_touserdata(L, SEL);
  select_case *c;
  (void)status;
  moonlet__check_wake(L, w);
  if (sel->fired <= 0) return moonlet__push_failure(L, UV_ETIMEDOUT, NULL);
  c = &sel->cases[sel->fired - 1];
  lua_pushinteger(L, sel->fired);
  if (c->send) {
    if (c->w.closed) return luaL_error(L, "send on a closed channel");
    return 1;
  }
  if (c->w.closed) {
    lua_pushnil(L);
    lua_pushboolean(L, 0);
  } else {
    lua_insert(L, -2); /* the sender left the value on top */
    lua_pushboolean(L, 1);
  }
  return 3;
}

/* Does case i (1-based), known to be ready, and returns select's results. */
static int do_ready_case(lua_State *L, select_state *sel, int i) {
  moonlet_channel *ch = lua_touserdata(L, SEL + i);
  if (sel->cases[i - 1].send) {
    case_value(L, i);
    try_send(L, SEL + i, ch); /* raises on a closed channel, as in Go */
    lua_pushinteger(L, i);
    return 1;
  }
  lua_pushinteger(L, i);
  if (try_recv(L, SEL + i, ch)) {
    lua_pushboolean(L, 1);
  } else {
    lua_pushnil(L);
    lua_pushboolean(L, 0);
  }
  return 3;
}

static int l_select(lua_State *L) {
  moonlet_loop *lp = moonlet__loop(L);
  int n, i, nready = 0, use_default = 0, has_timeout = 0;
  double timeout = 0;
  select_state *sel;
  moonlet_wait *w;
  luaL_checktype(L, 1, LUA_TTABLE);
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    if (lua_getfield(L, 2, "timeout") != LUA_TNIL) {
      timeout = luaL_checknumber(L, -1);
      luaL_argcheck(L, timeout == timeout, 2, "timeout is not a number");
      has_timeout = 1;
    }
    lua_getfield(L, 2, "default");
    use_default = lua_toboolean(L, -1);
  }
  lua_settop(L, 2);
  n = (int)luaL_len(L, 1);
  luaL_argcheck(L, n >= 0 && n < 100000, 1, "too many cases");
  luaL_checkstack(L, 2 * n + 8, "too many cases");
  sel = lua_newuserdatauv(L, sizeof *sel + (size_t)(n + 1) * sizeof(select_case), 0);
  sel->ncases = n;
  sel->has_timeout = 0;
  sel->fired = -1;
  for (i = 1; i <= n; i++) {
    const char *op;
    if (lua_rawgeti(L, 1, i) != LUA_TTABLE)
      return luaL_error(L, "bad case #%d to 'select' (table expected)", i);
    lua_rawgeti(L, -1, 1);
    if (!moonlet__tagged(L, -1, MOONLET_TAG_CHANNEL))
      return luaL_error(L, "bad case #%d to 'select' (channel expected)", i);
    lua_rawgeti(L, -2, 2);
    op = lua_tostring(L, -1);
    if (!op || (strcmp(op, "recv") != 0 && strcmp(op, "send") != 0))
      return luaL_error(L, "bad case #%d to 'select' (\"recv\" or \"send\" expected)", i);
    sel->cases[i - 1].send = op[0] == 's';
    lua_pop(L, 1);
    lua_remove(L, -2); /* leave the channel at SEL + i */
  }
  moonlet__checkpoint(L, lp);
  /* Among the cases that can go now, pick one uniformly at random. */
  for (i = 1; i <= n; i++) {
    moonlet_channel *ch = lua_touserdata(L, SEL + i);
    if (sel->cases[i - 1].send ? can_send(ch) : can_recv(ch)) nready++;
  }
  if (nready > 0) {
    int pick = (int)(next_random(lp) % (uint64_t)nready);
    for (i = 1; i <= n; i++) {
      moonlet_channel *ch = lua_touserdata(L, SEL + i);
      if (!(sel->cases[i - 1].send ? can_send(ch) : can_recv(ch))) continue;
      if (pick-- == 0) return do_ready_case(L, sel, i);
    }
  }
  if (use_default) return 0;
  w = moonlet__enter_block(L, lp);
  sel->waiter = w;
  /* For dumps: what the Lua primitive built on select waits for. */
  w->what = "select";
  if (lua_istable(L, 2) && lua_getfield(L, 2, "_label") == LUA_TSTRING)
    w->what = lua_tostring(L, -1); /* opts, at 2, keeps it alive */
  if (lua_istable(L, 2)) lua_pop(L, 1);
  for (i = 1; i <= n + has_timeout; i++) {
    select_case *c = &sel->cases[i - 1];
    c->sel = sel;
    c->index = i <= n ? i : 0;
    c->w.loop = lp;
    c->w.task = w->task;
    c->w.L = L;
    c->w.status = MW_PENDING;
    c->w.resumed = 0;
    c->w.closed = 0;
    c->w.notify = case_fired;
    c->w.data = sel;
    c->w.heap_idx = UINT32_MAX;
    mq_init(&c->w.node);
    if (i > n) {
      sel->has_timeout = 1;
      if (moonlet__sleep_start(lp, &c->w, moonlet__ms(timeout)) != 0) {
        unhook_cases(sel, NULL);
        moonlet__end_wait(w);
        return luaL_error(L, "not enough memory");
      }
    } else {
      moonlet_channel *ch = lua_touserdata(L, SEL + i);
      if (c->send) {
        case_value(L, i);
        c->w.vidx = lua_gettop(L);
      }
      mq_push(c->send ? &ch->sendq : &ch->recvq, &c->w.node);
      c->w.detach = moonlet__detach_node;
    }
  }
  w->data = sel;
  w->detach = select_detach;
  return moonlet__block(L, lp, w, select_k);
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
  c = lua_newuserdatauv(L, sizeof *c,
                        UV_SLOTS - 1 + (cap <= RING_UVS ? (int)cap : 0));
  c->tag = MOONLET_TAG_CHANNEL;
  c->loop = moonlet__loop(L);
  c->cap = cap;
  c->head = c->count = 0;
  c->closed = 0;
  mq_init(&c->recvq);
  mq_init(&c->sendq);
  moonlet__setmt(L, moonlet__loop(L), -1, MOONLET_MT_CHANNEL);
  if (cap > RING_UVS) {
    lua_createtable(L, RING_UVS, 0);
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
  static const luaL_Reg funcs[] = {{"channel", l_channel},
                                   {"select", l_select},
                                   {"_set_stop", l_set_stop},
                                   {NULL, NULL}};
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
