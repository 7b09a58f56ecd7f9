/*
 * stack.h - the shared execution stack of a loop and the slices tasks keep
 * of it while another task uses it (docs/design.md, "Switching").
 */
#ifndef MOONLET_STACK_H
#define MOONLET_STACK_H

#include <stddef.h>

#define MOONLET_STACK_DEFAULT (1024 * 1024)
#define MOONLET_STACK_MIN (512 * 1024)
#define MOONLET_GUARD_MIN (64 * 1024)

typedef struct moonlet_stack {
  char *map;       /* the whole mapping: guard region, then the stack */
  size_t map_size;
  char *lo, *hi;   /* the usable stack [lo, hi); it grows down from hi */
  unsigned vg_id;  /* Valgrind's stack id */
} moonlet_stack;

/* A copy of a suspended task's live part of the stack, [sp, hi). The
 * buffer grows with realloc and is kept for the task's life, so a switch
 * does not allocate. */
typedef struct moonlet_slice {
  char *buf;
  size_t len, cap;
} moonlet_slice;

/* Maps a stack of size bytes (rounded up to pages) with a guard region below
 * it and makes sure a hit on the guard is reported by name. Returns 0 or a
 * negative errno. */
int moonlet__stack_open(moonlet_stack *s, size_t size);
/* The same for a stack of any size (C fibers' own stacks). */
int moonlet__stack_map(moonlet_stack *s, size_t size);
void moonlet__stack_close(moonlet_stack *s);

/* Stack size from MOONLET_STACK_SIZE ("1048576", "768k", "2m"), or the
 * default; never below MOONLET_STACK_MIN. */
size_t moonlet__stack_size_from_env(void);

/* Copies [sp, hi) into the slice. Returns 0 or -ENOMEM. */
int moonlet__slice_save(moonlet_slice *sl, const moonlet_stack *s,
                        const void *sp);
/* Copies the slice back to the addresses it came from. */
void moonlet__slice_restore(const moonlet_slice *sl, const moonlet_stack *s);
void moonlet__slice_free(moonlet_slice *sl);

/* Tells the memory tools that [lo, hi) of the stack is about to hold a new
 * frame (a fresh context), so stale state there is not reported. */
void moonlet__stack_fresh(const moonlet_stack *s, void *lo, size_t len);

#endif
