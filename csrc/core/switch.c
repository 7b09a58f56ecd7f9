/*
 * switch.c - building the first frame of a new context, and the ucontext
 * fallback. The assembly switch lives in switch.S.
 */
#include "core/switch.h"

#include <stdint.h>
#include <string.h>

#ifndef MOONLET_SWITCH_UCONTEXT

void moonlet__ctx_trampoline(void);

#if defined(__x86_64__)

/* Frame popped by moonlet__ctx_switch: FP control word, r15, r14, r13, r12,
 * rbx, rbp, return address. After its 'ret' the stack pointer must be 16-byte
 * aligned so that the trampoline's 'call' gives fn a standard entry. */
void moonlet__ctx_init(moonlet_ctx *ctx, void *lo, size_t size,
                       void (*fn)(void *), void *arg) {
  uintptr_t top = ((uintptr_t)lo + size) & ~(uintptr_t)15;
  uint64_t *f = (uint64_t *)(top - 128);
  uint32_t mxcsr;
  uint16_t fpcw;
  __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
  __asm__ volatile("fnstcw %0" : "=m"(fpcw));
  memset(f, 0, 128);
  f[0] = (uint64_t)mxcsr | ((uint64_t)fpcw << 32);
  f[3] = (uint64_t)(uintptr_t)fn;  /* r13 */
  f[4] = (uint64_t)(uintptr_t)arg; /* r12 */
  f[7] = (uint64_t)(uintptr_t)moonlet__ctx_trampoline;
  ctx->sp = f;
}

#elif defined(__aarch64__)

/* Frame popped by moonlet__ctx_switch: x19..x30, d8..d15, FPCR; 176 bytes. */
void moonlet__ctx_init(moonlet_ctx *ctx, void *lo, size_t size,
                       void (*fn)(void *), void *arg) {
  uintptr_t top = ((uintptr_t)lo + size) & ~(uintptr_t)15;
  uint64_t *f = (uint64_t *)(top - 176);
  uint64_t fpcr;
  __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
  memset(f, 0, 176);
  f[0] = (uint64_t)(uintptr_t)arg;                     /* x19 */
  f[1] = (uint64_t)(uintptr_t)fn;                      /* x20 */
  f[11] = (uint64_t)(uintptr_t)moonlet__ctx_trampoline; /* x30 */
  f[20] = fpcr;
  ctx->sp = f;
}

#endif

const char *moonlet__ctx_backend(void) {
#if defined(__x86_64__)
  return "asm-x86_64";
#else
  return "asm-aarch64";
#endif
}

#else /* MOONLET_SWITCH_UCONTEXT */

#include <stdlib.h>

/* makecontext passes only ints, so the pointers travel in halves. */
static void ctx_entry(unsigned fhi, unsigned flo, unsigned ahi, unsigned alo) {
  void (*fn)(void *) =
      (void (*)(void *))(((uintptr_t)fhi << 16 << 16) | (uintptr_t)flo);
  void *arg = (void *)(((uintptr_t)ahi << 16 << 16) | (uintptr_t)alo);
  fn(arg);
  abort(); /* fn must switch away instead of returning */
}

void moonlet__ctx_init(moonlet_ctx *ctx, void *lo, size_t size,
                       void (*fn)(void *), void *arg) {
  uintptr_t f = (uintptr_t)fn, a = (uintptr_t)arg;
  getcontext(&ctx->uc);
  ctx->uc.uc_stack.ss_sp = lo;
  ctx->uc.uc_stack.ss_size = size;
  ctx->uc.uc_link = NULL;
  makecontext(&ctx->uc, (void (*)(void))ctx_entry, 4,
              (unsigned)(f >> 16 >> 16), (unsigned)f,
              (unsigned)(a >> 16 >> 16), (unsigned)a);
  /* The fresh frame is built by makecontext just below the top. */
  ctx->sp = (char *)lo + size - 512;
}

void moonlet__ctx_switch(moonlet_ctx *from, moonlet_ctx *to) {
  /* swapcontext keeps the registers in 'from', but the caller's frames
   * still live on the stack: record a conservative low bound so that a
   * stack copy covers them and swapcontext's own return address. */
  from->sp = (char *)__builtin_frame_address(0) - 256;
  swapcontext(&from->uc, &to->uc);
}

const char *moonlet__ctx_backend(void) { return "ucontext"; }

#endif
