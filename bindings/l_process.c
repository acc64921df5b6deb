/*
** l_process.c: clara.process.core.  What a battery needs to run its
** entries as separate processes, N at a time: start a program with its
** output in a log file and a few environment variables changed, reap
** finished children without blocking, stop them (they die with this
** process), and a few facts about
** the machine (cores, this program's path).  `clara launch` also reads
** its ranks' output through pipes (poll, read), starts each in its own
** process group and asks the kernel for a free TCP port.
*/
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clara_libs.h"

extern char **environ;

#define PROC_MAX_ARGS 256
#define PROC_MAX_ENV 64

/* argv from a Lua list of strings at index idx */
static int proc_argv(lua_State *L, int idx, const char **argv) {
  lua_Integer n = luaL_len(L, idx);
  if (n < 1) return luaL_argerror(L, idx, "a non-empty list (program, args...) expected");
  if (n >= PROC_MAX_ARGS) return luaL_argerror(L, idx, "too many arguments");
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, idx, i);
    if (lua_type(L, -1) != LUA_TSTRING)
      return luaL_error(L, "bad argument #%d to 'spawn' (argument %d is %s, expected a string)",
                        idx, (int)i, luaL_typename(L, -1));
    argv[i - 1] = lua_tostring(L, -1); /* kept alive by the list */
    lua_pop(L, 1);
  }
  argv[n] = NULL;
  return (int)n;
}

/* environ with opts.env's NAME=value strings replacing or adding; the
   array and the strings live in Lua values left on the stack */
static const char **proc_env(lua_State *L, int opts) {
  int extra = 0, total = 0;
  const char *names[PROC_MAX_ENV];
  for (char **e = environ; *e; e++) total++;
  const char **envp = lua_newuserdatauv(L, sizeof(char *) * (size_t)(total + PROC_MAX_ENV + 1), 0);
  lua_newtable(L);
  int keep = lua_gettop(L);
  if (lua_getfield(L, opts, "env") == LUA_TTABLE) {
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      if (lua_type(L, -2) != LUA_TSTRING || extra >= PROC_MAX_ENV)
        luaL_error(L, "spawn: env must map names to strings (at most %d)", PROC_MAX_ENV);
      const char *k = lua_tostring(L, -2);
      const char *v = luaL_tolstring(L, -1, NULL);
      lua_pushfstring(L, "%s=%s", k, v);
      envp[extra] = lua_tostring(L, -1);
      names[extra++] = k;
      lua_rawseti(L, keep, extra);
      lua_pop(L, 2); /* tolstring's copy, the value */
    }
  }
  lua_pop(L, 1); /* env */
  int n = extra;
  for (char **e = environ; *e; e++) {
    int replaced = 0;
    for (int i = 0; i < extra && !replaced; i++) {
      size_t len = strlen(names[i]);
      replaced = strncmp(*e, names[i], len) == 0 && (*e)[len] == '=';
    }
    if (!replaced) envp[n++] = *e;
  }
  envp[n] = NULL;
  return envp;
}

/* the program's path as execvp would find it, looked up before fork: the
   child may only make async-signal-safe calls (libtorch's threads may hold
   malloc's lock at the fork) */
static const char *proc_which(lua_State *L, const char *prog) {
  if (strchr(prog, '/')) return prog;
  const char *path = getenv("PATH");
  if (path == NULL) path = "/usr/local/bin:/usr/bin:/bin";
  while (*path) {
    const char *end = strchr(path, ':');
    size_t n = end ? (size_t)(end - path) : strlen(path);
    char full[4096];
    snprintf(full, sizeof full, "%.*s/%s", n ? (int)n : 1, n ? path : ".", prog);
    if (access(full, X_OK) == 0) return lua_pushstring(L, full); /* kept on the stack */
    path += n + (end != NULL);
  }
  return prog; /* execve fails and says why */
}

/* the child, between fork and exec: async-signal-safe calls only.  It dies
   with its parent (PR_SET_PDEATHSIG); a parent that died before the prctl
   took effect is seen as a changed parent pid.  An exec failure is sent up
   the close-on-exec pipe as errno. */
static void proc_child(const char *prog, const char **argv, const char **envp, const int fd[3],
                       int group, int report, pid_t parent) {
  int e = 0;
  if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) e = errno;
  if (!e && getppid() != parent) _exit(75);
  if (!e && group && setpgid(0, 0) != 0) e = errno;
  for (int i = 0; i < 3 && !e; i++)
    if (dup2(fd[i], i) < 0) e = errno;
  if (!e) {
    execve(prog, (char *const *)argv, (char *const *)envp);
    e = errno;
  }
  (void)!write(report, &e, sizeof e);
  _exit(127);
}

/* where opts[field] sends the child's output: a path (appended), true (a
   pipe whose non-blocking read end goes to *rd), else `dflt`; -1 and errno
   set on failure */
