/*
 * fiber.c - C fibers: a plain C function run as a task on a C stack of its
 * own (mapped with a guard region, pooled), for host code that hands
 * pointers to its locals to other threads or callbacks. Such pointers
 * would go stale on the shared stack, where a suspended task's frames are
 * copied away while others run.
 *
 * The task starts like any other, on the shared stack, in fiber_body,
 * which switches to the fiber's stack and calls the function there in
 * protected mode. When the function blocks (moonlet_sleep, moonlet_await),
 * the task suspends natively with its registers on the fiber's stack and
 * its frames below fiber_body on the shared stack (task->shared_sp marks
 * where they end), which is the part sched.c copies away and back.
 */
#include <stdlib.h>

#include "core/native.h"
#include "core/tools.h"
#include "module.h"
#include "moonlet.h"

#define FIBER_DEFAULT (256 * 1024)
#define FIBER_MIN (64 * 1024)
#define POOL_MAX 64

typedef struct fiber_stack {
  moonlet_stack s;
  struct fiber_stack *next; /* in the loop's pool */
} fiber_stack;

typedef struct fiber_run {
  moonlet_fiber_fn fn;
  void *arg;
  lua_State *L;
  moonlet_task *t;
  moonlet_ctx back;       /* fiber_body, on the shared stack */
  void *fake;             /* AddressSanitizer's state of fiber_body's side */
  const void *back_lo;
  size_t back_size;
  int status;             /* lua_pcall's */
} fiber_run;

static fiber_stack *take_stack(moonlet_loop *lp, size_t size) {
  fiber_stack *f, **p;
  for (p = (fiber_stack **)&lp->fiber_pool; (f = *p); p = &f->next) {
    if ((size_t)(f->s.hi - f->s.lo) == size) {
      *p = f->next;
      return f;
    }
  }
  if (!(f = calloc(1, sizeof *f))) return NULL;
  if (moonlet__stack_map(&f->s, size) != 0) {
    free(f);
    return NULL;
  }
  return f;
}

static void fibers_close(lua_State *L, moonlet_loop *lp);

static void give_stack(moonlet_loop *lp, fiber_stack *f) {
  fiber_stack *p;
  int n = 0;
  for (p = lp->fiber_pool; p; p = p->next) n++;
  if (n >= POOL_MAX || lp->closed) {
    moonlet__stack_close(&f->s);
    free(f);
    return;
  }
  f->next = lp->fiber_pool;
  lp->fiber_pool = f;
  moonlet__on_close(lp, MOONLET_CLOSE_MEMORY, fibers_close);
}

/* At close: the idle fiber stacks are unmapped. */
static void fibers_close(lua_State *L, moonlet_loop *lp) {
  fiber_stack *f;
  (void)L;
  while ((f = lp->fiber_pool)) {
    lp->fiber_pool = f->next;
    moonlet__stack_close(&f->s);
    free(f);
  }
}

/* The function, in protected mode on the fiber's stack. */
static int call_fn(lua_State *L) {
  fiber_run *run = lua_touserdata(L, lua_upvalueindex(1));
  return run->fn(L, run->arg);
}

static void fiber_main(void *arg) {
  fiber_run *run = arg;
  lua_State *L = run->L;
  FIBER_FINISH(NULL, &run->back_lo, &run->back_size);
  /* From here on a native suspension keeps the frames below fiber_body. */
  run->t->nat->shared_sp = run->back.sp;
  lua_pushlightuserdata(L, run);
  lua_pushcclosure(L, call_fn, 1);
  lua_insert(L, 1);
  run->status = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
  FIBER_START(NULL, run->back_lo, run->back_size); /* this fiber is done */
  moonlet__ctx_switch(&run->t->nat->ctx, &run->back);
}

/* The task's body: upvalues fn, arg, stack size. */
static int fiber_body(lua_State *L) {
  moonlet_loop *lp = moonlet__loop_of(L);
  fiber_run run;
  fiber_stack *fs;
  union { moonlet_fiber_fn fn; void *p; } u;
  size_t size = (size_t)lua_tointeger(L, lua_upvalueindex(3));
  if (!lp || !lp->current || lp->current->T != L)
    return luaL_error(L, "a C fiber runs only as its own task");
  moonlet__task_native(L, lp, lp->current);
  if (!(fs = take_stack(lp, size)))
    return luaL_error(L, "cannot map a C fiber's stack");
  u.p = lua_touserdata(L, lua_upvalueindex(1));
  run.fn = u.fn;
  run.arg = lua_touserdata(L, lua_upvalueindex(2));
  run.L = L;
  run.t = lp->current;
  run.fake = NULL;
  run.status = LUA_OK;
  moonlet__stack_fresh(&fs->s, fs->s.lo, (size_t)(fs->s.hi - fs->s.lo));
  moonlet__ctx_init(&run.t->nat->ctx, fs->s.lo, (size_t)(fs->s.hi - fs->s.lo),
                    fiber_main, &run);
  run.t->nat->fiber = &fs->s;
  FIBER_START(&run.fake, fs->s.lo, (size_t)(fs->s.hi - fs->s.lo));
  moonlet__ctx_switch(&run.back, &run.t->nat->ctx);
  FIBER_FINISH(run.fake, NULL, NULL);
  /* The function returned (or raised) on the fiber's stack. */
  run.t->nat->fiber = NULL;
  run.t->nat->shared_sp = NULL;
  give_stack(lp, fs);
  if (run.status != LUA_OK) return lua_error(L);
  return lua_gettop(L);
}

int moonlet_fiber_spawn(lua_State *L, moonlet_fiber_fn fn, void *arg,
                        size_t stack_size) {
  union { moonlet_fiber_fn fn; void *p; } u;
  if (!fn) return MOONLET_ERROR;
  if (stack_size == 0) stack_size = FIBER_DEFAULT;
  if (stack_size < FIBER_MIN) stack_size = FIBER_MIN;
  stack_size = (stack_size + 4095) & ~(size_t)4095;
  u.fn = fn;
  lua_pushlightuserdata(L, u.p);
  lua_pushlightuserdata(L, arg);
  lua_pushinteger(L, (lua_Integer)stack_size);
  lua_pushcclosure(L, fiber_body, 3);
  return moonlet_spawn(L, 0);
}
