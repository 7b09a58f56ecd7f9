/*
 * runner.h - a tiny test harness for the C tests, after libuv's test/:
 * each test is a function in one table; the runner forks one child per
 * test, so a crash fails that test alone, and prints TAP lines.
 */
#ifndef MOONLET_TEST_RUNNER_H
#define MOONLET_TEST_RUNNER_H

#include <stdio.h>
#include <stdlib.h>

#define ASSERT(expr)                                                        \
  do {                                                                      \
    if (!(expr)) {                                                          \
      fprintf(stderr, "# assertion failed: %s (%s:%d)\n", #expr, __FILE__, \
              __LINE__);                                                    \
      exit(1);                                                              \
    }                                                                       \
  } while (0)

#define ASSERT_EQ(a, b) ASSERT((a) == (b))

#define TEST_IMPL(name) int run_test_##name(void)
#define TEST_DECLARE(name) int run_test_##name(void);
#define TEST_ENTRY(name) {#name, run_test_##name},

typedef struct {
  const char *name;
  int (*fn)(void);
} test_entry;

#endif
