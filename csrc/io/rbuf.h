/*
 * rbuf.h - the read buffer behind streams and files, and the io-library
 * read formats served from it. Bytes are appended at the tail and taken
 * from the head; a line search resumes where the last one stopped, so a
 * long line arriving in many pieces is scanned once.
 */
#ifndef MOONLET_RBUF_H
#define MOONLET_RBUF_H

#include <lua.h>
#include <stddef.h>

/* Emptied buffers of one loop's streams, kept for the next read on any of
 * them: an idle connection holds no buffer. The pool grows to what the
 * busiest moment needed; trimming gives back what then stayed unused. */
#define MOONLET_RBUF_CHUNK (64u << 10) /* the room a stream read asks for */
typedef struct moonlet_rbuf_pool {
  char **bufs;  /* each MOONLET_RBUF_CHUNK bytes */
  int n, cap;
  int low;      /* the fewest spares since the last trim */
} moonlet_rbuf_pool;

typedef struct moonlet_rbuf {
  char *data;
  moonlet_rbuf_pool *pool; /* where the buffer goes when emptied; NULL:
                            * it is kept (files) */
  size_t head, tail, cap;
  size_t scanned;   /* bytes after head already searched for a newline */
  size_t max_line;  /* "l"/"L" give up (ENOBUFS) beyond this many bytes */
} moonlet_rbuf;

enum { RF_LINE, RF_LINE_NL, RF_ALL, RF_COUNT, RF_CHUNK, RF_NUMBER };

typedef struct moonlet_rfmt {
  int kind;
  size_t n;         /* RF_COUNT */
} moonlet_rfmt;

#define MOONLET_MAX_LINE_DEFAULT (1u << 20)

void moonlet__rbuf_init(moonlet_rbuf *rb);
void moonlet__rbuf_free(moonlet_rbuf *rb);
/* Frees the spares no read took since the last trim, keeping keep. */
void moonlet__rbuf_pool_trim(moonlet_rbuf_pool *pool, int keep);
void moonlet__rbuf_pool_free(moonlet_rbuf_pool *pool);
static inline size_t moonlet__rbuf_len(const moonlet_rbuf *rb) {
  return rb->tail - rb->head;
}
/* Room for at least want more bytes at the tail; sets *room to what is
 * free there. NULL when out of memory. */
char *moonlet__rbuf_reserve(moonlet_rbuf *rb, size_t want, size_t *room);
static inline void moonlet__rbuf_commit(moonlet_rbuf *rb, size_t n) {
  rb->tail += n;
}
/* Drops everything buffered (a seek on a file). */
void moonlet__rbuf_clear(moonlet_rbuf *rb);

/* Parses read format argument idx (absent: RF_CHUNK, or dflt if >= 0). */
void moonlet__rfmt_check(lua_State *L, int idx, int dflt, moonlet_rfmt *f);

/* Serves f from the buffer: 1 with the result pushed (nil at the end of
 * data), 0 when more data is needed, -1 when a line exceeds max_line
 * (nothing pushed, nothing consumed). eof: no more data will come. */
int moonlet__rbuf_take(lua_State *L, moonlet_rbuf *rb, const moonlet_rfmt *f,
                       int eof);

/* How many more bytes f needs at least (a hint for the next read). */
size_t moonlet__rbuf_want(const moonlet_rbuf *rb, const moonlet_rfmt *f);

#endif
