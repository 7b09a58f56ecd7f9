/*
 * file.c - moonlet.fs.open: files read and written like io files, every
 * disk access a job on the thread pool.
 *
 * The file keeps its own offset and uses pread/pwrite, so a job that is
 * orphaned by a cancelled caller changes nothing it should not: a read's
 * bytes land in the job's buffer and are dropped with it; a write goes on
 * to the disk (its offset was taken when it was queued). Jobs in flight
 * hold the descriptor open: a file closed meanwhile closes it when the
 * last one ends.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/io.h"
#include "io/rbuf.h"

#define FILE_KIND MOONLET_MT_FILE
#define FILL_SIZE (64u << 10)

typedef struct mfile {
  moonlet_io io;
  int fd;
  int append;
  int jobs;            /* in flight: the descriptor stays open for them */
  int busy;            /* a task is in an operation on the file */
  int eof;             /* the last fill found the end */
  off_t pos;           /* file offset of the read buffer's tail */
  moonlet_rbuf rb;
} mfile;

enum { F_OPEN, F_FILL, F_WRITE, F_SIZE };

typedef struct file_job {
  moonlet_op base;     /* first: a pool job (op.h) */
  uv_work_t work;
  int op;
  mfile *f;            /* NULL for F_OPEN */
  int fd, flags;
  char *buf, *path;
  size_t len;
  off_t off;
  ssize_t n;
} file_job;

static void file_free(mfile *f) {
  if (f->fd >= 0) close(f->fd);
  moonlet__rbuf_free(&f->rb);
  moonlet__io_free(&f->io);
}

static void file_close(moonlet_io *io) {
  mfile *f = (mfile *)io;
  if (f->jobs == 0) file_free(f);
}

static void job_release(moonlet_op *base) {
  file_job *j = (file_job *)base;
  mfile *f = j->f;
  if (j->op == F_OPEN && j->fd >= 0) close(j->fd); /* nobody took it */
  if (f && --f->jobs == 0) {
    f->busy = 0;
    if (f->io.closed) file_free(f);
  }
  free(j->buf);
  free(j->path);
}

static void job_run(moonlet_op *base) {
  file_job *j = (file_job *)base;
  size_t done = 0;
  struct stat st;
  switch (j->op) {
    case F_OPEN:
      j->fd = open(j->path, j->flags | O_CLOEXEC, 0666);
      if (j->fd < 0) j->base.status = uv_translate_sys_error(errno);
      break;
    case F_FILL:
      do j->n = pread(j->f->fd, j->buf, j->len, j->off);
      while (j->n < 0 && errno == EINTR);
      if (j->n < 0) j->base.status = uv_translate_sys_error(errno);
      break;
    case F_WRITE:
      while (done < j->len) {
        ssize_t n = j->f->append ? write(j->f->fd, j->buf + done, j->len - done)
                                 : pwrite(j->f->fd, j->buf + done, j->len - done,
                                          j->off + (off_t)done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
          j->base.status = uv_translate_sys_error(errno);
          break;
        }
        done += (size_t)n;
      }
      break;
    case F_SIZE:
      if (fstat(j->f->fd, &st) != 0) j->base.status = uv_translate_sys_error(errno);
      else j->off = st.st_size;
      break;
  }
}

/* Begins a job for f (NULL: an open). Operations begin (which raises
 * where blocking is not allowed) before they allocate or move the file
 * position. */
static file_job *job_begin(lua_State *L, moonlet_loop *lp, mfile *f, int op) {
  static const char *const what[] = {"file open", "file read", "file write",
                                     "file seek"};
  file_job *j = moonlet__req_begin(L, lp, sizeof *j, job_release);
  j->base.run = job_run;
  j->base.what = what[op];
  j->base.io = f ? &f->io : NULL;
  j->op = op;
  j->f = f;
  j->fd = -1;
  if (f) {
    f->jobs++;
    f->busy = 1;
  }
  return j;
}

/* The memory error of a job that could not be set up. */
static int no_memory(lua_State *L, file_job *j) {
  moonlet__op_abandon(&j->base);
  return luaL_error(L, "not enough memory");
}

/* For task dumps: the descriptor. */
static void describe_file(lua_State *L, moonlet_io *io) {
  lua_pushinteger(L, ((mfile *)io)->fd);
  lua_setfield(L, -2, "fd");
}

static mfile *check_file(lua_State *L) {
  mfile *f = (mfile *)moonlet__io_check(L, 1, FILE_KIND);
  if (f->busy) luaL_error(L, "file is busy: another operation on it is in flight");
  moonlet__checkpoint(L, f->io.lp);
  return f;
}

