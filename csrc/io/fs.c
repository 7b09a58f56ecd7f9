/*
 * fs.c - moonlet.fs: whole-file and directory operations, each one job on
 * the thread pool, so the loop never blocks on the disk. Failures return
 * nil, "ENAME: message: path", "ENAME"; misuse raises.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/io.h"

enum { OP_READ, OP_WRITE, OP_STAT, OP_REMOVE, OP_RENAME, OP_MKDIR, OP_LIST,
       OP_TMPNAME };

typedef struct fs_entry {
  char *name;
  unsigned char type;
} fs_entry;

typedef struct fs_job {
  moonlet_op base;         /* first: a pool job (op.h) */
  uv_work_t work;
  int op;
  int flag;          /* write: append; mkdir: parents */
  char *path, *path2;
  char *data;        /* write: the bytes; read: what was read */
  size_t len;
  struct stat st;
  fs_entry *entries; /* list */
  size_t count;
} fs_job;

static void fs_release(moonlet_op *base) {
  fs_job *j = (fs_job *)base;
  size_t i;
  for (i = 0; i < j->count; i++) free(j->entries[i].name);
  free(j->entries);
  free(j->path);
  free(j->path2);
  free(j->data);
}

static int sys_err(void) { return uv_translate_sys_error(errno); }

static void do_read(fs_job *j) {
  int fd = open(j->path, O_RDONLY | O_CLOEXEC);
  size_t cap;
  if (fd < 0) { j->base.status = sys_err(); return; }
  if (fstat(fd, &j->st) != 0) { j->base.status = sys_err(); close(fd); return; }
  if (S_ISDIR(j->st.st_mode)) { j->base.status = UV_EISDIR; close(fd); return; }
  cap = S_ISREG(j->st.st_mode) && j->st.st_size > 0 ? (size_t)j->st.st_size + 1 : 4096;
  j->data = malloc(cap);
  if (!j->data) { j->base.status = UV_ENOMEM; close(fd); return; }
  for (;;) {
    ssize_t n;
    if (j->len == cap) {
      char *d = realloc(j->data, cap * 2);
      if (!d) { j->base.status = UV_ENOMEM; break; }
      j->data = d;
      cap *= 2;
    }
    n = read(fd, j->data + j->len, cap - j->len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) { j->base.status = sys_err(); break; }
    if (n == 0) break;
    j->len += (size_t)n;
  }
  close(fd);
}

static void do_write(fs_job *j) {
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (j->flag ? O_APPEND : O_TRUNC);
  int fd = open(j->path, flags, 0666);
  size_t off = 0;
  if (fd < 0) { j->base.status = sys_err(); return; }
  while (off < j->len) {
    ssize_t n = write(fd, j->data + off, j->len - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) { j->base.status = sys_err(); break; }
    off += (size_t)n;
  }
  if (close(fd) != 0 && j->base.status == 0) j->base.status = sys_err();
}

static void do_remove(fs_job *j) {
  if (unlink(j->path) == 0) return;
  if (errno == EISDIR || errno == EPERM) {
    if (rmdir(j->path) == 0) return;
  }
  j->base.status = sys_err();
}

static void do_mkdir(fs_job *j) {
  char *p;
  struct stat st;
  if (j->flag) { /* parents: make each missing ancestor in turn */
    for (p = j->path + 1; *p; p++) {
      if (*p != '/') continue;
      *p = '\0';
      if (mkdir(j->path, 0777) != 0 && errno != EEXIST) {
        j->base.status = sys_err();
        *p = '/';
        return;
      }
      *p = '/';
    }
  }
  if (mkdir(j->path, 0777) == 0) return;
  if (j->flag && errno == EEXIST && stat(j->path, &st) == 0 && S_ISDIR(st.st_mode))
    return;
  j->base.status = sys_err();
}

static int by_name(const void *a, const void *b) {
  return strcmp(((const fs_entry *)a)->name, ((const fs_entry *)b)->name);
}

static void do_list(fs_job *j) {
  DIR *d = opendir(j->path);
  struct dirent *e;
  size_t cap = 0;
  if (!d) { j->base.status = sys_err(); return; }
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    if (j->count == cap) {
      fs_entry *n = realloc(j->entries, (cap = cap ? cap * 2 : 16) * sizeof *n);
      if (!n) { j->base.status = UV_ENOMEM; break; }
      j->entries = n;
    }
    j->entries[j->count].name = strdup(e->d_name);
    if (!j->entries[j->count].name) { j->base.status = UV_ENOMEM; break; }
    j->entries[j->count++].type = e->d_type;
  }
  closedir(d);
  if (j->count > 1) qsort(j->entries, j->count, sizeof *j->entries, by_name);
}

