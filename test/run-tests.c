/*
 * run-tests.c - runs every test in TEST_LIST (or those named on the command
 * line), each in a forked child, and prints TAP lines. Exit status is the
 * number of failures (capped), so make sees a failing run.
 */
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runner.h"
#ifndef TEST_LIST_FILE
#define TEST_LIST_FILE "test-list.h" /* -DTEST_LIST_FILE picks another table */
#endif
#include TEST_LIST_FILE

TEST_LIST(TEST_DECLARE)
static const test_entry tests[] = {TEST_LIST(TEST_ENTRY){NULL, NULL}};

static int run_one(const test_entry *t) {
  int status;
  pid_t pid;
  fflush(stdout);
  pid = fork();
  if (pid < 0) return 0;
  if (pid == 0) _exit(t->fn() == 0 ? 0 : 1);
  if (waitpid(pid, &status, 0) < 0) return 0;
  if (WIFSIGNALED(status))
    printf("# %s: killed by signal %d\n", t->name, WTERMSIG(status));
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static int wanted(const char *name, int argc, char **argv) {
  int i;
  if (argc < 2) return 1;
  for (i = 1; i < argc; i++)
    if (strcmp(argv[i], name) == 0) return 1;
  return 0;
}

int main(int argc, char **argv) {
  const test_entry *t;
  int n = 0, failed = 0;
  for (t = tests; t->name; t++)
    if (wanted(t->name, argc, argv)) n++;
  printf("1..%d\n", n);
  n = 0;
  for (t = tests; t->name; t++) {
    int ok;
    if (!wanted(t->name, argc, argv)) continue;
    ok = run_one(t);
    printf("%sok %d - %s\n", ok ? "" : "not ", ++n, t->name);
    if (!ok) failed++;
  }
  return failed > 100 ? 100 : failed;
}
