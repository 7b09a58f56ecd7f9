/*
 * threads.c - the pool of Lua threads that finished tasks leave for new
 * ones.
 */
#include "core/spawn.h"
#include "core/threads.h"

/* Finished tasks' threads wait in a pool for new tasks. It keeps what a
 * burst of tasks leaves behind while spawning goes on, and gives back, every
 * POOL_TRIM_MS, the threads above POOL_KEEP that stayed unused meanwhile. */
#define POOL_KEEP 1024
#define POOL_TRIM_MS 1000

/* The pool is a Lua thread that never runs: its stack holds the idle
 * threads, newest on top. Putting one back and taking one allocate nothing
 * unless that stack must grow (which lua_checkstack does protected), so
 * finish can pool outside any protected call. */

/* Releases the threads that stayed in the pool, above POOL_KEEP, since the
 * last tick (how many the pool never went below), from the top: threads
 * are alike. The timer stops when nothing is above POOL_KEEP. */
static void on_pool_trim(uv_timer_t *h) {
  moonlet_loop *lp = h->data;
  int unused = lp->pool_low - POOL_KEEP;
  if (unused > 0) {
    lp->npool -= unused;
    lua_settop(lp->pool, lp->npool);
  }
  lp->pool_low = lp->npool;
  if (lp->npool <= POOL_KEEP) uv_timer_stop(h);
}

/* Puts T, which ended cleanly, on top of the pool. */
void moonlet__thread_put(lua_State *T, moonlet_loop *lp) {
  uv_handle_t *timer = (uv_handle_t *)&lp->pool_timer;
  lua_settop(T, 0);
  if (!lua_checkstack(lp->pool, 1)) return; /* then it is just not reused */
  lua_pushthread(T);
  lua_xmove(T, lp->pool, 1);
  lp->npool++;
  if (lp->npool > POOL_KEEP && !uv_is_active(timer)) {
    lp->pool_low = POOL_KEEP; /* the ones above have not waited yet */
    uv_timer_start(&lp->pool_timer, on_pool_trim, POOL_TRIM_MS, POOL_TRIM_MS);
  }
}

/* Moves the newest pooled thread onto L and returns it, or returns NULL
 * (pushing nothing) when the pool is empty. */
lua_State *moonlet__thread_take(lua_State *L, moonlet_loop *lp) {
  if (lp->npool == 0) return NULL;
  lua_xmove(lp->pool, L, 1);
  if (--lp->npool < lp->pool_low) lp->pool_low = lp->npool;
  return lua_tothread(L, -1);
}

static int new_thread(lua_State *L) {
  lua_newthread(L);
  return 1;
}

/* Gives t, which never ran and has no thread yet, one with its function
 * on it: from the pool, else a new one (protected: this runs outside any
 * pcall). Returns NULL when memory is short. */
lua_State *moonlet__thread_bind(moonlet_loop *lp, moonlet_task *t) {
  lua_State *L = lp->LC, *T;
  if (!lua_checkstack(L, 3)) return NULL;
  moonlet__push_task(L, lp, t);
  if (!(T = moonlet__thread_take(L, lp))) {
    lua_pushcfunction(L, new_thread);
    if (lua_pcall(L, 0, 1, 0) != LUA_OK) {
      lua_pop(L, 2);
      return NULL;
    }
    T = lua_tothread(L, -1);
  }
  lua_getiuservalue(L, -2, MOONLET_UV_THREAD); /* the function */
  lua_xmove(L, T, 1); /* a fresh or pooled thread has room for it */
  lua_setiuservalue(L, -2, MOONLET_UV_THREAD);
  lua_pop(L, 1);
  t->T = T;
  return T;
}

/* Whether T ended cleanly (not by an error nobody reset, and not still
 * running inside someone else's resume), so a new task can take it. */
int moonlet__thread_reusable(lua_State *T) {
  lua_Debug ar;
  return lua_status(T) == LUA_OK && !lua_getstack(T, 0, &ar);
}

void moonlet__threads_init(moonlet_loop *lp) {
  uv_timer_init(lp->uv, &lp->pool_timer);
  lp->pool_timer.data = lp;
  uv_unref((uv_handle_t *)&lp->pool_timer);
}

void moonlet__threads_close(moonlet_loop *lp) {
  uv_close((uv_handle_t *)&lp->pool_timer, NULL);
}
