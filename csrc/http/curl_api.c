/*
 * curl_api.c - loads libcurl (see curl_api.h).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <curl/curl.h>

/* The struct as curl_api.h declares it, without its renaming macros. */
#define MOONLET_CURL_STRUCT_ONLY
#include "http/curl_api.h"

struct moonlet_curl_api moonlet__curl;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char failure[256];
static const char *failed;

static void load(void) {
  const char *file = getenv("MOONLET_LIBCURL");
  void *lib = dlopen(file && *file ? file : "libcurl.so.4", RTLD_LAZY | RTLD_LOCAL);
  if (!lib) {
    snprintf(failure, sizeof failure, "cannot load libcurl: %s", dlerror());
    failed = failure;
    return;
  }
#define LOAD(name)                                                            \
  if (!failed && !(*(void **)&moonlet__curl.name = dlsym(lib, #name))) {      \
    snprintf(failure, sizeof failure, "libcurl has no %s (too old a version)", #name); \
    failed = failure;                                                         \
  }
  MOONLET_CURL_FUNCS(LOAD)
#undef LOAD
}

const char *moonlet__curl_load(void) {
  pthread_once(&once, load);
  return failed;
}