static int proc_output(lua_State *L, int opts, const char *field, int dflt, int *rd) {
  int fd = dflt, t = lua_getfield(L, opts, field);
  if (t == LUA_TSTRING) {
    fd = open(lua_tostring(L, -1), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  } else if (t == LUA_TBOOLEAN && lua_toboolean(L, -1)) {
    int p[2];
    fd = -1;
    if (pipe2(p, O_CLOEXEC) == 0) {
      fcntl(p[0], F_SETFL, O_NONBLOCK);
      *rd = p[0];
      fd = p[1];
    }
  }
  lua_pop(L, 1);
  return fd;
}

static void close_fds(const int *fd, int n, int keep) {
  for (int i = 0; i < n; i++)
    if (fd[i] >= 0 && fd[i] != keep) close(fd[i]);
}

/* spawn({prog, args...}, {log = path, stdout = path | true, stderr = path |
   true, group = bool, env = {NAME = value}}) -> pid[, stdout fd, stderr fd].
   stdout and stderr go to the log (appended), or each where its own field
   says (true: a pipe whose read end is returned, non-blocking); stdin is
   /dev/null; group: the child leads a process group of its own (a
   terminal's Ctrl-C reaches only this process, which forwards it).  The
   child gets SIGTERM when this process dies (a battery killed with -9
   leaves no orphans: each checkpoints and exits). */
static int proc_spawn(lua_State *L) {
  const char *argv[PROC_MAX_ARGS];
  luaL_checktype(L, 1, LUA_TTABLE);
  if (lua_isnoneornil(L, 2)) lua_newtable(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  proc_argv(L, 1, argv);
  for (int i = 0; i < 2; i++) { /* checked before any descriptor opens */
    const char *field = i ? "stderr" : "stdout";
    int t = lua_getfield(L, 2, field);
    if (t != LUA_TNIL && t != LUA_TSTRING && t != LUA_TBOOLEAN)
      return luaL_error(L, "spawn: %s must be a path or true (a pipe), got %s", field, luaL_typename(L, -1));
    lua_pop(L, 1);
  }
  lua_getfield(L, 2, "group");
  int group = lua_toboolean(L, -1);
  lua_getfield(L, 2, "log");
  const char *log = luaL_optstring(L, -1, "/dev/null");
  const char **envp = proc_env(L, 2);
  const char *prog = proc_which(L, argv[0]);
  /* fd: the child's 0, 1, 2; rd: the pipes' read ends */
  int fd[3] = {-1, -1, -1}, rd[2] = {-1, -1}, pipefd[2] = {-1, -1};
  fd[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
  int logfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  fd[1] = proc_output(L, 2, "stdout", logfd, &rd[0]);
  fd[2] = proc_output(L, 2, "stderr", logfd, &rd[1]);
  int e = (fd[0] < 0 || fd[1] < 0 || fd[2] < 0 || pipe2(pipefd, O_CLOEXEC) != 0) ? errno : 0;
  pid_t parent = getpid(), pid = -1;
  if (!e) {
    pid = fork();
    if (pid == 0) proc_child(prog, argv, envp, fd, group, pipefd[1], parent);
    if (pid < 0) e = errno;
    if (pid > 0 && group) setpgid(pid, pid); /* no race with a kill of the group */
  }
  if (pipefd[1] >= 0) close(pipefd[1]);
  if (!e) {
    /* the pipe closes at the exec (0 bytes) or carries the child's errno */
    ssize_t n;
    do n = read(pipefd[0], &e, sizeof e);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof e) e = 0;
    else waitpid(pid, NULL, 0);
  }
  if (pipefd[0] >= 0) close(pipefd[0]);
  close_fds(fd, 3, logfd);
  if (logfd >= 0) close(logfd);
  if (e) {
    close_fds(rd, 2, -1);
    return luaL_error(L, "spawn: cannot start '%s': %s", argv[0], strerror(e));
  }
  lua_pushinteger(L, pid);
  for (int i = 0; i < 2; i++)
    if (rd[i] >= 0) lua_pushinteger(L, rd[i]);
    else lua_pushnil(L);
  return 3;
}

/* wait([pid]) -> pid, code[, signal]; nil when no child has ended yet,
   false when there is no child to wait for (never blocks).  code is the
   exit status, or 128 + the signal that killed it (as sh reports it), and
   then the signal's number comes third. */
static int proc_wait(lua_State *L) {
  pid_t want = (pid_t)luaL_optinteger(L, 1, -1);
  int status;
  pid_t pid;
  do pid = waitpid(want, &status, WNOHANG);
  while (pid < 0 && errno == EINTR);
  if (pid < 0 && errno == ECHILD) {
    lua_pushboolean(L, 0);
    return 1;
  }
  if (pid < 0) return luaL_error(L, "wait: %s", strerror(errno));
  if (pid == 0) return 0;
  lua_pushinteger(L, pid);
  if (WIFEXITED(status)) {
    lua_pushinteger(L, WEXITSTATUS(status));
    return 2;
  }
  lua_pushinteger(L, 128 + WTERMSIG(status));
  lua_pushinteger(L, WTERMSIG(status));
  return 3;
}

/* kill(pid, "TERM" | "KILL" | "USR1" | "USR2" | "INT" | "HUP"[, group])
   -> boolean; group: to the process group pid leads */
static int proc_kill(lua_State *L) {
  static const char *const names[] = {"TERM", "KILL", "USR1", "USR2", "INT", "HUP", NULL};
  static const int sigs[] = {SIGTERM, SIGKILL, SIGUSR1, SIGUSR2, SIGINT, SIGHUP};
  pid_t pid = (pid_t)luaL_checkinteger(L, 1);
  if (pid <= 0) return luaL_argerror(L, 1, "a child's pid (positive) expected");
  int s = luaL_checkoption(L, 2, "TERM", names);
  lua_pushboolean(L, kill(lua_toboolean(L, 3) ? -pid : pid, sigs[s]) == 0);
  return 1;
}

#define PROC_MAX_POLL 256

/* poll({fd, ...}, seconds) -> the list of those ready to read (data or
   end of file); empty after the timeout or a signal */
static int proc_poll(lua_State *L) {
  struct pollfd p[PROC_MAX_POLL];
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_Number s = luaL_checknumber(L, 2);
  if (!(s >= 0)) return luaL_argerror(L, 2, "a non-negative number of seconds expected");
  lua_Integer n = luaL_len(L, 1);
  if (n > PROC_MAX_POLL) return luaL_argerror(L, 1, "too many descriptors");
  for (lua_Integer i = 0; i < n; i++) {
    lua_rawgeti(L, 1, i + 1);
    p[i].fd = (int)luaL_checkinteger(L, -1);
    p[i].events = POLLIN;
    lua_pop(L, 1);
  }
  int r = poll(p, (nfds_t)n, (int)(s * 1000));
  if (r < 0 && errno != EINTR) return luaL_error(L, "poll: %s", strerror(errno));
  lua_newtable(L);
  int k = 0;
  for (lua_Integer i = 0; r > 0 && i < n; i++)
    if (p[i].revents & (POLLIN | POLLHUP | POLLERR)) {
      lua_pushinteger(L, p[i].fd);
      lua_rawseti(L, -2, ++k);
    }
  return 1;
}

/* read(fd) -> the bytes there are (up to 64 KiB); nil when none yet;
   false at the end of file (the descriptor is then closed) */
static int proc_read(lua_State *L) {
  char buf[65536];
  int fd = (int)luaL_checkinteger(L, 1);
  ssize_t n;
  do n = read(fd, buf, sizeof buf);
  while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
  if (n < 0) return luaL_error(L, "read: %s", strerror(errno));
  if (n == 0) {
    close(fd);
    lua_pushboolean(L, 0);
  } else {
    lua_pushlstring(L, buf, (size_t)n);
  }
  return 1;
}

static int proc_close(lua_State *L) {
  close((int)luaL_checkinteger(L, 1));
  return 0;
}

/* free_port() -> a TCP port no socket of this machine holds now: the
   kernel's choice for a bind to port 0 (from the ephemeral range) */
static int proc_free_port(lua_State *L) {
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_ANY);
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int ok = s >= 0 && bind(s, (struct sockaddr *)&a, sizeof a) == 0 &&
           getsockname(s, (struct sockaddr *)&a, &len) == 0;
  int e = errno;
  if (s >= 0) close(s);
  if (!ok) return luaL_error(L, "free_port: %s", strerror(e));
  lua_pushinteger(L, ntohs(a.sin_port));
  return 1;
}

/* sleep(seconds): a signal ends it early (the caller polls its flag) */
static int proc_sleep(lua_State *L) {
  lua_Number s = luaL_checknumber(L, 1);
  if (!(s >= 0)) return luaL_argerror(L, 1, "a non-negative number of seconds expected");
  struct timespec ts = {(time_t)s, (long)((s - (lua_Number)(time_t)s) * 1e9)};
  nanosleep(&ts, NULL);
  return 0;
}

static int proc_cpu_count(lua_State *L) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  lua_pushinteger(L, n > 0 ? n : 1);
  return 1;
}

/* executable() -> the absolute path of this program (/proc/self/exe) */
static int proc_executable(lua_State *L) {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return luaL_error(L, "executable: cannot read /proc/self/exe: %s", strerror(errno));
  lua_pushlstring(L, buf, (size_t)n);
  return 1;
}

static const luaL_Reg proc_funcs[] = {
    {"spawn", proc_spawn}, {"wait", proc_wait},           {"kill", proc_kill},
    {"sleep", proc_sleep}, {"cpu_count", proc_cpu_count}, {"executable", proc_executable},
    {"poll", proc_poll},   {"read", proc_read},           {"close", proc_close},
    {"free_port", proc_free_port}, {NULL, NULL}};

int luaopen_clara_process_core(lua_State *L) {
  luaL_newlib(L, proc_funcs);
  return 1;
}
