/*
 * test-switch.c - the raw context switch alone: no Lua, no libuv. These run
 * natively and, cross-compiled, on aarch64 under qemu-user.
 */
#include <fenv.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "../csrc/core/switch.h"
#include "runner.h"

#define STACK_SIZE (256 * 1024)

static moonlet_ctx main_ctx, co_ctx;

static void *new_stack(void) {
  void *p = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT(p != MAP_FAILED);
  return p;
}

/* --- ping-pong ----------------------------------------------------------- */

static volatile long shared_counter;

static void pingpong_fn(void *arg) {
  long n = (long)(intptr_t)arg;
  for (;;) {
    shared_counter += n;
    moonlet__ctx_switch(&co_ctx, &main_ctx);
  }
}

TEST_IMPL(switch_pingpong) {
  int i;
  moonlet__ctx_init(&co_ctx, new_stack(), STACK_SIZE, pingpong_fn,
                    (void *)(intptr_t)3);
  for (i = 0; i < 1000; i++) {
    ASSERT_EQ(shared_counter, 3L * i);
    moonlet__ctx_switch(&main_ctx, &co_ctx);
  }
  ASSERT_EQ(shared_counter, 3000L);
  return 0;
}

/* --- callee-saved registers, integer and FP (d8-d15 on aarch64) ---------- */

/* Many values live across the opaque switch call: the compiler must keep
 * them in callee-saved registers or spill them, and either way they must
 * come back intact. The other side scrambles every register it can. */
static double scramble_fn_result;

/* Overwrites every callee-saved register, so a switch that forgot one
 * hands the other side garbage. */
static void clobber_callee_saved(void) {
#if defined(__x86_64__)
  __asm__ volatile(
      "movq $0x1111, %%rbx\n\tmovq $0x2222, %%r12\n\tmovq $0x3333, %%r13\n\t"
      "movq $0x4444, %%r14\n\tmovq $0x5555, %%r15\n\t" ::
          : "rbx", "r12", "r13", "r14", "r15");
#elif defined(__aarch64__)
  __asm__ volatile(
      "mov x19, #0x11\n\tmov x20, #0x22\n\tmov x21, #0x33\n\t"
      "mov x22, #0x44\n\tmov x23, #0x55\n\tmov x24, #0x66\n\t"
      "mov x25, #0x77\n\tmov x26, #0x88\n\tmov x27, #0x99\n\t"
      "mov x28, #0xaa\n\tfmov d8, #1.0\n\tfmov d9, #2.0\n\t"
      "fmov d10, #3.0\n\tfmov d11, #4.0\n\tfmov d12, #5.0\n\t"
      "fmov d13, #6.0\n\tfmov d14, #7.0\n\tfmov d15, #8.0\n\t" ::
          : "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27",
            "x28", "d8", "d9", "d10", "d11", "d12", "d13", "d14", "d15");
#endif
}

static void scrambler_fn(void *arg) {
  (void)arg;
  for (;;) {
    volatile double d[16];
    volatile long l[16];
    int i;
    for (i = 0; i < 16; i++) {
      d[i] = i * 1.25e3;
      l[i] = i * 7919L;
    }
    scramble_fn_result = d[3] + (double)l[5];
    clobber_callee_saved();
    moonlet__ctx_switch(&co_ctx, &main_ctx);
  }
}

static long __attribute__((noinline)) mix(long a, long b) {
  return a * 31 + b;
}