/* The read position: where the buffered bytes begin. */
static off_t logical_pos(mfile *f) {
  return f->pos - (off_t)moonlet__rbuf_len(&f->rb);
}

/* Forgets read-ahead before a write or seek. */
static void drop_buffer(mfile *f) {
  f->pos = logical_pos(f);
  moonlet__rbuf_clear(&f->rb);
  f->eof = 0;
}

/* --- open ---------------------------------------------------------------- */

static int open_flags(const char *mode, int *flags, int *append) {
  int plus = strchr(mode, '+') != NULL;
  if (strspn(mode, "rwa") != 1 || strspn(mode + 1, "+b") != strlen(mode + 1))
    return -1;
  *append = mode[0] == 'a';
  switch (mode[0]) {
    case 'r': *flags = plus ? O_RDWR : O_RDONLY; break;
    case 'w': *flags = (plus ? O_RDWR : O_WRONLY) | O_CREAT | O_TRUNC; break;
    default: *flags = (plus ? O_RDWR : O_WRONLY) | O_CREAT | O_APPEND; break;
  }
  return 0;
}

static int open_k(lua_State *L, int status, lua_KContext ctx) {
  file_job *j = (file_job *)moonlet__op_of(ctx);
  mfile *f;
  int flags, append;
  (void)status;
  moonlet__op_end(L, ctx, 0); /* done, or Cancelled: the job ends alone */
  if (j->base.status != 0) {
    status = j->base.status;
    moonlet__op_free(&j->base);
    return moonlet__push_failure(L, status, lua_tostring(L, 1));
  }
  f = calloc(1, sizeof *f);
  if (!f) {
    moonlet__op_free(&j->base);
    return luaL_error(L, "not enough memory");
  }
  open_flags(luaL_optstring(L, 2, "r"), &flags, &append);
  f->fd = j->fd;
  j->fd = -1;
  moonlet__op_free(&j->base);
  f->append = append;
  f->io.close = file_close;
  f->io.describe = describe_file;
  moonlet__rbuf_init(&f->rb);
  lua_settop(L, 3); /* the object open made */
  moonlet__io_fill(L, moonlet__loop(L), &f->io, FILE_KIND);
  return 1;
}

/* open(path[, mode]) -> file | nil, msg, code */
static int l_open(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  const char *mode = luaL_optstring(L, 2, "r");
  moonlet_loop *lp = moonlet__loop(L);
  file_job *j;
  int flags, append;
  luaL_argcheck(L, open_flags(mode, &flags, &append) == 0, 2, "invalid mode");
  lua_settop(L, 2);
  /* The object now, so that making it cannot fail once the file is open. */
  moonlet__io_reserve(L);
  j = job_begin(L, lp, NULL, F_OPEN);
  j->flags = flags;
  if (!(j->path = strdup(path))) return no_memory(L, j);
  return moonlet__op_queue(L, &j->base, &j->work, open_k);
}

/* --- read ---------------------------------------------------------------- */

static int read_k(lua_State *L, int status, lua_KContext ctx);

/* Serves the format at 2 from the buffer, filling it as needed. */
static int read_step(lua_State *L, mfile *f) {
  moonlet_rfmt fmt;
  file_job *j;
  size_t want;
  int r;
  moonlet__rfmt_check(L, 2, RF_LINE, &fmt);
  r = moonlet__rbuf_take(L, &f->rb, &fmt, f->eof);
  if (r > 0) return 1;
  if (r < 0) return moonlet__push_failure(L, UV_ENOBUFS, "line longer than max_line");
  want = moonlet__rbuf_want(&f->rb, &fmt);
  j = job_begin(L, f->io.lp, f, F_FILL);
  j->len = want < FILL_SIZE ? FILL_SIZE : want;
  if (!(j->buf = malloc(j->len))) return no_memory(L, j);
  j->off = f->pos;
  return moonlet__op_queue(L, &j->base, &j->work, read_k);
}

static int read_k(lua_State *L, int status, lua_KContext ctx) {
  file_job *j = (file_job *)moonlet__op_of(ctx);
  mfile *f;
  (void)status;
  moonlet__op_end(L, ctx, 0); /* done, or Cancelled: the job ends alone */
  f = j->f;
  if (j->base.status == 0 && !f->io.closed) {
    size_t room;
    char *p = j->n > 0 ? moonlet__rbuf_reserve(&f->rb, (size_t)j->n, &room) : NULL;
    if (p) {
      memcpy(p, j->buf, (size_t)j->n);
      moonlet__rbuf_commit(&f->rb, (size_t)j->n);
      f->pos += j->n;
    } else if (j->n > 0) {
      j->base.status = UV_ENOMEM;
    } else {
      f->eof = 1;
    }
  }
  status = f->io.closed ? UV_ECANCELED : j->base.status;
  moonlet__op_free(&j->base);
  if (status != 0) return moonlet__push_failure(L, status, NULL);
  return read_step(L, f);
}

