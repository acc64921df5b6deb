/*
** l_sys.c: clara.sys.core.  What plain Lua cannot do with the system:
** whether a file descriptor is a terminal (the progress display draws a
** bar there and writes plain lines to logs otherwise); a monotonic clock
** in seconds (os.clock is CPU time, os.time whole seconds: neither gives
** a step rate); and the file operations a run directory needs: an append
** whose every step is checked (Lua's buffered io hides a full disk until
** close, and leaves half a line behind), an exclusive lock on a directory
** that names its holder, the liveness of a process.
*/
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clara_libs.h"

#define SYS_LOCK "clara.sys.Lock"

/* isatty(fd) -> boolean */
static int sys_isatty(lua_State *L) {
  lua_Integer fd = luaL_checkinteger(L, 1);
  if (fd < 0) return luaL_argerror(L, 1, "file descriptor must be non-negative");
  lua_pushboolean(L, isatty((int)fd) == 1);
  return 1;
}

/* columns(fd) -> the width of the terminal on fd, or nil when fd is not a
   terminal or does not tell (summaries wrap at it) */
static int sys_columns(lua_State *L) {
  struct winsize ws;
  lua_Integer fd = luaL_checkinteger(L, 1);
  if (fd < 0) return luaL_argerror(L, 1, "file descriptor must be non-negative");
  if (ioctl((int)fd, TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0) lua_pushnil(L);
  else lua_pushinteger(L, ws.ws_col);
  return 1;
}

/* clock() -> seconds since an arbitrary point, monotonic */
static int sys_clock(lua_State *L) {
  struct timespec ts;
  if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
    return luaL_error(L, "clock: clock_gettime failed");
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
  return 1;
}

/* walltime() -> seconds since the epoch (UTC), milliseconds since that
   second: one reading, so the two never straddle a second */
static int sys_walltime(lua_State *L) {
  struct timespec ts;
  if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
    return luaL_error(L, "walltime: clock_gettime failed");
  lua_pushinteger(L, (lua_Integer)ts.tv_sec);
  lua_pushinteger(L, (lua_Integer)(ts.tv_nsec / 1000000));
  return 2;
}

static int sys_fail(lua_State *L, const char *what, const char *path, int e) {
  lua_pushnil(L);
  lua_pushfstring(L, "%s '%s': %s", what, path, strerror(e));
  return 2;
}

static int sys_write_all(int fd, const char *s, size_t len) {
  while (len > 0) {
    ssize_t w = write(fd, s, len);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return -1;
    if (w == 0) {
      errno = EIO;
      return -1;
    }
    s += w;
    len -= (size_t)w;
  }
  return 0;
}

/* append(path, s) -> true | nil, message.  The bytes are written, flushed
   to disk and the file closed, each step checked; on a failure the file is
   cut back to its old length, so it holds the old text or the new, whole. */
static int sys_append(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  size_t len;
  const char *s = luaL_checklstring(L, 2, &len);
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) return sys_fail(L, "cannot open", path, errno);
  struct stat st;
  memset(&st, 0, sizeof st);
  int e = 0;
  if (fstat(fd, &st) != 0) e = errno;
  if (!e && sys_write_all(fd, s, len) != 0) e = errno;
  /* a device (/dev/null) cannot be synced, and need not be */
  if (!e && fsync(fd) != 0 && errno != EINVAL && errno != EROFS) e = errno;
  if (e && S_ISREG(st.st_mode)) (void)ftruncate(fd, st.st_size);
  if (close(fd) != 0 && !e) e = errno;
  if (e) return sys_fail(L, "cannot append to", path, e);
  lua_pushboolean(L, 1);
  return 1;
}

/* whether a process with that pid exists and is not a zombie (it has
   ended; its parent has not yet asked how) */
static int sys_running(lua_Integer pid) {
  if (pid <= 0 || (kill((pid_t)pid, 0) != 0 && errno != EPERM)) return 0;
  char path[64], buf[256];
  snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 1;
  buf[n] = '\0';
  const char *p = strrchr(buf, ')'); /* the name may hold spaces */
  return !(p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'));
}

/* {====================== directory locks ====================== */

typedef struct {
  int fd; /* -1 once released */
} SysLock;

static int lock_release(lua_State *L) {
  SysLock *k = (SysLock *)luaL_checkudata(L, 1, SYS_LOCK);
  if (k->fd >= 0) {
    close(k->fd); /* closing the last descriptor drops the flock */
    k->fd = -1;
  }
  return 0;
}

/* the pid a holder wrote in the lock file, 0 when there is none yet */
static long lock_holder(int fd) {
  char buf[32];
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return 0;
  buf[n] = '\0';
  return strtol(buf, NULL, 10);
}

/* lock(path) -> lock | nil, message, holder pid.  An exclusive, non-blocking
   flock on path (made if missing), held until lock:release(), the lock is
   collected or the process ends; the descriptor is close-on-exec so that a
   child started meanwhile does not keep it.  The holder writes its pid
   into the file for the message of the next one to try.  A holder that is
   not running (killed, its last threads still exiting; or one between its
   flock and writing its pid) is given 200 ms to let go. */
static int sys_lock(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  SysLock *k = (SysLock *)lua_newuserdatauv(L, sizeof(SysLock), 0);
  k->fd = -1;
  luaL_setmetatable(L, SYS_LOCK);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) return sys_fail(L, "cannot open the lock file", path, errno);
  long pid = 0;
  for (int tries = 0;; tries++) {
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) break;
    int e = errno;
    if (e == EINTR) continue;
    if (e == EWOULDBLOCK) pid = lock_holder(fd);
    if (e != EWOULDBLOCK || sys_running(pid) || tries >= 20) {
      close(fd);
      if (e != EWOULDBLOCK) return sys_fail(L, "cannot lock", path, e);
      lua_pushnil(L);
      lua_pushfstring(L, "'%s' is locked", path);
      lua_pushinteger(L, pid);
      return 3;
    }
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  k->fd = fd;
  char buf[32];
  int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
  if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
    int e = errno;
    close(fd);
    k->fd = -1;
    return sys_fail(L, "cannot write the lock file", path, e);
  }
  return 1;
}
/* }================================================================ */

/* realpath(path) -> the absolute path without links | nil, message */
static int sys_realpath(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  char buf[PATH_MAX];
  if (realpath(path, buf) == NULL) return sys_fail(L, "cannot resolve", path, errno);
  lua_pushstring(L, buf);
  return 1;
}

/* alive(pid) -> whether a process with that pid runs */
static int sys_alive(lua_State *L) {
  lua_pushboolean(L, sys_running(luaL_checkinteger(L, 1)));
  return 1;
}

static int sys_getpid(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)getpid());
  return 1;
}

static const luaL_Reg lock_methods[] = {
    {"release", lock_release}, {"__gc", lock_release}, {"__close", lock_release},
    {NULL, NULL}};

static const luaL_Reg sys_funcs[] = {
    {"isatty", sys_isatty}, {"clock", sys_clock},       {"append", sys_append},
    {"lock", sys_lock},     {"realpath", sys_realpath}, {"alive", sys_alive},
    {"getpid", sys_getpid}, {"columns", sys_columns}, {"walltime", sys_walltime},
    {NULL, NULL}};

int luaopen_clara_sys_core(lua_State *L) {
  if (luaL_newmetatable(L, SYS_LOCK)) {
    luaL_setfuncs(L, lock_methods, 0);
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  luaL_newlib(L, sys_funcs);
  return 1;
}
