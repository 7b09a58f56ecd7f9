/*
 * native.c - what a task that suspends natively needs (registers, its
 * stack slice's buffer), lent by the loop on first need and kept, when the
 * task ends, for the next one.
 */
#include <stdlib.h>
#include <string.h>

#include "core/native.h"

/* Ended tasks' native states kept for reuse, with their slice buffers
 * unless a deep stack made one big. */
#define NATIVE_KEEP 64
#define NATIVE_KEEP_SLICE (64 * 1024)

/* NULL if memory is short. */
moonlet_native *moonlet__native_lend(moonlet_loop *lp, moonlet_task *t) {
  moonlet_native *n = t->nat;
  if (n) return n;
  if ((n = lp->free_nat) != NULL) {
    lp->free_nat = n->next;
    lp->nfree_nat--;
  } else {
    if (!(n = malloc(sizeof *n))) return NULL;
    memset(n, 0, sizeof *n);
  }
  n->next = NULL;
  return t->nat = n;
}

moonlet_native *moonlet__task_native(lua_State *L, moonlet_loop *lp,
                                     moonlet_task *t) {
  moonlet_native *n = moonlet__native_lend(lp, t);
  if (!n) luaL_error(L, "not enough memory");
  return n;
}

void moonlet__native_give(moonlet_loop *lp, moonlet_task *t) {
  moonlet_native *n = t->nat;
  if (!n) return;
  t->nat = NULL;
  n->fiber = NULL;
  n->shared_sp = NULL;
  n->fake_stack = NULL;
  if (n->slice.cap > NATIVE_KEEP_SLICE) moonlet__slice_free(&n->slice);
  if (lp->nfree_nat < NATIVE_KEEP && !lp->closed) {
    n->next = lp->free_nat;
    lp->free_nat = n;
    lp->nfree_nat++;
    return;
  }
  moonlet__slice_free(&n->slice);
  free(n);
}

size_t moonlet__pooled_native_bytes(const moonlet_loop *lp) {
  const moonlet_native *n;
  size_t bytes = 0;
  for (n = lp->free_nat; n; n = n->next) bytes += n->slice.cap;
  return bytes;
}

void moonlet__native_close(moonlet_loop *lp) {
  moonlet_native *n;
  while ((n = lp->free_nat) != NULL) {
    lp->free_nat = n->next;
    moonlet__slice_free(&n->slice);
    free(n);
  }
  lp->nfree_nat = 0;
}