/* f:read([fmt]) — one format, as io's: "l" (default), "L", "n", "a", n */
static int f_read(lua_State *L) {
  mfile *f = check_file(L);
  moonlet_rfmt fmt;
  luaL_argcheck(L, lua_gettop(L) <= 2, 3, "one format per call");
  moonlet__rfmt_check(L, 2, RF_LINE, &fmt);
  lua_settop(L, 2);
  return read_step(L, f);
}

/* --- write, seek --------------------------------------------------------- */

/* After a write or a size query: the file (or the new position). */
static int done_k(lua_State *L, int status, lua_KContext ctx) {
  file_job *j = (file_job *)moonlet__op_of(ctx);
  off_t size;
  int op;
  (void)status;
  moonlet__op_end(L, ctx, 0); /* done, or Cancelled: the job ends alone */
  status = j->base.status;
  op = j->op;
  size = j->off;
  if (status == 0 && op == F_SIZE && !j->f->io.closed) {
    lua_Integer where = lua_tointeger(L, 3) + (lua_Integer)size;
    if (where < 0) status = UV_EINVAL;
    else j->f->pos = (off_t)where;
  }
  if (status == 0 && op == F_SIZE) lua_pushinteger(L, (lua_Integer)j->f->pos);
  moonlet__op_free(&j->base);
  if (status != 0) return moonlet__push_failure(L, status, NULL);
  if (op == F_WRITE) lua_settop(L, 1);
  return 1;
}

/* f:write(...) -> f | nil, msg, code */
static int f_write(lua_State *L) {
  mfile *f = check_file(L);
  int n = lua_gettop(L), i;
  luaL_Buffer b;
  file_job *j;
  size_t len;
  const char *s;
  for (i = 2; i <= n; i++)
    if (lua_type(L, i) != LUA_TNUMBER) luaL_checktype(L, i, LUA_TSTRING);
  luaL_buffinit(L, &b);
  for (i = 2; i <= n; i++) {
    lua_pushvalue(L, i);
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
  s = lua_tolstring(L, -1, &len);
  if (len == 0) {
    lua_settop(L, 1);
    return 1;
  }
  j = job_begin(L, f->io.lp, f, F_WRITE);
  if (!(j->buf = malloc(len))) return no_memory(L, j);
  memcpy(j->buf, s, len);
  lua_settop(L, 1);
  drop_buffer(f);
  j->len = len;
  j->off = f->pos;
  f->pos += (off_t)len;
  return moonlet__op_queue(L, &j->base, &j->work, done_k);
}

/* f:seek([whence[, offset]]) -> position | nil, msg, code */
static int f_seek(lua_State *L) {
  static const char *const modes[] = {"set", "cur", "end", NULL};
  mfile *f = check_file(L);
  int op = luaL_checkoption(L, 2, "cur", modes);
  lua_Integer off = luaL_optinteger(L, 3, 0), where;
  drop_buffer(f);
  if (op == 2) {
    lua_settop(L, 2);
    lua_pushinteger(L, off);
  {
    file_job *j = job_begin(L, f->io.lp, f, F_SIZE);
    return moonlet__op_queue(L, &j->base, &j->work, done_k);
  }
  }
  where = (op == 0 ? 0 : (lua_Integer)f->pos) + off;
  if (where < 0) return moonlet__push_failure(L, UV_EINVAL, NULL);
  f->pos = (off_t)where;
  lua_pushinteger(L, where);
  return 1;
}

/* f:flush(): writes are not buffered; kept for io compatibility. */
static int f_flush(lua_State *L) {
  moonlet__io_check(L, 1, FILE_KIND);
  lua_settop(L, 1);
  return 1;
}

void moonlet__open_file(lua_State *L, moonlet_loop *lp) {
  static const luaL_Reg methods[] = {{"read", f_read},   {"lines", moonlet__io_lines},
                                     {"write", f_write},
                                     {"seek", f_seek},   {"flush", f_flush},
                                     {NULL, NULL}};
  if (!lp->mt[FILE_KIND])
    moonlet__io_newmt(L, lp, FILE_KIND, "moonlet.file", methods);
  /* on the fs table, which is on top */
  lua_pushlightuserdata(L, lp);
  lua_pushcclosure(L, l_open, 1);
  lua_setfield(L, -2, "open");
}
