/* The table of embedding tests (test-embed.c), one X(name) per test. */
#define TEST_LIST(X)                \
  X(embed_own_loop)                 \
  X(embed_host_loop)                \
  X(embed_bare_host_loop)           \
  X(embed_blocking_calls)           \
  X(embed_not_opened)               \
  X(embed_threadsafe_futures)       \
  X(embed_post_from_threads)        \
  X(embed_two_instances)            \
  X(embed_sigpipe_ignored)          \
  X(embed_sigpipe_host_handler)     \
  X(embed_close_with_tasks_left)   \
  X(embed_close_from_inside)        \
  X(embed_errors_seen)              \
  X(embed_other_loops)              \
  X(embed_out_of_memory)            \
  X(embed_fibers)                   \
  X(embed_fiber_overflow)
