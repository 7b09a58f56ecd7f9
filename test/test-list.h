/* The table of C tests, one X(name) per test (libuv's test-list.h). */
#define TEST_LIST(X)            \
  X(switch_pingpong)            \
  X(switch_callee_saved)        \
  X(switch_fp_control)          \
  X(switch_stack_alignment)     \
  X(switch_many_contexts)       \
  X(switch_shared_stack_copy)
