/*
 * tools.h - what AddressSanitizer and Valgrind need to hear about stack
 * switches and stack copies. Every hook compiles to nothing without them.
 */
#ifndef MOONLET_TOOLS_H
#define MOONLET_TOOLS_H

#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__)
#define MOONLET_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MOONLET_ASAN 1
#endif
#endif

#ifdef MOONLET_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define ASAN_UNPOISON(p, n) __asan_unpoison_memory_region((p), (n))
#define FIBER_START(save, lo, n) __sanitizer_start_switch_fiber((save), (lo), (n))
#define FIBER_FINISH(save, lo, n) __sanitizer_finish_switch_fiber((save), (lo), (n))
#else
#define ASAN_UNPOISON(p, n) ((void)(p), (void)(n))
#define FIBER_START(save, lo, n) ((void)(save), (void)(lo), (void)(n))
#define FIBER_FINISH(save, lo, n) ((void)(save), (void)(lo), (void)(n))
#endif

#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>
#define MOONLET_VALGRIND 1
#endif
#endif

#ifndef MOONLET_VALGRIND
#define VALGRIND_STACK_REGISTER(lo, hi) 0u
#define VALGRIND_STACK_DEREGISTER(id) ((void)(id))
#define VALGRIND_MAKE_MEM_UNDEFINED(p, n) ((void)(p), (void)(n))
#endif

#endif
