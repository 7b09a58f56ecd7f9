/*
 * curl_api.h - libcurl as the HTTP client calls it: through pointers
 * filled by moonlet__curl_load, which dlopens libcurl (RTLD_LAZY) when the
 * HTTP module opens.
 *
 * Why not link it: Lua loads C modules with RTLD_NOW, which binds at
 * start-up every symbol of the libraries a module links, and libcurl
 * brings the TLS, SSH, IDN and compression libraries with it: that was
 * half of every moonlet program's start-up (about 15M instructions).
 * Loaded lazily, only what a program calls is bound, when it is called.
 *
 * Include this instead of <curl/curl.h>: the curl_* names below become
 * the pointers. MOONLET_LIBCURL names another library file to load.
 */
#ifndef MOONLET_CURL_API_H
#define MOONLET_CURL_API_H

#include <curl/curl.h>

#define MOONLET_CURL_FUNCS(X)                                                 \
  X(curl_global_init) X(curl_version_info) X(curl_easy_init)                  \
  X(curl_easy_setopt) X(curl_easy_getinfo) X(curl_easy_cleanup)               \
  X(curl_easy_reset) X(curl_easy_pause) X(curl_easy_strerror)                 \
  X(curl_multi_init) X(curl_multi_setopt) X(curl_multi_cleanup)               \
  X(curl_multi_add_handle) X(curl_multi_remove_handle) X(curl_multi_assign)   \
  X(curl_multi_socket_action) X(curl_multi_info_read) X(curl_multi_strerror)  \
  X(curl_share_init) X(curl_share_setopt) X(curl_share_cleanup)               \
  X(curl_slist_append) X(curl_slist_free_all) X(curl_free)                    \
  X(curl_url) X(curl_url_set) X(curl_url_get) X(curl_url_cleanup)             \
  X(curl_url_strerror)

#define MOONLET_CURL_POINTER(name) __typeof__(name) *name;
struct moonlet_curl_api {
  MOONLET_CURL_FUNCS(MOONLET_CURL_POINTER)
};
#undef MOONLET_CURL_POINTER
extern struct moonlet_curl_api moonlet__curl;

/* Loads libcurl once per process (thread-safe): NULL, or why it could
 * not be loaded. */
const char *moonlet__curl_load(void);

#ifndef MOONLET_CURL_STRUCT_ONLY
/* curl.h may define some of these as checking macros. */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_share_setopt
#undef curl_multi_setopt
#define curl_global_init (*moonlet__curl.curl_global_init)
#define curl_version_info (*moonlet__curl.curl_version_info)
#define curl_easy_init (*moonlet__curl.curl_easy_init)
#define curl_easy_setopt (*moonlet__curl.curl_easy_setopt)
#define curl_easy_getinfo (*moonlet__curl.curl_easy_getinfo)
#define curl_easy_cleanup (*moonlet__curl.curl_easy_cleanup)
#define curl_easy_reset (*moonlet__curl.curl_easy_reset)
#define curl_easy_pause (*moonlet__curl.curl_easy_pause)
#define curl_easy_strerror (*moonlet__curl.curl_easy_strerror)
#define curl_multi_init (*moonlet__curl.curl_multi_init)
#define curl_multi_setopt (*moonlet__curl.curl_multi_setopt)
#define curl_multi_cleanup (*moonlet__curl.curl_multi_cleanup)
#define curl_multi_add_handle (*moonlet__curl.curl_multi_add_handle)
#define curl_multi_remove_handle (*moonlet__curl.curl_multi_remove_handle)
#define curl_multi_assign (*moonlet__curl.curl_multi_assign)
#define curl_multi_socket_action (*moonlet__curl.curl_multi_socket_action)
#define curl_multi_info_read (*moonlet__curl.curl_multi_info_read)
#define curl_multi_strerror (*moonlet__curl.curl_multi_strerror)
#define curl_share_init (*moonlet__curl.curl_share_init)
#define curl_share_setopt (*moonlet__curl.curl_share_setopt)
#define curl_share_cleanup (*moonlet__curl.curl_share_cleanup)
#define curl_slist_append (*moonlet__curl.curl_slist_append)
#define curl_slist_free_all (*moonlet__curl.curl_slist_free_all)
#define curl_free (*moonlet__curl.curl_free)
#define curl_url (*moonlet__curl.curl_url)
#define curl_url_set (*moonlet__curl.curl_url_set)
#define curl_url_get (*moonlet__curl.curl_url_get)
#define curl_url_cleanup (*moonlet__curl.curl_url_cleanup)
#define curl_url_strerror (*moonlet__curl.curl_url_strerror)
#endif

#endif
