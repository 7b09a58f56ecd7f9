/*
 * client.c - moonlet.http's client core: libcurl's multi-socket interface
 * driven by the moonlet loop. curl tells us which sockets to watch (one
 * uv_poll each) and when to call it back (one uv_timer per client); its
 * callbacks only fill C buffers and wake waiting tasks, so no Lua runs
 * inside curl. HTTPS, HTTP/2, compression, redirects, proxies, cookies and
 * connection reuse all come from curl.
 *
 * A client is a share handle (DNS cache, cookie jar, TLS sessions) and
 * one or more multi handles, its shards, each with its own connection
 * pool. A transfer is an easy handle with its received
 * header block and the body bytes not yet taken; a task waits on it for
 * its headers, for more body or for its end. lua/moonlet/http.lua builds
 * requests and responses around these objects.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/buf.h"
#include "http/curl_api.h"
#include "http/http.h"
#include "io/io.h"

/* Body bytes a streamed transfer buffers before curl is paused. */
#define STREAM_LIMIT (256 * 1024)
#define IDLE_EASY 64
/* Transfers a shard takes before the next one is opened, and the most
 * shards a client opens (see pick_shard). */
#define SHARD_SIZE 64
#define MAX_SHARDS 32

typedef struct http_sock http_sock;
typedef struct http_client http_client;

/* A multi handle and its timer. curl 7.x looks for a connection to reuse
 * by walking every connection to the host in the multi handle's pool, so
 * at a thousand connections the walk would cost more than the rest of a
 * transfer: a busy client spreads its transfers over shards. */
typedef struct http_shard {
  http_client *c;
  CURLM *multi;
  uv_timer_t timer;
  int running;              /* transfers in the multi handle */
  int room;                 /* transfers it takes before the next shard */
} http_shard;

/* A dead (abandoned) easy handle and the shard it is still in. */
typedef struct http_dead {
  CURL *easy;
  http_shard *s;
} http_dead;

struct http_client {
  moonlet_io io;
  http_shard *shards[MAX_SHARDS];
  int nshards, max_shards;
  long max_conn, per_host;  /* the client's limits, shared by its shards */
  CURLSH *share;
  int env_proxy;          /* the environment names proxies (env_proxy) */
  char *ua;               /* the first User-Agent sent, and its header */
  struct curl_slist *ua_list; /* list, kept until the client closes */
  /* curl work that must not run on a task's stack (it may do TLS and
   * HTTP/2 at once) waits for this timer: unpausing transfers, removing
   * abandoned ones (kept in dead). */
  uv_timer_t later;
  http_dead *dead;
  int ndead, capdead;
  int handles;              /* uv handles not closed yet (timers, polls) */
  mqueue socks, xfers;
  CURL *idle[IDLE_EASY];    /* easy handles kept for the next transfers */
  int nidle;
  int cookies;              /* the shared jar is on */
  http_sock **byfd;         /* connection sockets by descriptor */
  int nbyfd;
  char *cookie_file;        /* loaded at creation, saved at close */
};

/* A socket curl asked us to watch. Connection sockets (opened and closed
 * through our callbacks) stay registered while their connection idles in
 * the pool, so a reused connection costs no epoll changes; other sockets
 * (the resolver's) are dropped when curl stops watching them. */
struct http_sock {
  uv_poll_t poll;
  mqueue node;              /* client->socks */
  http_client *c;
  http_shard *s;            /* whose multi handle the socket belongs to */
  curl_socket_t fd;
  int events;               /* what the poll watches now */
  int conn;                 /* opened by on_open: closed by on_close */
  int idle;                 /* curl does not watch it now */
};

enum { XS_RUNNING, XS_HEADERS, XS_DONE };
enum { WANT_HEADERS, WANT_DONE, WANT_DATA };

typedef struct http_xfer {
  moonlet_io io;
  mqueue node;              /* client->xfers */
  http_client *c;
  http_shard *s;            /* where the transfer runs */
  CURL *easy;
  struct curl_slist *req_headers;
  char *body, *head;        /* unread body; the latest header block */
  size_t body_len, body_cap, head_len, head_cap;
  int state, want, stream, paused, follow, location;
  int resume;               /* unpause on the loop's next turn */
  int dirty;                /* set options the next transfer would keep */
  uint64_t max_body;        /* bytes a body kept whole may reach (0: any) */
  uint64_t body_total;
  int too_large;            /* stopped at max_body */
  int open_errno;           /* why the last socket() failed, or 0 */
  CURLcode result;
  moonlet_op waiter;        /* the task waiting on the transfer */
  char errbuf[CURL_ERROR_SIZE];
} http_xfer;

/* --- transfers ----------------------------------------------------------- */

/* Wakes the waiter if what it waits for happened. */
static void notify(http_xfer *x) {
  int ready;
  if (!moonlet__op_waiting(&x->waiter)) return;
  switch (x->want) {
    case WANT_HEADERS: ready = x->state >= XS_HEADERS; break;
    case WANT_DATA: ready = x->body_len > 0 || x->state == XS_DONE; break;
    default: ready = x->state == XS_DONE; break;
  }
  if (ready) moonlet__op_finish(&x->waiter, 0);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
  http_xfer *x = ud;
  size_t len = size * n;
  if (x->state == XS_RUNNING) x->state = XS_HEADERS;
  if (x->stream && x->body_len >= STREAM_LIMIT) {
    x->paused = 1;
    return CURL_WRITEFUNC_PAUSE;
  }
  /* A body kept whole stops at max_body: a small gzip body may decompress
   * to gigabytes. (Returning less than len fails the transfer.) */
  x->body_total += len;
  if (!x->stream && x->max_body && x->body_total > x->max_body) {
    x->too_large = 1;
    return 0;
  }
  if (moonlet__grow(&x->body, &x->body_cap, x->body_len + len) != 0) return 0;
  memcpy(x->body + x->body_len, p, len);
  x->body_len += len;
  notify(x);
  return len;
}

/* Header lines arrive one by one, for every response on the way (1xx,
 * redirects followed); the block of the final one is kept. */
