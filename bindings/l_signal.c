/*
** l_signal.c: clara.signal.core.  A long training run must survive the
** scheduler's SIGTERM (or SIGUSR1 before a time limit, or a Ctrl-C): the
** handlers here only record which signal came, and the training loop asks
** at its next step, checkpoints and exits.  Nothing else is safe in a
** handler (no Lua, no malloc, no libtorch).  Also fsync for the atomic
** writes of clara.fs, which plain Lua cannot do.
*/
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "clara_libs.h"

static const struct {
  const char *name;
  int sig;
} known[] = {{"TERM", SIGTERM}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2},
             {"INT", SIGINT},   {"HUP", SIGHUP},   {NULL, 0}};

#define NKNOWN (sizeof(known) / sizeof(known[0]) - 1)

/* the signal that came first since the last clear(), 0 for none */
static volatile sig_atomic_t caught = 0;
/* the handlers that were there before install(), per entry of known[] */
static struct sigaction saved[NKNOWN];
static int installed[NKNOWN];

static void onsignal(int sig) {
  if (caught == 0) caught = sig;
}

/* our handler for known[i]; the first install saves the previous one */
static int install_one(int i) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = onsignal;
  sa.sa_flags = SA_RESTART; /* reads and writes go on; the loop polls */
  sigemptyset(&sa.sa_mask);
  struct sigaction *old = installed[i] ? NULL : &saved[i];
  if (sigaction(known[i].sig, &sa, old) != 0) return -1;
  installed[i] = 1;
  return 0;
}

static int sig_index(lua_State *L, const char *fname, const char *name) {
  for (int i = 0; known[i].name; i++)
    if (strcmp(known[i].name, name) == 0) return i;
  return luaL_error(L,
                    "clara.signal.%s: unknown signal '%s' (known: TERM, "
                    "USR1, USR2, INT, HUP)",
                    fname, name);
}

/* install({"TERM", "USR1", "INT"}): our handler for each; a second install
   of the same signal keeps the first saved handler, so restore() always
   returns to what was there before clara touched it */
static int s_install(lua_State *L) {
  int want[NKNOWN] = {0};
  luaL_checktype(L, 1, LUA_TTABLE);
  /* 1. check every name before changing anything */
  lua_Integer len = luaL_len(L, 1);
  if (len < 1)
    return luaL_error(L, "clara.signal.install: list of signal names expected "
                         "(an empty list)");
  for (lua_Integer k = 1; k <= len; k++) {
    lua_geti(L, 1, k);
    if (lua_type(L, -1) != LUA_TSTRING)
      return luaL_error(L, "clara.signal.install: signal names must be "
                           "strings, got %s at %d",
                        luaL_typename(L, -1), (int)k);
    int i = sig_index(L, "install", lua_tostring(L, -1));
    lua_pop(L, 1);
    want[i] = 1;
  }
  /* 2. install, keeping the previous handlers */
  for (int i = 0; i < (int)NKNOWN; i++)
    if (want[i] && install_one(i) != 0)
      return luaL_error(L, "clara.signal.install: SIG%s: %s", known[i].name,
                        strerror(errno));
  return 0;
}

/* clara run / battery: the flag handlers from the process's first
   instruction, before the Lua state exists, so a scheduler's signal during
   start-up is answered like one during training (clara.signal.install
   later finds them installed and keeps the saved defaults) */
void claraS_install_early(void) {
  static const int sigs[] = {SIGTERM, SIGUSR1, SIGINT};
  for (int i = 0; known[i].name; i++)
    for (size_t k = 0; k < sizeof sigs / sizeof sigs[0]; k++)
      if (known[i].sig == sigs[k]) install_one(i);
}

/* restore(): the handlers install() replaced.  A handler someone else set
   since (the runtime puts its own SIGINT handler back after each chunk)
   is left alone. */
static int s_restore(lua_State *L) {
  (void)L;
  for (int i = 0; known[i].name; i++)
    if (installed[i]) {
      struct sigaction cur;
      if (sigaction(known[i].sig, NULL, &cur) == 0 &&
          cur.sa_handler == onsignal)
        sigaction(known[i].sig, &saved[i], NULL);
      installed[i] = 0;
    }
  return 0;
}

/* pending() -> "TERM" | "USR1" | ... | nil */
static int s_pending(lua_State *L) {
  int sig = caught;
  for (int i = 0; known[i].name; i++)
    if (known[i].sig == sig) {
      lua_pushstring(L, known[i].name);
      return 1;
    }
  lua_pushnil(L);
  return 1;
}

static int s_clear(lua_State *L) {
  (void)L;
  caught = 0;
  return 0;
}

/* installed() -> list of names whose handler is ours */
static int s_installed(lua_State *L) {
  lua_newtable(L);
  int n = 0;
  for (int i = 0; known[i].name; i++)
    if (installed[i]) {
      lua_pushstring(L, known[i].name);
      lua_rawseti(L, -2, ++n);
    }
  return 1;
}

/* raise(name): deliver a signal to this process (tests) */
static int s_raise(lua_State *L) {
  int i = sig_index(L, "raise", luaL_checkstring(L, 1));
  if (raise(known[i].sig) != 0)
    return luaL_error(L, "clara.signal.raise: %s", strerror(errno));
  return 0;
}

static int sync_fd_of(lua_State *L, const char *path, int flags,
                      const char *fname) {
  int fd = open(path, flags);
  if (fd < 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "%s: cannot open '%s': %s", fname, path,
                    strerror(errno));
    return 2;
  }
  int rc = fsync(fd), e = errno;
  close(fd);
  if (rc != 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "%s: '%s': %s", fname, path, strerror(e));
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* fsync_path(path) -> true | nil, message: the file's bytes reach disk */
static int s_fsync_path(lua_State *L) {
  return sync_fd_of(L, luaL_checkstring(L, 1), O_RDONLY, "fsync_path");
}

/* fsync_dir(dir) -> true | nil, message: a rename in dir reaches disk */
static int s_fsync_dir(lua_State *L) {
  return sync_fd_of(L, luaL_checkstring(L, 1), O_RDONLY | O_DIRECTORY,
                    "fsync_dir");
}

static int s_getpid(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)getpid());
  return 1;
}

static const luaL_Reg signal_functions[] = {
    {"install", s_install},       {"restore", s_restore},
    {"pending", s_pending},       {"clear", s_clear},
    {"installed", s_installed},   {"raise", s_raise},
    {"fsync_path", s_fsync_path}, {"fsync_dir", s_fsync_dir},
    {"getpid", s_getpid},         {NULL, NULL}};

int luaopen_clara_signal_core(lua_State *L) {
  luaL_newlib(L, signal_functions);
  return 1;
}
