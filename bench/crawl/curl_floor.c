/*
 * The crawl benchmark's floor for any client built on libcurl: N distinct
 * URLs through `conc` easy handles, in C, with nothing above curl but
 * epoll (no event library, no scripting): curl's socket interface, as
 * event-driven programs use it. Each handle is reused for its next URL, so
 * connections stay in its multi handle's pool. As moonlet's client, the
 * handles are spread over one multi handle per SHARD_SIZE of them (curl
 * 7.x walks a pool's connections to the host for each transfer). Prints
 * its wall and CPU time like the other clients.
 *   curl-floor BASE N CONC
 */
#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define SHARD_SIZE 64

typedef struct shard {
  CURLM *m;
  double deadline;  /* curl's timeout, in now()'s seconds: -1 none */
} shard;

typedef struct slot {
  CURL *e;
  shard *sh;    /* the multi handle the easy handle runs in */
  long i;       /* the page this handle is fetching */
  char body[4096];
  size_t len;   /* may exceed sizeof body: only counted beyond it */
} slot;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double cpu(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int ep;               /* the epoll instance */
static shard *shards;

/* curl says which sockets to watch for what; ud is the shard. */
static int on_socket(CURL *e, curl_socket_t fd, int what, void *ud, void *known) {
  shard *sh = ud;
  struct epoll_event ev;
  (void)e;
  if (what == CURL_POLL_REMOVE) {
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    curl_multi_assign(sh->m, fd, NULL);
    return 0;
  }
  memset(&ev, 0, sizeof ev);
  ev.data.u64 = (uint64_t)(uint32_t)fd | (uint64_t)(sh - shards) << 32;
  ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0);
  if (known) {
    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
  } else {
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    curl_multi_assign(sh->m, fd, &ep); /* any non-NULL mark */
  }
  return 0;
}

static int on_timer(CURLM *m, long ms, void *ud) {
  shard *sh = ud;
  (void)m;
  sh->deadline = ms < 0 ? -1 : now() + (double)ms / 1e3;
  return 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
  slot *s = ud;
  size_t k = size * n;
  if (s->len < sizeof s->body)
    memcpy(s->body + s->len, p, k < sizeof s->body - s->len ? k : sizeof s->body - s->len);
  s->len += k;
  return k;
}

static void start(slot *s, const char *base, long i) {
  char url[512];
  snprintf(url, sizeof url, "%s/p/%ld", base, i);
  s->i = i;
  s->len = 0;
  curl_easy_setopt(s->e, CURLOPT_URL, url); /* curl copies it */
  curl_multi_add_handle(s->sh->m, s->e);
}

/* 1 when the response is the page asked for: 200, 2 KB, its path first. */
static int good(slot *s) {
  long status = 0;
  char want[64];
  int n = snprintf(want, sizeof want, "page /p/%ld ", s->i);
  curl_easy_getinfo(s->e, CURLINFO_RESPONSE_CODE, &status);
  return status == 200 && s->len == 2048 && memcmp(s->body, want, (size_t)n) == 0;
}

int main(int argc, char **argv) {
  const char *base;
  long n, conc, next = 0, done = 0, bad = 0, k, nshards;
  slot *slots;
  double t0, c0;
  if (argc != 4) {
    fprintf(stderr, "usage: curl-floor BASE N CONC\n");
    return 2;
  }
  base = argv[1];
  n = atol(argv[2]);
  conc = atol(argv[3]);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  ep = epoll_create1(0);
  nshards = (conc + SHARD_SIZE - 1) / SHARD_SIZE;
  shards = calloc((size_t)nshards, sizeof *shards);
  for (k = 0; k < nshards; k++) {
    CURLM *m = shards[k].m = curl_multi_init();
    shards[k].deadline = -1;
    curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, conc / nshards + (k < conc % nshards));
    curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(m, CURLMOPT_SOCKETDATA, &shards[k]);
    curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(m, CURLMOPT_TIMERDATA, &shards[k]);
  }
  slots = calloc((size_t)conc, sizeof *slots);
  t0 = now();
  c0 = cpu();
  for (k = 0; k < conc && next < n; k++) {
    slots[k].e = curl_easy_init();
    curl_easy_setopt(slots[k].e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(slots[k].e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(slots[k].e, CURLOPT_WRITEDATA, &slots[k]);
    curl_easy_setopt(slots[k].e, CURLOPT_PRIVATE, &slots[k]);
    slots[k].sh = &shards[k % nshards];
    start(&slots[k], base, ++next);
  }
  while (done < n) {
    struct epoll_event evs[64];
    int running, left, k2, got;
    double first = -1, t;
    CURLMsg *msg;
    for (k = 0; k < nshards; k++)
      if (shards[k].deadline >= 0 && (first < 0 || shards[k].deadline < first))
        first = shards[k].deadline;
    t = first < 0 ? 1000 : (first - now()) * 1e3;
    got = epoll_wait(ep, evs, 64, t < 0 ? 0 : (int)t);
    for (k2 = 0; k2 < got; k2++) {
      int ev = ((evs[k2].events & EPOLLIN) ? CURL_CSELECT_IN : 0) |
               ((evs[k2].events & EPOLLOUT) ? CURL_CSELECT_OUT : 0) |
               ((evs[k2].events & (EPOLLERR | EPOLLHUP)) ? CURL_CSELECT_ERR : 0);
      curl_multi_socket_action(shards[evs[k2].data.u64 >> 32].m,
                               (curl_socket_t)(uint32_t)evs[k2].data.u64, ev, &running);
    }
    if (first >= 0 && first <= now())
      for (k = 0; k < nshards; k++)
        if (shards[k].deadline >= 0 && shards[k].deadline <= now()) {
          shards[k].deadline = -1;
          curl_multi_socket_action(shards[k].m, CURL_SOCKET_TIMEOUT, 0, &running);
        }
    for (k = 0; k < nshards; k++)
      while ((msg = curl_multi_info_read(shards[k].m, &left))) {
        slot *s;
        if (msg->msg != CURLMSG_DONE) continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
        if (msg->data.result != CURLE_OK || !good(s)) bad++;
        done++;
        curl_multi_remove_handle(s->sh->m, s->e);
        if (next < n) start(s, base, ++next);
      }
  }
  printf("ok %ld bad %ld wall %.4f cpu %.4f\n", n - bad, bad, now() - t0, cpu() - c0);
  for (k = 0; k < conc; k++)
    if (slots[k].e) curl_easy_cleanup(slots[k].e);
  free(slots);
  for (k = 0; k < nshards; k++) curl_multi_cleanup(shards[k].m);
  free(shards);
  curl_global_cleanup();
  close(ep);
  return bad != 0;
}