static size_t on_header(char *p, size_t size, size_t n, void *ud) {
  http_xfer *x = ud;
  size_t len = size * n;
  if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
    x->head_len = 0;
    x->location = 0;
  } else if (len <= 2 && (p[0] == '\r' || p[0] == '\n')) {
    long code = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
    if (code >= 200 && !(x->follow && x->location && code >= 300 && code < 400) &&
        x->state == XS_RUNNING) {
      x->state = XS_HEADERS;
      notify(x);
    }
    return len;
  } else if (len > 9 && strncasecmp(p, "location:", 9) == 0) {
    x->location = 1;
  }
  if (moonlet__grow(&x->head, &x->head_cap, x->head_len + len) != 0) return 0;
  memcpy(x->head + x->head_len, p, len);
  x->head_len += len;
  return len;
}

static void configure(http_client *c, CURL *e);

/* A handle whose transfer ended goes back to the client for the next one.
 * It keeps its options (curl's advice: reuse a handle): the next transfer
 * sets every option a request decides, except those few requests use,
 * which leave it dirty: it is reset and configured afresh. */
static void recycle(http_client *c, CURL *e, int dirty) {
  if (c->nidle == IDLE_EASY) {
    curl_easy_cleanup(e);
    return;
  }
  if (dirty) {
    /* Frees the list of cookie files a transfer that never started keeps
     * (curl_easy_reset leaves it). */
    curl_easy_setopt(e, CURLOPT_COOKIEFILE, NULL);
    curl_easy_reset(e);
    configure(c, e);
  } else {
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL); /* the list is freed */
  }
  c->idle[c->nidle++] = e;
}

static size_t discard(char *p, size_t size, size_t n, void *ud) {
  (void)p;
  (void)ud;
  return size * n;
}

static void on_later(uv_timer_t *t);

/* An easy handle still in the multi handle whose transfer nobody wants:
 * it stops delivering to its (freed) transfer and leaves the multi handle
 * on the loop's next turn. */
static void abandon(http_shard *s, CURL *e) {
  http_client *c = s->c;
  if (c->ndead == c->capdead) {
    int cap = c->capdead ? c->capdead * 2 : 16;
    http_dead *d = realloc(c->dead, (size_t)cap * sizeof *d);
    if (!d) { /* no memory: remove it here after all */
      curl_multi_remove_handle(s->multi, e);
      s->running--;
      recycle(c, e, 1);
      return;
    }
    c->dead = d;
    c->capdead = cap;
  }
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, discard);
  curl_easy_setopt(e, CURLOPT_PRIVATE, NULL);
  c->dead[c->ndead].easy = e;
  c->dead[c->ndead++].s = s;
  uv_timer_start(&c->later, on_later, 0, 0);
}

static void bury_dead(http_client *c) {
  while (c->ndead > 0) {
    http_dead *d = &c->dead[--c->ndead];
    curl_multi_remove_handle(d->s->multi, d->easy);
    d->s->running--;
    recycle(c, d->easy, 1); /* its callbacks were changed */
  }
}

static void xfer_close(moonlet_io *io) {
  http_xfer *x = (http_xfer *)io;
  moonlet__op_finish(&x->waiter, 0);
  mq_remove(&x->node);
  if (x->easy) {
    if (x->state != XS_DONE) abandon(x->s, x->easy);
    else recycle(x->c, x->easy, x->dirty);
  }
  curl_slist_free_all(x->req_headers);
  free(x->body);
  free(x->head);
  moonlet__io_free(io);
}

/* Collects finished transfers. */
static void check_done(http_shard *s) {
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(s->multi, &left))) {
    http_xfer *x = NULL;
    if (msg->msg != CURLMSG_DONE) continue;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
    if (!x) continue; /* abandoned: on_later removes it */
    x->result = msg->data.result;
    x->state = XS_DONE;
    curl_multi_remove_handle(s->multi, x->easy);
    s->running--;
    notify(x);
  }
}

/* --- sockets and the timer ----------------------------------------------- */

static void client_handle_closed(uv_handle_t *h) {
  http_client *c = h->data;
  if (h != (uv_handle_t *)&c->later) free(h);
  if (--c->handles == 0) moonlet__io_free(&c->io);
}

static void shard_closed(uv_handle_t *h) {
  http_shard *s = h->data;
  http_client *c = s->c;
  free(s);
  if (--c->handles == 0) moonlet__io_free(&c->io);
}

static void sock_close(http_sock *k) {
  http_client *c = k->c;
  if (k->conn && k->fd < c->nbyfd && c->byfd[k->fd] == k) c->byfd[k->fd] = NULL;
  mq_remove(&k->node);
  uv_close((uv_handle_t *)&k->poll, client_handle_closed);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  http_sock *k = (http_sock *)h;
  int flags = 0, running;
  if (k->idle) { /* a pooled connection spoke or closed: curl will see */
    uv_poll_stop(h);
    k->events = 0;
    return;
  }
  if (status < 0) {
    /* POLLERR: libuv has stopped watching and says only UV_EBADF. Let
     * curl do the I/O it waited for and meet the real error itself
     * (ECONNRESET on a kept-alive connection makes it retry on a new
     * one, where CURL_CSELECT_ERR would fail the transfer); it asks for
     * the socket again if it still wants it. */
    events = k->events;
    k->events = 0;
  }
  if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
  if (status < 0 && !flags) flags = CURL_CSELECT_ERR;
  curl_multi_socket_action(k->s->multi, k->fd, flags, &running);
  check_done(k->s);
}

static http_sock *sock_new(http_shard *s, curl_socket_t fd, int conn) {
  http_client *c = s->c;
  http_sock *k = malloc(sizeof *k);
  if (!k) return NULL;
  if (uv_poll_init_socket(c->io.lp->uv, &k->poll, fd) != 0) {
    free(k);
    return NULL;
  }
  k->poll.data = c;
  k->c = c;
  k->s = s;
  k->fd = fd;
  k->events = 0;
  k->conn = conn;
  k->idle = 1;
  c->handles++;
  mq_push(&c->socks, &k->node);
  return k;
}

