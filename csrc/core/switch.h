/*
 * switch.h - the raw context switch.
 *
 * A context is a suspended flow of control: its callee-saved registers, FP
 * control state and resume address are pushed on its own stack, and only the
 * stack pointer is kept here. The assembly backends (x86_64 SysV, aarch64)
 * are out-of-line functions, so a switch is a full compiler barrier even
 * under LTO. Other platforms, or builds with -DMOONLET_SWITCH_UCONTEXT, use
 * ucontext(3); there the registers live in the context itself.
 */
#ifndef MOONLET_SWITCH_H
#define MOONLET_SWITCH_H

#include <stddef.h>

#if !defined(__x86_64__) && !defined(__aarch64__) && \
    !defined(MOONLET_SWITCH_UCONTEXT)
#define MOONLET_SWITCH_UCONTEXT 1
#endif

#ifdef MOONLET_SWITCH_UCONTEXT
#include <ucontext.h>
#endif

typedef struct moonlet_ctx {
  void *sp; /* lowest live stack address of the suspended context */
#ifdef MOONLET_SWITCH_UCONTEXT
  ucontext_t uc;
#endif
} moonlet_ctx;

/* Suspends the running context into *from and continues *to. Returns when
 * something switches back to *from. */
void moonlet__ctx_switch(moonlet_ctx *from, moonlet_ctx *to);

/* Prepares *ctx so that switching to it runs fn(arg) on the stack
 * [lo, lo + size). fn must never return; it leaves by switching away. */
void moonlet__ctx_init(moonlet_ctx *ctx, void *lo, size_t size,
                       void (*fn)(void *), void *arg);

/* Name of the backend compiled in, for stats and test output. */
const char *moonlet__ctx_backend(void);

#endif
