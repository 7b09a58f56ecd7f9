/*
 * buf.h - small helpers for malloc'd bytes.
 */
#ifndef MOONLET_BUF_H
#define MOONLET_BUF_H

#include <stdlib.h>
#include <string.h>

/* A malloc'd, NUL-terminated copy of len bytes at s, or NULL. */
static inline char *moonlet__memdup(const char *s, size_t len) {
  char *c = malloc(len + 1);
  if (!c) return NULL;
  if (len) memcpy(c, s, len);
  c[len] = '\0';
  return c;
}

/* Grows the malloc'd byte buffer *buf (capacity *cap, doubling from 64)
 * to hold need bytes. 0, or -1 when out of memory (buf unchanged). */
static inline int moonlet__grow(char **buf, size_t *cap, size_t need) {
  size_t c = *cap ? *cap : 64;
  char *b;
  if (need <= *cap) return 0;
  while (c < need) c *= 2;
  if (!(b = realloc(*buf, c))) return -1;
  *buf = b;
  *cap = c;
  return 0;
}

#endif