static curl_socket_t on_open(void *ud, curlsocktype purpose,
                             struct curl_sockaddr *a) {
  http_xfer *x = ud;
  http_client *c = x->c;
  curl_socket_t fd;
  (void)purpose;
  fd = socket(a->family, a->socktype, a->protocol);
  if (fd == CURL_SOCKET_BAD) {
    x->open_errno = errno; /* curl would say only COULDNT_CONNECT */
    return fd;
  }
  if (fd >= c->nbyfd) {
    int n = c->nbyfd ? c->nbyfd : 64, i;
    http_sock **t;
    while (n <= fd) n *= 2;
    if (!(t = realloc(c->byfd, (size_t)n * sizeof *t))) {
      close(fd);
      return CURL_SOCKET_BAD;
    }
    for (i = c->nbyfd; i < n; i++) t[i] = NULL;
    c->byfd = t;
    c->nbyfd = n;
  }
  if (!(c->byfd[fd] = sock_new(x->s, fd, 1))) {
    close(fd);
    return CURL_SOCKET_BAD;
  }
  return fd;
}

static int on_close(void *ud, curl_socket_t fd) {
  http_client *c = ud;
  if (fd < c->nbyfd && c->byfd[fd]) sock_close(c->byfd[fd]);
  return close(fd);
}

/* What every transfer of the client has: set once per easy handle. */
static void configure(http_client *c, CURL *e) {
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  /* Without proxy variables in the environment (looked at once, when the
   * client was made, as Go's client does), curl is told so: it would
   * otherwise read the environment for every transfer. */
  if (!c->env_proxy) {
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_NOPROXY, "");
  }
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_SHARE, c->share);
  curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open);
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_close);
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, c);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  if (c->cookies) curl_easy_setopt(e, CURLOPT_COOKIEFILE, ""); /* engine on */
}

static CURL *new_easy(http_client *c) {
  CURL *e = curl_easy_init();
  if (e) configure(c, e);
  return e;
}

static int on_socket(CURL *e, curl_socket_t fd, int what, void *ud, void *sp) {
  http_shard *s = ud;
  http_client *c = s->c;
  http_sock *k = sp;
  int events = 0;
  (void)e;
  if (!k && fd < c->nbyfd) k = c->byfd[fd];
  if (what == CURL_POLL_REMOVE) {
    if (!k) return 0;
    curl_multi_assign(s->multi, fd, NULL);
    if (k->conn) k->idle = 1; /* watched on, until it speaks or closes */
    else sock_close(k);
    return 0;
  }
  if (!k && !(k = sock_new(s, fd, 0))) return -1;
  if (k->idle) {
    k->idle = 0;
    curl_multi_assign(s->multi, fd, k);
  }
  if (what & CURL_POLL_IN) events |= UV_READABLE;
  if (what & CURL_POLL_OUT) events |= UV_WRITABLE;
  if (events == k->events) return 0;
  k->events = events;
  return uv_poll_start(&k->poll, events, on_poll) == 0 ? 0 : -1;
}