static void do_tmpname(fs_job *j) {
  int fd = mkstemp(j->path);
  if (fd < 0) { j->base.status = sys_err(); return; }
  close(fd);
}

static void fs_run(moonlet_op *base) {
  fs_job *j = (fs_job *)base;
  switch (j->op) {
    case OP_READ: do_read(j); break;
    case OP_WRITE: do_write(j); break;
    case OP_STAT: if (stat(j->path, &j->st) != 0) j->base.status = sys_err(); break;
    case OP_REMOVE: do_remove(j); break;
    case OP_RENAME: if (rename(j->path, j->path2) != 0) j->base.status = sys_err(); break;
    case OP_MKDIR: do_mkdir(j); break;
    case OP_LIST: do_list(j); break;
    case OP_TMPNAME: do_tmpname(j); break;
  }
}

/* --- results, on the loop thread ----------------------------------------- */

static const char *mode_type(mode_t m) {
  if (S_ISREG(m)) return "file";
  if (S_ISDIR(m)) return "directory";
  if (S_ISLNK(m)) return "link";
  if (S_ISFIFO(m)) return "fifo";
  if (S_ISSOCK(m)) return "socket";
  if (S_ISCHR(m)) return "char";
  if (S_ISBLK(m)) return "block";
  return "other";
}

static const char *dirent_type(unsigned char t) {
  switch (t) {
    case DT_REG: return "file";
    case DT_DIR: return "directory";
    case DT_LNK: return "link";
    case DT_FIFO: return "fifo";
    case DT_SOCK: return "socket";
    case DT_CHR: return "char";
    case DT_BLK: return "block";
    default: return "unknown";
  }
}

