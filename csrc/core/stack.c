/*
 * stack.c - mapping the shared stack with a guard region, reporting a hit on
 * the guard by name, and copying task slices out of and back into it.
 */
#define _GNU_SOURCE
#include "core/stack.h"

#include <errno.h>
#include <execinfo.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/tools.h"

/* Guard regions of all live stacks, read by the SIGSEGV handler. This is
 * the library's only process-wide state: a signal handler is process-wide. */
#define MAX_GUARDS 256
static _Atomic uintptr_t guard_lo[MAX_GUARDS], guard_hi[MAX_GUARDS];
static struct sigaction previous_segv;
static atomic_int segv_installed;
static _Thread_local void *altstack_mem; /* while this thread has stacks */
static _Thread_local int thread_stacks;

static const char overflow_msg[] =
    "moonlet: stack overflow on the shared stack or a C fiber's stack "
    "(C recursion too deep)\n";

static void on_segv(int sig, siginfo_t *si, void *uctx) {
  uintptr_t a = (uintptr_t)si->si_addr;
  int i;
  for (i = 0; i < MAX_GUARDS; i++) {
    uintptr_t lo = atomic_load(&guard_lo[i]);
    if (lo && a >= lo && a < atomic_load(&guard_hi[i])) {
      void *frames[64];
      ssize_t r = write(2, overflow_msg, sizeof overflow_msg - 1);
      (void)r;
      /* Where it happened (backtrace was warmed up at install time, so it
       * does not load anything now). */
      backtrace_symbols_fd(frames, backtrace(frames, 64), 2);
      signal(SIGABRT, SIG_DFL);
      abort();
    }
  }
  /* Not ours: give the fault to whoever handled it before. */
  if ((previous_segv.sa_flags & SA_SIGINFO) && previous_segv.sa_sigaction) {
    previous_segv.sa_sigaction(sig, si, uctx);
  } else if (previous_segv.sa_handler != SIG_DFL &&
             previous_segv.sa_handler != SIG_IGN) {
    previous_segv.sa_handler(sig);
  } else {
    /* Returning re-runs the faulting instruction under the default action. */
    sigaction(SIGSEGV, &previous_segv, NULL);
  }
}

/* The handler must run on an alternate stack: the faulting one is full. */
static void install_handler(void) {
  stack_t old;
  if (!altstack_mem && sigaltstack(NULL, &old) == 0 &&
      (old.ss_flags & SS_DISABLE)) {
    stack_t ss;
    ss.ss_size = 64 * 1024;
    ss.ss_sp = malloc(ss.ss_size);
    ss.ss_flags = 0;
    if (ss.ss_sp && sigaltstack(&ss, NULL) == 0)
      altstack_mem = ss.ss_sp;
    else
      free(ss.ss_sp);
  }
  if (atomic_exchange(&segv_installed, 1) == 0) {
    struct sigaction sa;
    void *warm[1];
    backtrace(warm, 1); /* loads libgcc's unwinder now, not in the handler */
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &previous_segv);
  }
}

static void guard_add(uintptr_t lo, uintptr_t hi) {
  int i;
  for (i = 0; i < MAX_GUARDS; i++) {
    uintptr_t expect = 0;
    if (atomic_compare_exchange_strong(&guard_lo[i], &expect, (uintptr_t)1)) {
      atomic_store(&guard_hi[i], hi);
      atomic_store(&guard_lo[i], lo);
      return;
    }
  }
}

static void guard_remove(uintptr_t lo) {
  int i;
  for (i = 0; i < MAX_GUARDS; i++)
    if (atomic_load(&guard_lo[i]) == lo) {
      atomic_store(&guard_lo[i], 0);
      return;
    }
}

static size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

int moonlet__stack_open(moonlet_stack *s, size_t size) {
  return moonlet__stack_map(s, size < MOONLET_STACK_MIN ? MOONLET_STACK_MIN : size);
}

int moonlet__stack_map(moonlet_stack *s, size_t size) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t guard = round_up(MOONLET_GUARD_MIN, page);
  char *m;
  size = round_up(size, page);
  m = mmap(NULL, guard + size, PROT_READ | PROT_WRITE,
           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) return -errno;
  if (mprotect(m, guard, PROT_NONE) != 0) {
    int e = errno;
    munmap(m, guard + size);
    return -e;
  }
  s->map = m;
  s->map_size = guard + size;
  s->lo = m + guard;
  s->hi = s->lo + size;
  s->vg_id = VALGRIND_STACK_REGISTER(s->lo, s->hi);
  install_handler();
  thread_stacks++;
  guard_add((uintptr_t)m, (uintptr_t)s->lo);
  return 0;
}

/* The thread's last stack is gone (its instance closed): give back the
 * alternate signal stack, which would be lost when the thread exits. */
static void drop_altstack(void) {
  stack_t cur, off;
  if (--thread_stacks > 0 || !altstack_mem) return;
  if (sigaltstack(NULL, &cur) != 0 || cur.ss_sp != altstack_mem ||
      (cur.ss_flags & SS_ONSTACK))
    return;
  memset(&off, 0, sizeof off);
  off.ss_flags = SS_DISABLE;
  if (sigaltstack(&off, NULL) == 0) {
    free(altstack_mem);
    altstack_mem = NULL;
  }
}

void moonlet__stack_close(moonlet_stack *s) {
  if (!s->map) return;
  guard_remove((uintptr_t)s->map);
  VALGRIND_STACK_DEREGISTER(s->vg_id);
  munmap(s->map, s->map_size);
  s->map = s->lo = s->hi = NULL;
  drop_altstack();
}

size_t moonlet__stack_size_from_env(void) {
  const char *v = getenv("MOONLET_STACK_SIZE");
  char *end;
  unsigned long long n;
  if (!v || !*v) return MOONLET_STACK_DEFAULT;
  n = strtoull(v, &end, 10);
  if (*end == 'k' || *end == 'K') n *= 1024;
  else if (*end == 'm' || *end == 'M') n *= 1024 * 1024;
  if (n < MOONLET_STACK_MIN) n = MOONLET_STACK_MIN;
  if (n > (1ull << 30)) n = 1ull << 30;
  return (size_t)n;
}

int moonlet__slice_save(moonlet_slice *sl, const moonlet_stack *s,
                        const void *sp) {
  size_t len = (size_t)(s->hi - (const char *)sp);
  if (len > sl->cap) {
    size_t cap = len + 256; /* a little room: slices vary by a few frames */
    char *b = realloc(sl->buf, cap);
    if (!b) return -ENOMEM;
    sl->buf = b;
    sl->cap = cap;
  }
  /* The slice holds the poisoned redzones of instrumented frames. */
  ASAN_UNPOISON((void *)sp, len);
  memcpy(sl->buf, sp, len);
  sl->len = len;
  return 0;
}

void moonlet__slice_restore(const moonlet_slice *sl, const moonlet_stack *s) {
  char *dst = s->hi - sl->len;
  ASAN_UNPOISON(dst, sl->len);
  /* Memcheck may hold that part of the stack inaccessible since the last
   * frame that used it returned; the copy then gives it the saved bits. */
  VALGRIND_MAKE_MEM_UNDEFINED(dst, sl->len);
  memcpy(dst, sl->buf, sl->len);
}

void moonlet__slice_free(moonlet_slice *sl) {
  free(sl->buf);
  sl->buf = NULL;
  sl->len = sl->cap = 0;
}

void moonlet__stack_fresh(const moonlet_stack *s, void *lo, size_t len) {
  (void)s;
  ASAN_UNPOISON(lo, len);
  VALGRIND_MAKE_MEM_UNDEFINED(lo, len);
}