static void on_timer(uv_timer_t *t) {
  http_shard *s = t->data;
  int running;
  curl_multi_socket_action(s->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  check_done(s);
}

static int on_timeout(CURLM *m, long ms, void *ud) {
  http_shard *s = ud;
  (void)m;
  if (ms < 0) uv_timer_stop(&s->timer);
  else {
    uv_update_time(s->timer.loop); /* curl counts from its own clock's now */
    uv_timer_start(&s->timer, on_timer, (uint64_t)ms, 0);
  }
  return 0;
}

/* --- shards -------------------------------------------------------------- */

/* Shard i's share of a limit split over n shards. */
static long share_of(long limit, int i, int n) {
  return limit / n + (i < limit % n);
}

static http_shard *shard_new(http_client *c) {
  int i = c->nshards;
  long max_conn = c->max_conn ? share_of(c->max_conn, i, c->max_shards) : 0;
  long per_host = c->per_host ? share_of(c->per_host, i, c->max_shards) : 0;
  http_shard *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  if (!(s->multi = curl_multi_init())) {
    free(s);
    return NULL;
  }
  s->c = c;
  /* Room: SHARD_SIZE, or less by its share of the limits (a shard full of
   * transfers to one host then runs them all, none waiting while another
   * has room). With limits above MAX_SHARDS shards' worth, the shards take
   * SHARD_SIZE each first and the rest spread evenly, within their shares. */
  s->room = SHARD_SIZE;
  if (max_conn && max_conn < s->room) s->room = (int)max_conn;
  if (per_host && per_host < s->room) s->room = (int)per_host;
  curl_multi_setopt(s->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(s->multi, CURLMOPT_SOCKETDATA, s);
  curl_multi_setopt(s->multi, CURLMOPT_TIMERFUNCTION, on_timeout);
  curl_multi_setopt(s->multi, CURLMOPT_TIMERDATA, s);
  curl_multi_setopt(s->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, max_conn);
  curl_multi_setopt(s->multi, CURLMOPT_MAX_HOST_CONNECTIONS, per_host);
  if (max_conn > 0) curl_multi_setopt(s->multi, CURLMOPT_MAXCONNECTS, max_conn);
  uv_timer_init(c->io.lp->uv, &s->timer);
  s->timer.data = s;
  c->handles++;
  c->shards[c->nshards++] = s;
  return s;
}

/* Where a new transfer runs: the first shard with room, so that a client
 * with fewer than SHARD_SIZE transfers at a time keeps one pool and reuses
 * every connection; a new shard when all are full; else the one with the
 * fewest transfers beyond its room (curl queues them there). A client's
 * limits are split between the shards it may open, so together they keep
 * them. */
static http_shard *pick_shard(http_client *c) {
  http_shard *best = NULL, *s;
  int i;
  for (i = 0; i < c->nshards; i++) {
    s = c->shards[i];
    if (s->running < s->room) return s;
    if (!best || s->running - s->room < best->running - best->room) best = s;
  }
  if (c->nshards < c->max_shards && (s = shard_new(c))) return s;
  return best;
}

static void shard_close(http_shard *s) {
  /* Our polls are closed by the client, not from inside curl's cleanup. */
  curl_multi_setopt(s->multi, CURLMOPT_SOCKETFUNCTION, NULL);
  curl_multi_cleanup(s->multi);
  uv_close((uv_handle_t *)&s->timer, shard_closed);
}

/* --- the client ---------------------------------------------------------- */

static void load_cookies(http_client *c) {
  CURL *e = curl_easy_init();
  if (!e) return;
  curl_easy_setopt(e, CURLOPT_SHARE, c->share);
  curl_easy_setopt(e, CURLOPT_COOKIEFILE, c->cookie_file);
  curl_easy_setopt(e, CURLOPT_COOKIELIST, "RELOAD");
  curl_easy_cleanup(e);
}

static void save_cookies(http_client *c) {
  CURL *e = curl_easy_init();
  if (!e) return;
  curl_easy_setopt(e, CURLOPT_SHARE, c->share);
  curl_easy_setopt(e, CURLOPT_COOKIEJAR, c->cookie_file);
  curl_easy_cleanup(e); /* writes the jar */
}

static void client_close(moonlet_io *io) {
  http_client *c = (http_client *)io;
  mqueue *q;
  while ((q = c->xfers.next) != &c->xfers)
    moonlet__io_close(&mq_data(q, http_xfer, node)->io);
  bury_dead(c);
  free(c->dead);
  c->dead = NULL;
  while (c->nidle > 0) curl_easy_cleanup(c->idle[--c->nidle]);
  while (c->nshards > 0) shard_close(c->shards[--c->nshards]);
  if (c->cookie_file) save_cookies(c);
  if (c->share) curl_share_cleanup(c->share);
  free(c->cookie_file);
  curl_slist_free_all(c->ua_list); /* no handle is left to send it */
  c->ua_list = NULL;
  free(c->ua);
  c->ua = NULL;
  while ((q = c->socks.next) != &c->socks) sock_close(mq_data(q, http_sock, node));
  free(c->byfd);
  c->byfd = NULL;
  c->nbyfd = 0;
  uv_close((uv_handle_t *)&c->later, client_handle_closed);
}

static http_client *check_client(lua_State *L, int idx) {
  return (http_client *)moonlet__io_check(L, idx, MOONLET_MT_HTTP_CLIENT);
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;
static void init_curl(void) { curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT); }

/* curl_version_info fills static tables on its first call without a lock:
 * two instances opened at once on two threads raced there. */
static pthread_once_t version_once = PTHREAD_ONCE_INIT;
static const char *curl_version_string;
static void init_version(void) {
  curl_version_string = curl_version_info(CURLVERSION_NOW)->version;
}

/* Raises unless libcurl could be loaded (it is, the first time). */
static void need_curl(lua_State *L) {
  const char *failed = moonlet__curl_load();
  if (failed) luaL_error(L, "moonlet.http: %s", failed);
}

/* _http.curl_version() -> "libcurl/x.y.z". (curl_version() would
 * initialise LDAP and SASL, which never free.) */
static int l_curl_version(lua_State *L) {
  need_curl(L);
  pthread_once(&version_once, init_version);
  lua_pushfstring(L, "libcurl/%s", curl_version_string);
  return 1;
}

/* Whether the environment names a proxy, or hosts not to proxy, for
 * the schemes a client speaks (curl's variables). */
static int env_proxy(void) {
  static const char *const names[] = {"http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy",
                                      "ALL_PROXY", "no_proxy", "NO_PROXY"};
  size_t i;
  for (i = 0; i < sizeof names / sizeof names[0]; i++)
    if (getenv(names[i])) return 1;
  return 0;
}

/* _client{max_connections=, max_per_host=, cookies=true|path} */
static int l_client(lua_State *L) {
  moonlet_loop *lp = moonlet__loop(L);
  lua_Integer max_conn = moonlet__opt_int(L, 1, "max_connections", 0);
  lua_Integer per_host = moonlet__opt_int(L, 1, "max_per_host", 0);
  const char *cookie_file = NULL;
  int cookies = 0;
  http_client *c;
  luaL_argcheck(L, max_conn >= 0, 1, "option 'max_connections' must not be negative");
  luaL_argcheck(L, per_host >= 0, 1, "option 'max_per_host' must not be negative");
  if (lua_istable(L, 1)) {
    lua_getfield(L, 1, "cookies");
    if (lua_type(L, -1) == LUA_TSTRING) cookie_file = lua_tostring(L, -1), cookies = 1;
    else cookies = lua_toboolean(L, -1);
  }
  need_curl(L);
  pthread_once(&curl_once, init_curl);
  if (curl_init_result != CURLE_OK) return luaL_error(L, "curl_global_init failed");
  moonlet__io_reserve(L);
  if (!(c = calloc(1, sizeof *c))) return luaL_error(L, "not enough memory");
  mq_init(&c->socks);
  mq_init(&c->xfers);
  c->env_proxy = env_proxy();
  c->share = curl_share_init();
  if (cookie_file) c->cookie_file = strdup(cookie_file);
  if (!c->share || (cookie_file && !c->cookie_file)) {
    if (c->share) curl_share_cleanup(c->share);
    free(c->cookie_file);
    free(c);
    return luaL_error(L, "not enough memory");
  }
  curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  /* The shared jar is every transfer's cookie engine. */
  c->cookies = cookies;
  if (cookies) curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_COOKIE);
  if (c->cookie_file) load_cookies(c);
  curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  c->max_conn = (long)max_conn;
  c->per_host = (long)per_host;
  c->max_shards = MAX_SHARDS;
  if (max_conn > 0 && (max_conn + SHARD_SIZE - 1) / SHARD_SIZE < c->max_shards)
    c->max_shards = (int)((max_conn + SHARD_SIZE - 1) / SHARD_SIZE);
  if (per_host > 0 && (per_host + SHARD_SIZE - 1) / SHARD_SIZE < c->max_shards)
    c->max_shards = (int)((per_host + SHARD_SIZE - 1) / SHARD_SIZE);
  uv_timer_init(lp->uv, &c->later);
  c->later.data = c;
  c->handles = 1;
  c->io.close = client_close;
  moonlet__io_fill(L, lp, &c->io, MOONLET_MT_HTTP_CLIENT);
  if (!shard_new(c)) return luaL_error(L, "not enough memory");
  return 1;
}

/* --- starting a transfer ------------------------------------------------- */

/* A string field of the request table (NULL when absent). Only real
 * strings: the table keeps them alive after the pop, which a number
 * converted here would not be. */
static const char *opt_string(lua_State *L, int idx, const char *k) {
  const char *s = NULL;
  int t = lua_getfield(L, idx, k);
  if (t == LUA_TSTRING) s = lua_tostring(L, -1);
  else if (t != LUA_TNIL) luaL_error(L, "option '%s' must be a string", k);
  lua_pop(L, 1);
  return s;
}

/* A string argument or nil. */
static const char *arg_string(lua_State *L, int idx, const char *k) {
  int t = lua_type(L, idx);
  if (t == LUA_TSTRING) return lua_tostring(L, idx);
  if (t != LUA_TNIL && t != LUA_TNONE) luaL_error(L, "option '%s' must be a string", k);
  return NULL;
}

static void add_header(lua_State *L, struct curl_slist **list, const char *line) {
  struct curl_slist *l = curl_slist_append(*list, line);
  if (!l) luaL_error(L, "not enough memory");
  *list = l;
}

/* The User-Agent goes out as a header line of the request's list, not
 * through CURLOPT_USERAGENT, for which curl formats a header character by
 * character on every transfer (8.4k instructions of a 2 KB GET's 99k; as a
 * line, 3.3k less). A request without header lines of its own sends the
 * client's first User-Agent from a list kept until the client closes.
 * Through a proxy, curl's option is kept: it also goes to CONNECT, which
 * header lines do not; so is an empty one. ua: NULL when the request's
 * lines have their own. */
static void set_user_agent(lua_State *L, http_xfer *x, const char *ua, int proxied) {
  http_client *c = x->c;
  CURL *e = x->easy;
  if (!ua || !*ua || proxied) {
    curl_easy_setopt(e, CURLOPT_USERAGENT, ua);
    return;
  }
  curl_easy_setopt(e, CURLOPT_USERAGENT, NULL);
  if (!x->req_headers && !c->ua) {
    struct curl_slist *list = NULL;
    lua_pushfstring(L, "User-Agent: %s", ua);
    add_header(L, &list, lua_tostring(L, -1));
    lua_pop(L, 1);
    if (!(c->ua = strdup(ua))) {
      curl_slist_free_all(list);
      luaL_error(L, "not enough memory");
    }
    c->ua_list = list;
  }
  if (!x->req_headers && strcmp(ua, c->ua) == 0) {
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->ua_list);
    return;
  }
  lua_pushfstring(L, "User-Agent: %s", ua);
  add_header(L, &x->req_headers, lua_tostring(L, -1));
  lua_pop(L, 1);
}