static double seconds(struct timespec ts) {
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void push_stat(lua_State *L, const struct stat *st) {
  lua_createtable(L, 0, 10);
  lua_pushstring(L, mode_type(st->st_mode));
  lua_setfield(L, -2, "type");
  lua_pushinteger(L, (lua_Integer)st->st_size);
  lua_setfield(L, -2, "size");
  lua_pushinteger(L, (lua_Integer)(st->st_mode & 07777));
  lua_setfield(L, -2, "mode");
  lua_pushnumber(L, seconds(st->st_mtim));
  lua_setfield(L, -2, "mtime");
  lua_pushnumber(L, seconds(st->st_atim));
  lua_setfield(L, -2, "atime");
  lua_pushnumber(L, seconds(st->st_ctim));
  lua_setfield(L, -2, "ctime");
  lua_pushinteger(L, (lua_Integer)st->st_uid);
  lua_setfield(L, -2, "uid");
  lua_pushinteger(L, (lua_Integer)st->st_gid);
  lua_setfield(L, -2, "gid");
  lua_pushinteger(L, (lua_Integer)st->st_ino);
  lua_setfield(L, -2, "ino");
  lua_pushinteger(L, (lua_Integer)st->st_nlink);
  lua_setfield(L, -2, "nlink");
}

static int fs_k(lua_State *L, int status, lua_KContext ctx) {
  fs_job *j = (fs_job *)moonlet__op_of(ctx);
  int n = 1;
  size_t i;
  (void)status;
  /* No deadline, no object: it is done, or this raises Cancelled and the
   * job ends alone. */
  moonlet__op_end(L, ctx, 0);
  if (j->base.status != 0) {
    if (j->op == OP_STAT && lua_toboolean(L, lua_upvalueindex(2))) {
      lua_pushboolean(L, 0); /* exists() */
    } else {
      n = moonlet__push_failure(L, j->base.status, j->path);
    }
    moonlet__op_free(&j->base);
    return n;
  }
  switch (j->op) {
    case OP_READ: lua_pushlstring(L, j->data ? j->data : "", j->len); break;
    case OP_STAT:
      if (lua_toboolean(L, lua_upvalueindex(2)))
        lua_pushboolean(L, 1);
      else
        push_stat(L, &j->st);
      break;
    case OP_LIST:
      lua_createtable(L, (int)j->count, 0);
      for (i = 0; i < j->count; i++) {
        lua_createtable(L, 0, 2);
        lua_pushstring(L, j->entries[i].name);
        lua_setfield(L, -2, "name");
        lua_pushstring(L, dirent_type(j->entries[i].type));
        lua_setfield(L, -2, "type");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
      }
      break;
    case OP_TMPNAME: lua_pushstring(L, j->path); break;
    default: lua_pushboolean(L, 1); break;
  }
  moonlet__op_free(&j->base);
  return n;
}

/* For task dumps: the path. */
static void describe_job(lua_State *L, moonlet_op *op) {
  lua_pushstring(L, ((fs_job *)op)->path);
  lua_setfield(L, -2, "path");
}

/* Checks arguments, then blocks on a new job. */
static int start(lua_State *L, int op, const char *path, const char *path2,
                 const char *data, size_t len, int flag) {
  static const char *const what[] = {"fs read_file", "fs write_file", "fs stat",
                                     "fs remove",    "fs rename",     "fs mkdir",
                                     "fs list",      "fs tmpname"};
  fs_job *j = moonlet__req_begin(L, moonlet__loop(L), sizeof *j, fs_release);
  j->base.run = fs_run;
  j->base.what = what[op];
  j->base.describe = describe_job;
  j->op = op;
  j->flag = flag;
  j->path = strdup(path);
  if (path2) j->path2 = strdup(path2);
  if (len) {
    j->data = malloc(len);
    if (j->data) memcpy(j->data, data, len);
  }
  j->len = len;
  if (!j->path || (path2 && !j->path2) || (len && !j->data)) {
    moonlet__op_abandon(&j->base);
    return luaL_error(L, "not enough memory");
  }
  if (op == OP_READ) j->len = 0;
  return moonlet__op_queue(L, &j->base, &j->work, fs_k);
}

static const char *check_path(lua_State *L, int idx) {
  size_t len;
  const char *p = luaL_checklstring(L, idx, &len);
  luaL_argcheck(L, len > 0 && strlen(p) == len, idx, "path must be non-empty, without NUL bytes");
  return p;
}

static int f_read_file(lua_State *L) {
  return start(L, OP_READ, check_path(L, 1), NULL, NULL, 0, 0);
}

static int write_common(lua_State *L, int append) {
  size_t len;
  const char *path = check_path(L, 1);
  const char *data = luaL_checklstring(L, 2, &len);
  return start(L, OP_WRITE, path, NULL, data, len, append);
}

static int f_write_file(lua_State *L) { return write_common(L, 0); }
static int f_append_file(lua_State *L) { return write_common(L, 1); }

static int f_stat(lua_State *L) {
  return start(L, OP_STAT, check_path(L, 1), NULL, NULL, 0, 0);
}

static int f_remove(lua_State *L) {
  return start(L, OP_REMOVE, check_path(L, 1), NULL, NULL, 0, 0);
}

static int f_rename(lua_State *L) {
  const char *from = check_path(L, 1);
  return start(L, OP_RENAME, from, check_path(L, 2), NULL, 0, 0);
}

static int f_mkdir(lua_State *L) {
  const char *path = check_path(L, 1);
  int parents = 0;
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_getfield(L, 2, "parents");
    parents = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  return start(L, OP_MKDIR, path, NULL, NULL, 0, parents);
}

static int f_list(lua_State *L) {
  return start(L, OP_LIST, check_path(L, 1), NULL, NULL, 0, 0);
}

static int f_tmpname(lua_State *L) {
  const char *dir = getenv("TMPDIR");
  lua_pushfstring(L, "%s/moonlet-XXXXXX", dir && *dir ? dir : "/tmp");
  return start(L, OP_TMPNAME, lua_tostring(L, -1), NULL, NULL, 0, 0);
}

void moonlet__open_fs(lua_State *L, moonlet_loop *lp) {
  static const luaL_Reg funcs[] = {
      {"read_file", f_read_file}, {"write_file", f_write_file},
      {"append_file", f_append_file}, {"stat", f_stat},
      {"remove", f_remove},       {"rename", f_rename},
      {"mkdir", f_mkdir},         {"list", f_list},
      {"tmpname", f_tmpname},     {NULL, NULL}};
  lua_newtable(L);
  /* Second upvalue: false, except for exists, which shares stat's code. */
  lua_pushlightuserdata(L, lp);
  lua_pushboolean(L, 0);
  luaL_setfuncs(L, funcs, 2);
  lua_pushlightuserdata(L, lp);
  lua_pushboolean(L, 1);
  lua_pushcclosure(L, f_stat, 2);
  lua_setfield(L, -2, "exists");
  moonlet__open_file(L, lp);
  lua_setfield(L, -2, "fs");
}