TEST_IMPL(switch_callee_saved) {
  long a = 1, b = 2, c = 3, d = 4, e = 5, f = 6, g = 7, h = 8, k = 9, m = 10;
  double x0 = 0.5, x1 = 1.5, x2 = 2.5, x3 = 3.5, x4 = 4.5, x5 = 5.5, x6 = 6.5,
         x7 = 7.5, x8 = 8.5, x9 = 9.5;
  long ra = 1, rb = 2, rc = 3, rd = 4, re = 5, rf = 6, rg = 7, rh = 8, rk = 9,
       rm = 10;
  double y0 = 0.5, y1 = 1.5, y2 = 2.5, y3 = 3.5, y4 = 4.5, y5 = 5.5, y6 = 6.5,
         y7 = 7.5, y8 = 8.5, y9 = 9.5;
  int i;
  moonlet__ctx_init(&co_ctx, new_stack(), STACK_SIZE, scrambler_fn, NULL);
  for (i = 0; i < 100; i++) {
    a = mix(a, b); b = mix(b, c); c = mix(c, d); d = mix(d, e); e = mix(e, f);
    f = mix(f, g); g = mix(g, h); h = mix(h, k); k = mix(k, m); m = mix(m, a);
    x0 = x0 * 1.01 + x1; x1 = x1 * 1.01 + x2; x2 = x2 * 1.01 + x3;
    x3 = x3 * 1.01 + x4; x4 = x4 * 1.01 + x5; x5 = x5 * 1.01 + x6;
    x6 = x6 * 1.01 + x7; x7 = x7 * 1.01 + x8; x8 = x8 * 1.01 + x9;
    x9 = x9 * 1.01 + x0;
    moonlet__ctx_switch(&main_ctx, &co_ctx);
  }
  for (i = 0; i < 100; i++) {
    ra = mix(ra, rb); rb = mix(rb, rc); rc = mix(rc, rd); rd = mix(rd, re);
    re = mix(re, rf); rf = mix(rf, rg); rg = mix(rg, rh); rh = mix(rh, rk);
    rk = mix(rk, rm); rm = mix(rm, ra);
    y0 = y0 * 1.01 + y1; y1 = y1 * 1.01 + y2; y2 = y2 * 1.01 + y3;
    y3 = y3 * 1.01 + y4; y4 = y4 * 1.01 + y5; y5 = y5 * 1.01 + y6;
    y6 = y6 * 1.01 + y7; y7 = y7 * 1.01 + y8; y8 = y8 * 1.01 + y9;
    y9 = y9 * 1.01 + y0;
  }
  ASSERT(a == ra && b == rb && c == rc && d == rd && e == re && f == rf &&
         g == rg && h == rh && k == rk && m == rm);
  ASSERT(x0 == y0 && x1 == y1 && x2 == y2 && x3 == y3 && x4 == y4 &&
         x5 == y5 && x6 == y6 && x7 == y7 && x8 == y8 && x9 == y9);
  ASSERT(scramble_fn_result == 3 * 1.25e3 + 5 * 7919.0);
  return 0;
}

/* --- FP control state is per context ------------------------------------ */

static int co_round_seen;

static void rounding_fn(void *arg) {
  (void)arg;
  co_round_seen = fegetround();
  fesetround(FE_UPWARD);
  moonlet__ctx_switch(&co_ctx, &main_ctx);
  co_round_seen = fegetround();
  moonlet__ctx_switch(&co_ctx, &main_ctx);
  for (;;) moonlet__ctx_switch(&co_ctx, &main_ctx);
}

#if defined(__x86_64__)
static unsigned get_mxcsr(void) {
  unsigned v;
  __asm__ volatile("stmxcsr %0" : "=m"(v));
  return v;
}
static unsigned short get_x87cw(void) {
  unsigned short v;
  __asm__ volatile("fnstcw %0" : "=m"(v));
  return v;
}
#endif

TEST_IMPL(switch_fp_control) {
#if defined(__x86_64__)
  unsigned mx;
  unsigned short cw;
#endif
  ASSERT_EQ(fesetround(FE_TONEAREST), 0);
  moonlet__ctx_init(&co_ctx, new_stack(), STACK_SIZE, rounding_fn, NULL);
  moonlet__ctx_switch(&main_ctx, &co_ctx);
  /* The new context inherited round-to-nearest; its change stays there. */
  ASSERT_EQ(co_round_seen, FE_TONEAREST);
  ASSERT_EQ(fegetround(), FE_TONEAREST);
  ASSERT_EQ(fesetround(FE_TOWARDZERO), 0);
#if defined(__x86_64__)
  mx = get_mxcsr();
  cw = get_x87cw();
#endif
  moonlet__ctx_switch(&main_ctx, &co_ctx);
  ASSERT_EQ(co_round_seen, FE_UPWARD);
  ASSERT_EQ(fegetround(), FE_TOWARDZERO);
#if defined(__x86_64__)
  ASSERT_EQ(get_mxcsr(), mx);
  ASSERT_EQ(get_x87cw(), cw);
#endif
  fesetround(FE_TONEAREST);
  return 0;
}