/* Whether the table at idx has anything in it (a plain get's has not:
 * its options are all defaults, and none is looked up). */
static int has_options(lua_State *L, int idx) {
  lua_pushnil(L);
  if (!lua_next(L, idx)) return 0;
  lua_pop(L, 2);
  return 1;
}

/* Stack: client, request, then what moonlet/http.lua worked out from it:
 * url, method, header lines, body, timeout, connect_timeout, user_agent,
 * max_body, decompress (3..11). The other options come from the request
 * table, when it has any (opts). */
static void setup_easy(lua_State *L, http_xfer *x, int opts) {
  enum { req = 2 };
  CURL *e = x->easy;
  const char *url = arg_string(L, 3, "url");
  const char *method = arg_string(L, 4, "method");
  const char *s;
  size_t body_len = 0;
  const char *body;
  lua_Integer max_redirects = opts ? moonlet__opt_int(L, req, "max_redirects", 10) : 10;
  uint64_t timeout = moonlet__check_timeout(L, 7);
  uint64_t connect_timeout = moonlet__check_timeout_as(L, 8, "connect_timeout");
  lua_Integer i, n;
  int dirty = 0, proxied = 0;
  const char *ua;
  x->dirty = 1; /* until every option is set: setup may raise midway */

  /* The handle is configured (configure): what follows is set for every
   * request, or marks the handle dirty. */
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)x);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
  curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, x);

  x->follow = opts ? moonlet__opt_bool(L, req, "follow", 1) : 1;
  if (!lua_isnil(L, 10) && !(lua_isinteger(L, 10) && lua_tointeger(L, 10) > 0))
    luaL_error(L, "max_body must be a positive integer"); /* a client's field set wrong */
  x->max_body = lua_isinteger(L, 10) ? (uint64_t)lua_tointeger(L, 10) : 0;
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, (long)x->follow);
  curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)max_redirects);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)connect_timeout);
  ua = arg_string(L, 9, "user_agent");
  if (ua) {
    size_t ua_len;
    lua_tolstring(L, 9, &ua_len);
    if (strlen(ua) != ua_len || strpbrk(ua, "\r\n"))
      luaL_error(L, "option 'user_agent' contains NUL, CR or LF");
  }
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, lua_toboolean(L, 11) ? "" : NULL);
  if (opts && !moonlet__opt_bool(L, req, "verify", 1)) {
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    dirty = 1;
  }
  if (opts && (s = opt_string(L, req, "ca_file"))) {
    curl_easy_setopt(e, CURLOPT_CAINFO, s);
    dirty = 1;
  }
  if (opts && (s = opt_string(L, req, "proxy"))) {
    curl_easy_setopt(e, CURLOPT_PROXY, s);
    dirty = proxied = 1;
  }
  if (opts) lua_getfield(L, req, "http2");
  else lua_pushnil(L);
  if (lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "prior") == 0)
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
  else if (lua_isboolean(L, -1) && !lua_toboolean(L, -1))
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
  else
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
  lua_pop(L, 1);
  /* Over TLS, wait for a connection being made to say whether it can
   * multiplex (HTTP/2) before opening more; plain HTTP/1.1 never can. */
  if (strncasecmp(url, "https:", 6) == 0) {
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    dirty = 1;
  }

  body = lua_type(L, 6) == LUA_TSTRING ? lua_tolstring(L, 6, &body_len) : NULL;
  if (method && strcmp(method, "HEAD") == 0) {
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    dirty = 1;
  } else if (body) {
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, body);
    dirty = 1;
  }
  if (method && strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 &&
      !(body && strcmp(method, "POST") == 0)) {
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    dirty = 1;
  }

  /* headers: a list {"Name: value", ...} or nil */
  n = lua_istable(L, 5) ? (lua_Integer)lua_rawlen(L, 5) : 0;
  for (i = 1; i <= n; i++) {
    const char *line;
    lua_rawgeti(L, 5, i);
    line = luaL_checkstring(L, -1);
    if (strncasecmp(line, "User-Agent", 10) == 0 && (line[10] == ':' || line[10] == ';')) ua = NULL;
    add_header(L, &x->req_headers, line);
    lua_pop(L, 1);
  }
  set_user_agent(L, x, ua, proxied || x->c->env_proxy);
  if (x->req_headers) curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->req_headers);
  x->dirty = dirty;
}

