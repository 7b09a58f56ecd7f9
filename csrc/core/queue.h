/*
 * queue.h - intrusive circular doubly linked lists, after libuv's queue.h.
 * A node that is not in any list points to itself, so removing it twice is
 * harmless.
 */
#ifndef MOONLET_QUEUE_H
#define MOONLET_QUEUE_H

#include <stddef.h>

typedef struct mqueue {
  struct mqueue *next, *prev;
} mqueue;

#define mq_data(ptr, type, field) \
  ((type *)((char *)(ptr) - offsetof(type, field)))

static inline void mq_init(mqueue *q) { q->next = q->prev = q; }
static inline int mq_empty(const mqueue *q) { return q->next == q; }
static inline int mq_linked(const mqueue *n) { return n->next != n; }

static inline void mq_push(mqueue *head, mqueue *n) {
  n->prev = head->prev;
  n->next = head;
  head->prev->next = n;
  head->prev = n;
}

static inline void mq_remove(mqueue *n) {
  n->prev->next = n->next;
  n->next->prev = n->prev;
  n->next = n->prev = n;
}

static inline mqueue *mq_shift(mqueue *head) {
  mqueue *n = head->next;
  if (n == head) return NULL;
  mq_remove(n);
  return n;
}

#endif
