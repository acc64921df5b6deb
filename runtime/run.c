/*
** run.c: protected calls with a traceback, Ctrl-C as a Lua error, and
** error reports, as in lua.c.
*/
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <lua.h>
#include <lauxlib.h>

#include "run.h"

static const char *progname = "clara";

/* the state running a chunk, for the SIGINT handler */
static lua_State *globalL = NULL;

/* whether a Ctrl-C may ask a training run to stop (claraD_setsoft) */
static int softok = 0;
#define SOFTMODULE "clara.repl.interrupt"

void claraD_setprogname(const char *name) { progname = name; }

const char *claraD_progname(void) { return progname; }

void claraD_message(const char *pname, const char *msg) {
  if (pname) fprintf(stderr, "%s: ", pname);
  fprintf(stderr, "%s\n", msg);
  fflush(stderr);
}

int claraD_report(lua_State *L, int status) {
  if (status != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    if (msg == NULL) msg = "(error object is not a string)";
    claraD_message(progname, msg);
    lua_pop(L, 1);
  }
  return status;
}

/* error objects that are not strings still get a readable message */
static int msghandler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
      return 1; /* its own description is the message */
    msg = lua_pushfstring(L, "(error object is a %s value)",
                          luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

static void setsignal(int sig, void (*handler)(int), struct sigaction *old) {
  struct sigaction sa;
  sa.sa_handler = handler;
  sa.sa_flags = 0;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, old);
}

static void laction(int sig);

void claraD_setsoft(int on) { softok = on; }

/* a training run in progress and no Ctrl-C pending yet: marks it pending
   (raw reads and writes: no user code runs in the hook) and returns 1 */
static int softstop(lua_State *L) {
  int soft = 0;
  if (!softok) return 0;
  lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  lua_pushliteral(L, SOFTMODULE);
  if (lua_rawget(L, -2) == LUA_TTABLE) {
    lua_pushliteral(L, "soft");
    lua_rawget(L, -2);
    lua_pushliteral(L, "pending");
    lua_rawget(L, -3);
    soft = lua_tointeger(L, -2) > 0 && !lua_toboolean(L, -1);
    lua_pop(L, 2);
    if (soft) {
      lua_pushliteral(L, "pending");
      lua_pushboolean(L, 1);
      lua_rawset(L, -3);
    }
  }
  lua_pop(L, 2);
  return soft;
}

/* the hook raises the error at a point where Lua code can unwind safely;
   a run that stops at its next step instead gets the handler back, for a
   second Ctrl-C */
static void lstop(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  if (softstop(L)) {
    fputs("\nCtrl-C: the run stops after this step and returns what it has "
          "(Ctrl-C again stops it at once)\n", stderr);
    fflush(stderr);
    setsignal(SIGINT, laction, NULL);
    return;
  }
  luaL_error(L, "interrupted!");
}

/* a signal handler may only set a hook; a second Ctrl-C, if the hook never
   runs (a long C call), kills the process */
static void laction(int sig) {
  int flag = LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT;
  setsignal(sig, SIG_DFL, NULL);
  lua_sethook(globalL, lstop, flag, 1);
}

int claraD_docall(lua_State *L, int narg, int nres) {
  int status;
  int base = lua_gettop(L) - narg;
  struct sigaction old;
  lua_pushcfunction(L, msghandler);
  lua_insert(L, base);
  globalL = L;
  /* a handler of the program's own (clara run's flag handler, installed
     before the state existed) is its answer to Ctrl-C: keep it */
  sigaction(SIGINT, NULL, &old);
  if (old.sa_handler == SIG_DFL || old.sa_handler == SIG_IGN || old.sa_handler == laction)
    setsignal(SIGINT, laction, &old);
  status = lua_pcall(L, narg, nres, base);
  sigaction(SIGINT, &old, NULL);
  /* a Ctrl-C that came too late to stop the chunk must not stop the next */
  if (lua_gethook(L) == lstop) lua_sethook(L, NULL, 0, 0);
  lua_remove(L, base);
  return status;
}

int claraD_dostring(lua_State *L, const char *s, const char *name) {
  int status = luaL_loadbuffer(L, s, strlen(s), name);
  if (status == LUA_OK) status = claraD_docall(L, 0, 0);
  return claraD_report(L, status);
}

int claraD_dofile(lua_State *L, const char *name) {
  int status = luaL_loadfile(L, name);
  if (status == LUA_OK) status = claraD_docall(L, 0, 0);
  return claraD_report(L, status);
}