static int push_curl_error(lua_State *L, http_xfer *x);

static const moonlet_retry perform_retry;

/* For task dumps: the URL of the transfer. */
static void describe_xfer(lua_State *L, moonlet_io *io) {
  http_xfer *x = (http_xfer *)io;
  char *url = NULL;
  if (x->easy && curl_easy_getinfo(x->easy, CURLINFO_EFFECTIVE_URL, &url) == CURLE_OK &&
      url) {
    lua_pushstring(L, url);
    lua_setfield(L, -2, "url");
  }
}

/* A cancelled request ends its transfer at once. */
static void perform_abandon(moonlet_op *op) {
  http_xfer *x = (http_xfer *)((char *)op - offsetof(http_xfer, waiter));
  moonlet__io_close(&x->io);
}

/* Stack: client, request, transfer. Waits for what the transfer's mode
 * needs before the caller gets it back. */
static int perform_step(lua_State *L, void *obj) {
  http_xfer *x = obj;
  x->want = x->stream ? WANT_HEADERS : WANT_DONE;
  if (x->state == XS_DONE && x->result != CURLE_OK) {
    int n = push_curl_error(L, x);
    moonlet__io_close(&x->io);
    return n;
  }
  if (x->state == XS_DONE || (x->stream && x->state >= XS_HEADERS)) {
    lua_settop(L, 3);
    return 1;
  }
  return moonlet__op_retry(L, x->io.lp, &x->waiter, 0, &perform_retry);
}

static const moonlet_retry perform_retry = {
    "http request", perform_step, 3, "transfer already awaited",
    "client closed during the request", perform_abandon};

/* client:_perform(request, url, method, headers, body, timeout,
 *                  connect_timeout, user_agent, max_body, decompress)
 *   -> transfer (with its headers; with its whole body unless streamed)
 *   | nil, message, code ("BAD_URL": a URL that libcurl would cut short at
 *   a NUL, or that would split the request line at a CR or LF) */
static int l_perform(lua_State *L) {
  http_client *c = check_client(L, 1);
  moonlet_loop *lp = c->io.lp;
  http_xfer *x;
  CURLMcode mc;
  int opts;
  luaL_checktype(L, 2, LUA_TTABLE);
  moonlet__checkpoint(L, lp);
  lua_settop(L, 11);
  if (!arg_string(L, 3, "url")) return luaL_error(L, "request has no url");
  {
    size_t len;
    const char *url = lua_tolstring(L, 3, &len);
    if (memchr(url, '\0', len) || memchr(url, '\r', len) || memchr(url, '\n', len)) {
      lua_pushnil(L);
      lua_pushliteral(L, "URL contains NUL, CR or LF");
      lua_pushliteral(L, "BAD_URL");
      return 3;
    }
  }
  moonlet__io_reserve(L);
  if (!(x = calloc(1, sizeof *x))) return luaL_error(L, "not enough memory");
  x->c = c;
  x->s = pick_shard(c);
  x->io.close = xfer_close;
  x->io.describe = describe_xfer;
  mq_push(&c->xfers, &x->node);
  x->easy = c->nidle > 0 ? c->idle[--c->nidle] : new_easy(c);
  moonlet__io_fill(L, lp, &x->io, MOONLET_MT_HTTP_XFER);
  if (!x->easy) return luaL_error(L, "not enough memory");
  opts = has_options(L, 2);
  x->stream = opts ? moonlet__opt_bool(L, 2, "stream", 0) : 0;
  x->state = XS_DONE; /* not in the multi handle until added */
  setup_easy(L, x, opts);
  lua_replace(L, 3); /* the transfer, where perform_step keeps it */
  lua_settop(L, 3);
  if ((mc = curl_multi_add_handle(x->s->multi, x->easy)) != CURLM_OK)
    return luaL_error(L, "curl_multi_add_handle: %s", curl_multi_strerror(mc));
  x->s->running++;
  x->state = XS_RUNNING;
  return perform_step(L, x);
}

/* --- results ------------------------------------------------------------- */