/* --- a fresh context gets an ABI-aligned stack -------------------------- */

static char aligned_text[64];
static uintptr_t aligned_local;

static void align_fn(void *arg) {
  _Alignas(16) char buf[16];
  /* printf-family code stores SSE registers with aligned moves. */
  snprintf(aligned_text, sizeof aligned_text, "%.3f %.1f", *(double *)arg,
           2.5);
  aligned_local = (uintptr_t)buf;
  for (;;) moonlet__ctx_switch(&co_ctx, &main_ctx);
}

TEST_IMPL(switch_stack_alignment) {
  double v = 1.25;
  moonlet__ctx_init(&co_ctx, new_stack(), STACK_SIZE, align_fn, &v);
  moonlet__ctx_switch(&main_ctx, &co_ctx);
  ASSERT(strcmp(aligned_text, "1.250 2.5") == 0);
  ASSERT_EQ(aligned_local % 16, 0u);
  return 0;
}

/* --- many contexts, round robin ----------------------------------------- */

#define NCTX 64
static moonlet_ctx ring[NCTX];
static long ring_sum[NCTX];

static void ring_fn(void *arg) {
  int id = (int)(intptr_t)arg;
  long local = id * 1000;
  for (;;) {
    local++;
    ring_sum[id] = local;
    moonlet__ctx_switch(&ring[id], &main_ctx);
  }
}

TEST_IMPL(switch_many_contexts) {
  int i, round;
  for (i = 0; i < NCTX; i++)
    moonlet__ctx_init(&ring[i], new_stack(), STACK_SIZE, ring_fn,
                      (void *)(intptr_t)i);
  for (round = 0; round < 50; round++)
    for (i = 0; i < NCTX; i++) moonlet__ctx_switch(&main_ctx, &ring[i]);
  for (i = 0; i < NCTX; i++) ASSERT_EQ(ring_sum[i], i * 1000L + 50);
  return 0;
}

/* --- two contexts sharing one stack by copying slices ------------------- */

/* The shared-stack scheme in miniature: both contexts run at the same
 * addresses; whoever is suspended while the other runs has its live slice
 * [sp, top) saved to a buffer and copied back before it continues. */
static char *shared_lo;
static moonlet_ctx two[2];
static char saved[2][STACK_SIZE];
static size_t saved_len[2];
static long two_total[2];

static void two_fn(void *arg) {
  int id = (int)(intptr_t)arg;
  long acc = 0;
  long *where = &acc; /* a pointer to a local must stay valid */
  int i;
  for (i = 1; i <= 100; i++) {
    *where += i * (id + 1);
    moonlet__ctx_switch(&two[id], &main_ctx);
  }
  two_total[id] = acc;
  for (;;) moonlet__ctx_switch(&two[id], &main_ctx);
}

static void save_slice(int id) {
  char *top = shared_lo + STACK_SIZE;
  char *sp = (char *)two[id].sp;
  if (sp < shared_lo) sp = shared_lo;
  saved_len[id] = (size_t)(top - sp);
  memcpy(saved[id], sp, saved_len[id]);
}

static void restore_slice(int id) {
  char *top = shared_lo + STACK_SIZE;
  memcpy(top - saved_len[id], saved[id], saved_len[id]);
}

TEST_IMPL(switch_shared_stack_copy) {
  int i;
  shared_lo = new_stack();
  moonlet__ctx_init(&two[0], shared_lo, STACK_SIZE, two_fn, (void *)0);
  moonlet__ctx_switch(&main_ctx, &two[0]);
  save_slice(0);
  moonlet__ctx_init(&two[1], shared_lo, STACK_SIZE, two_fn, (void *)1);
  moonlet__ctx_switch(&main_ctx, &two[1]);
  save_slice(1);
  for (i = 0; i < 200; i++) {
    int id = i % 2;
    restore_slice(id);
    moonlet__ctx_switch(&main_ctx, &two[id]);
    save_slice(id);
  }
  ASSERT_EQ(two_total[0], 5050L);
  ASSERT_EQ(two_total[1], 10100L);
  return 0;
}
