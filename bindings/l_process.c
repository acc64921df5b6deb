/*
** l_process.c: clara.process.core.  What a battery needs to run its
** entries as separate processes, N at a time: start a program with its
** output in a log file and a few environment variables changed, reap
** finished children without blocking, stop them, and a few facts about
** the machine (cores, this program's path).
*/
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
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

/* spawn({prog, args...}, {log = path, env = {NAME = value}}) -> pid.
   stdout and stderr go to the log (appended), stdin is /dev/null. */
static int proc_spawn(lua_State *L) {
  const char *argv[PROC_MAX_ARGS];
  luaL_checktype(L, 1, LUA_TTABLE);
  if (lua_isnoneornil(L, 2)) lua_newtable(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  proc_argv(L, 1, argv);
  lua_getfield(L, 2, "log");
  const char *log = luaL_optstring(L, -1, "/dev/null");
  const char **envp = proc_env(L, 2);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid;
  int rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, (char *const *)envp);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return luaL_error(L, "spawn: cannot start '%s': %s", argv[0], strerror(rc));
  lua_pushinteger(L, pid);
  return 1;
}

/* wait([pid]) -> pid, code; nil when no child has ended yet, false when
   there is no child to wait for (never blocks).  code is the exit status,
   or 128 + the signal that killed it (as sh reports it). */
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
  lua_pushinteger(L, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  return 2;
}

/* kill(pid, "TERM" | "KILL" | "USR1" | "INT") -> boolean */
static int proc_kill(lua_State *L) {
  static const char *const names[] = {"TERM", "KILL", "USR1", "INT", NULL};
  static const int sigs[] = {SIGTERM, SIGKILL, SIGUSR1, SIGINT};
  pid_t pid = (pid_t)luaL_checkinteger(L, 1);
  if (pid <= 0) return luaL_argerror(L, 1, "a child's pid (positive) expected");
  int s = luaL_checkoption(L, 2, "TERM", names);
  lua_pushboolean(L, kill(pid, sigs[s]) == 0);
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
    {NULL, NULL}};

int luaopen_clara_process_core(lua_State *L) {
  luaL_newlib(L, proc_funcs);
  return 1;
}