static const struct { CURLcode code; const char *name; } curl_names[] = {
    {CURLE_UNSUPPORTED_PROTOCOL, "UNSUPPORTED_PROTOCOL"},
    {CURLE_URL_MALFORMAT, "URL_MALFORMAT"},
    {CURLE_COULDNT_RESOLVE_PROXY, "COULDNT_RESOLVE_PROXY"},
    {CURLE_COULDNT_RESOLVE_HOST, "COULDNT_RESOLVE_HOST"},
    {CURLE_COULDNT_CONNECT, "COULDNT_CONNECT"},
    {CURLE_WEIRD_SERVER_REPLY, "WEIRD_SERVER_REPLY"},
    {CURLE_HTTP2, "HTTP2"},
    {CURLE_PARTIAL_FILE, "PARTIAL_FILE"},
    {CURLE_HTTP_RETURNED_ERROR, "HTTP_RETURNED_ERROR"},
    {CURLE_WRITE_ERROR, "WRITE_ERROR"},
    {CURLE_READ_ERROR, "READ_ERROR"},
    {CURLE_OUT_OF_MEMORY, "OUT_OF_MEMORY"},
    {CURLE_OPERATION_TIMEDOUT, "ETIMEDOUT"},
    {CURLE_RANGE_ERROR, "RANGE_ERROR"},
    {CURLE_HTTP_POST_ERROR, "HTTP_POST_ERROR"},
    {CURLE_SSL_CONNECT_ERROR, "SSL_CONNECT_ERROR"},
    {CURLE_ABORTED_BY_CALLBACK, "ABORTED_BY_CALLBACK"},
    {CURLE_TOO_MANY_REDIRECTS, "TOO_MANY_REDIRECTS"},
    {CURLE_GOT_NOTHING, "GOT_NOTHING"},
    {CURLE_SSL_ENGINE_NOTFOUND, "SSL_ENGINE_NOTFOUND"},
    {CURLE_SEND_ERROR, "SEND_ERROR"},
    {CURLE_RECV_ERROR, "RECV_ERROR"},
    {CURLE_SSL_CERTPROBLEM, "SSL_CERTPROBLEM"},
    {CURLE_SSL_CIPHER, "SSL_CIPHER"},
    {CURLE_PEER_FAILED_VERIFICATION, "PEER_FAILED_VERIFICATION"},
    {CURLE_BAD_CONTENT_ENCODING, "BAD_CONTENT_ENCODING"},
    {CURLE_FILESIZE_EXCEEDED, "FILESIZE_EXCEEDED"},
    {CURLE_SSL_CACERT_BADFILE, "SSL_CACERT_BADFILE"},
    {CURLE_SSL_SHUTDOWN_FAILED, "SSL_SHUTDOWN_FAILED"},
    {CURLE_AGAIN, "AGAIN"},
    {CURLE_HTTP2_STREAM, "HTTP2_STREAM"},
    {CURLE_PROXY, "PROXY"},
    {CURLE_SSL_CLIENTCERT, "SSL_CLIENTCERT"},
};

static int push_curl_error(lua_State *L, http_xfer *x) {
  size_t i;
  const char *name = NULL;
  if (x->result == CURLE_COULDNT_CONNECT &&
      (x->open_errno == EMFILE || x->open_errno == ENFILE))
    return moonlet__push_failure(L, uv_translate_sys_error(x->open_errno), NULL);
  if (x->too_large) {
    lua_pushfstring(L, "response body larger than max_body (%I bytes)",
                    (lua_Integer)x->max_body);
    return moonlet__push_error(L, "max_body", lua_tostring(L, -1));
  }
  for (i = 0; i < sizeof curl_names / sizeof curl_names[0]; i++)
    if (curl_names[i].code == x->result) name = curl_names[i].name;
  if (!name) name = lua_pushfstring(L, "CURLE_%d", (int)x->result);
  return moonlet__push_error(
      L, name, x->errbuf[0] ? x->errbuf : curl_easy_strerror(x->result));
}

static http_xfer *check_xfer(lua_State *L, int idx) {
  return (http_xfer *)moonlet__io_check(L, idx, MOONLET_MT_HTTP_XFER);
}

/* The strings a response table is made of, made once per Lua state (in
 * the registry, at &response_keys). */
static char response_keys;
enum {
  RK_STATUS = 1, RK_OK, RK_HTTP_VERSION, RK_URL, RK_REDIRECTS, RK_ELAPSED, RK_HEAD,
  RK_IP, RK_BODY, RK_V10, RK_V11, RK_V2, RK_V3, RK_EMPTY, RK_N
};
static const char *const response_key_names[RK_N] = {
  NULL, "status", "ok", "http_version", "url", "redirects", "elapsed", "_head",
  "ip", "body", "1.0", "1.1", "2", "3", ""
};

/* Pushes the table of those strings. */
static void push_response_keys(lua_State *L) {
  int k;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &response_keys) == LUA_TTABLE) return;
  lua_pop(L, 1);
  lua_createtable(L, RK_N - 1, 0);
  for (k = 1; k < RK_N; k++) {
    lua_pushstring(L, response_key_names[k]);
    lua_rawseti(L, -2, k);
  }
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &response_keys);
}

/* transfer:response(whole) -> {status=, ok=, http_version=, url=,
 * redirects=, elapsed=, ip=, _head=, and body= when whole}: the response
 * table moonlet/http.lua gives out; whole takes the body buffered. */
static int x_response(lua_State *L) {
  http_xfer *x = check_xfer(L, 1);
  int whole = lua_toboolean(L, 2), keys, version_key;
  long code = 0, redirects = 0, version = 0;
  char *url = NULL, *ip = NULL;
  curl_off_t us = 0;
  curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_getinfo(x->easy, CURLINFO_REDIRECT_COUNT, &redirects);
  curl_easy_getinfo(x->easy, CURLINFO_HTTP_VERSION, &version);
  curl_easy_getinfo(x->easy, CURLINFO_EFFECTIVE_URL, &url);
  curl_easy_getinfo(x->easy, CURLINFO_PRIMARY_IP, &ip);
  curl_easy_getinfo(x->easy, CURLINFO_TOTAL_TIME_T, &us);
  lua_settop(L, 2);
  push_response_keys(L);
  keys = lua_gettop(L);
  version_key = version == CURL_HTTP_VERSION_2_0 ? RK_V2
              : version == CURL_HTTP_VERSION_3 ? RK_V3
              : version == CURL_HTTP_VERSION_1_0 ? RK_V10 : RK_V11;
  lua_createtable(L, 0, 10); /* room for headers and reason, made on use */
#define KEY(k) lua_rawgeti(L, keys, (k))
#define SET() lua_rawset(L, -3)
  KEY(RK_STATUS); lua_pushinteger(L, code); SET();
  KEY(RK_OK); lua_pushboolean(L, code >= 200 && code < 300); SET();
  KEY(RK_HTTP_VERSION); KEY(version_key); SET();
  KEY(RK_URL);
  if (url) lua_pushstring(L, url); else KEY(RK_EMPTY);
  SET();
  KEY(RK_REDIRECTS); lua_pushinteger(L, redirects); SET();
  KEY(RK_ELAPSED); lua_pushnumber(L, (lua_Number)us / 1e6); SET();
  KEY(RK_HEAD); lua_pushlstring(L, x->head ? x->head : "", x->head_len); SET();
  KEY(RK_IP);
  if (ip) lua_pushstring(L, ip); else KEY(RK_EMPTY);
  SET();
  if (whole) {
    KEY(RK_BODY);
    lua_pushlstring(L, x->body ? x->body : "", x->body_len);
    x->body_len = 0;
    SET();
  }
#undef KEY
#undef SET
  return 1;
}

static void on_later(uv_timer_t *t) {
  http_client *c = t->data;
  mqueue *q;
  int i;
  bury_dead(c);
  for (q = c->xfers.next; q != &c->xfers; q = q->next) {
    http_xfer *x = mq_data(q, http_xfer, node);
    if (!x->resume) continue;
    x->resume = 0;
    if (x->paused && x->state != XS_DONE) {
      x->paused = 0;
      curl_easy_pause(x->easy, CURLPAUSE_CONT); /* may deliver at once */
    }
  }
  for (i = 0; i < c->nshards; i++) check_done(c->shards[i]);
}

/* Stack: transfer, max. */
static const moonlet_retry read_retry;

static int read_step(lua_State *L, void *obj) {
  http_xfer *x = obj;
  size_t max = (size_t)luaL_optinteger(L, 2, (lua_Integer)STREAM_LIMIT);
  if (x->body_len > 0) {
    size_t n = x->body_len < max ? x->body_len : max;
    lua_pushlstring(L, x->body, n);
    memmove(x->body, x->body + n, x->body_len - n);
    x->body_len -= n;
    if (x->paused && x->state != XS_DONE && x->body_len < STREAM_LIMIT &&
        !x->resume) {
      /* Not here: unpausing runs the transfer (TLS, HTTP/2) at once, which
       * belongs on the loop's stack, not a task's. */
      x->resume = 1;
      uv_timer_start(&x->c->later, on_later, 0, 0);
    }
    return 1;
  }
  if (x->state == XS_DONE) {
    if (x->result != CURLE_OK) return push_curl_error(L, x);
    lua_pushnil(L);
    return 1;
  }
  x->want = WANT_DATA;
  return moonlet__op_retry(L, x->io.lp, &x->waiter, 0, &read_retry);
}

static const moonlet_retry read_retry = {
    "http read", read_step, 1, "response is already being read by another task",
    "response closed while reading", NULL};

/* transfer:read([max]) -> the next bytes of the body (at most max), nil at
 * its end, or nil, message, code */
static int x_read(lua_State *L) {
  http_xfer *x = check_xfer(L, 1);
  luaL_argcheck(L, luaL_optinteger(L, 2, 1) > 0, 2, "size must be positive");
  moonlet__checkpoint(L, x->io.lp);
  lua_settop(L, 2);
  return read_step(L, x);
}

/* --- URLs ---------------------------------------------------------------- */

static void set_part(lua_State *L, CURLU *u, CURLUPart part, const char *k) {
  char *v = NULL;
  if (curl_url_get(u, part, &v, 0) == CURLUE_OK && v) {
    lua_pushstring(L, v);
    lua_setfield(L, -2, k);
  }
  curl_free(v);
}

/* Host names are case-insensitive: one spelling per host. */
static void lowercase_host(CURLU *u) {
  char *host = NULL, *p;
  if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host) return;
  for (p = host; *p; p++)
    if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
  curl_url_set(u, CURLUPART_HOST, host, 0);
  curl_free(host);
}

/* url(s [, relative]) -> {url=, scheme=, host=, port=, path=, query=}
 * with relative resolved against s and any fragment dropped, or nil,
 * message for a malformed URL. */
static int l_url(lua_State *L) {
  const char *base = luaL_checkstring(L, 1);
  const char *rel = luaL_optstring(L, 2, NULL);
  CURLU *u;
  need_curl(L);
  u = curl_url();
  CURLUcode rc;
  char *port = NULL;
  if (!u) return luaL_error(L, "not enough memory");
  rc = curl_url_set(u, CURLUPART_URL, base, CURLU_NON_SUPPORT_SCHEME);
  /* curl 7.88 resolves "#frag" like a relative path ("a/b" + "#x" gives
   * "a/"); a fragment or nothing names the base itself. */
  if (rc == CURLUE_OK && rel && rel[0] != '#' && rel[0] != '\0')
    rc = curl_url_set(u, CURLUPART_URL, rel, CURLU_NON_SUPPORT_SCHEME);
  if (rc != CURLUE_OK) {
    curl_url_cleanup(u);
    lua_pushnil(L);
    lua_pushstring(L, curl_url_strerror(rc));
    return 2;
  }
  curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
  lowercase_host(u);
  lua_createtable(L, 0, 6);
  set_part(L, u, CURLUPART_URL, "url");
  set_part(L, u, CURLUPART_SCHEME, "scheme");
  set_part(L, u, CURLUPART_HOST, "host");
  set_part(L, u, CURLUPART_PATH, "path");
  set_part(L, u, CURLUPART_QUERY, "query");
  if (curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK && port) {
    lua_pushinteger(L, atoi(port));
    lua_setfield(L, -2, "port");
  }
  curl_free(port);
  curl_url_cleanup(u);
  return 1;
}

void moonlet__open_http(lua_State *L, moonlet_loop *lp) {
  static const luaL_Reg client_methods[] = {{"_perform", l_perform}, {NULL, NULL}};
  static const luaL_Reg xfer_methods[] = {
      {"response", x_response}, {"read", x_read}, {NULL, NULL}};
  static const luaL_Reg funcs[] = {
      {"client", l_client}, {"url", l_url}, {"curl_version", l_curl_version}, {NULL, NULL}};
  moonlet__io_newmt(L, lp, MOONLET_MT_HTTP_CLIENT, "moonlet.http_client", client_methods);
  moonlet__io_newmt(L, lp, MOONLET_MT_HTTP_XFER, "moonlet.http_response", xfer_methods);
  lua_newtable(L);
  moonlet__setfuncs(L, lp, funcs);

  lua_setfield(L, -2, "_http");
}
