/*
** repl.c: the interactive loop: libedit line editing and history,
** multi-line input, results printed by clara.repl.show, `?name` for
** help(name) (clara.repl.help), and Ctrl-C during a training run asking
** it to stop at its next step (see run.h).
*/
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <editline/readline.h>

#include <lua.h>
#include <lauxlib.h>

#include "complete.h"
#include "state.h"
#include "repl.h"
#include "run.h"

#define PROMPT "> "
#define PROMPT2 ">> "
#define HISTORY_MAX 1000

/* registry keys of the Lua halves, loaded when the REPL starts */
#define REPL_SHOW "clara.repl.show"
#define REPL_HELP "clara.repl.help"

/* the end of the message of a syntax error that more input may fix */
#define EOFMARK "<eof>"
#define MARKLEN (sizeof(EOFMARK) / sizeof(char) - 1)

/* what loadline returns besides a load status */
#define ENDOFINPUT (-1) /* Ctrl-D */
#define ABANDONED (-2)  /* Ctrl-C: forget the input */

static int editing = 0;        /* stdin is a terminal: libedit reads it */
static char *histfile = NULL;  /* NULL: no history file */
static volatile sig_atomic_t interrupted = 0;

static void onsigint(int sig) {
  (void)sig;
  interrupted = 1;
}

/* CLARA_HISTORY, else ~/.clara_history; CLARA_HISTORY="" keeps none */
static char *historypath(void) {
  const char *env = getenv("CLARA_HISTORY");
  const char *home = getenv("HOME");
  char *path;
  if (env != NULL) return *env ? strdup(env) : NULL;
  if (home == NULL || *home == '\0') return NULL;
  path = malloc(strlen(home) + sizeof("/.clara_history"));
  if (path) sprintf(path, "%s/.clara_history", home);
  return path;
}

static void initediting(lua_State *L) {
  editing = isatty(STDIN_FILENO);
  if (!editing) return;
  /* libedit needs the character type to take UTF-8 input; the numeric
     locale stays "C" so that Lua reads and prints numbers as usual */
  setlocale(LC_CTYPE, "");
  rl_readline_name = "clara"; /* for ~/.editrc */
  /* libedit's own SIGINT handler would signal our whole process group */
  rl_catch_signals = 0;
  claraC_install(L);
  using_history();
  stifle_history(HISTORY_MAX);
  histfile = historypath();
  if (histfile) read_history(histfile);
}

static void closeediting(void) {
  free(histfile);
  histfile = NULL;
}

/* the file is rewritten at each entry so a killed session loses nothing */
static void saveline(const char *line) {
  if (!editing || line[0] == '\0') return;
  add_history(line);
  if (histfile) write_history(histfile);
}

/* a malloc'd line without its newline, or NULL at end of input or on
   Ctrl-C (then 'interrupted' is set) */
static char *readinput(const char *prompt) {
  char *line = NULL;
  interrupted = 0;
  if (editing) {
    /* no SA_RESTART: Ctrl-C must make libedit's read fail */
    struct sigaction sa, old;
    sa.sa_handler = onsigint;
    sa.sa_flags = 0;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old);
    fflush(stdout);
    line = readline(prompt);
    sigaction(SIGINT, &old, NULL);
  }
  else {
    size_t cap = 0;
    ssize_t n;
    fputs(prompt, stdout);
    fflush(stdout);
    n = getline(&line, &cap, stdin);
    if (n < 0) {
      free(line);
      line = NULL;
    }
    else if (n > 0 && line[n - 1] == '\n') line[n - 1] = '\0';
  }
  return line;
}

/* _PROMPT and _PROMPT2 as in lua.c, read raw: a strict-mode _G must not
   raise here */
static const char *pushprompt(lua_State *L, int firstline) {
  lua_pushglobaltable(L);
  lua_pushstring(L, firstline ? "_PROMPT" : "_PROMPT2");
  lua_rawget(L, -2);
  lua_remove(L, -2);
  if (lua_type(L, -1) != LUA_TSTRING) {
    lua_pop(L, 1);
    lua_pushstring(L, firstline ? PROMPT : PROMPT2);
  }
  return lua_tostring(L, -1);
}

/* the chunk "?text" stands for, from clara.repl.help.line (the text
   itself if that fails: its error then shows) */
static void pushhelpline(lua_State *L, const char *text) {
  lua_getfield(L, LUA_REGISTRYINDEX, REPL_HELP);
  if (lua_type(L, -1) == LUA_TTABLE) {
    lua_getfield(L, -1, "line");
    lua_pushstring(L, text);
    if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_type(L, -1) == LUA_TSTRING) {
      lua_remove(L, -2);
      return;
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  lua_pushstring(L, text);
}

/* pushes the next line: 1, or 0 at end of input, or ABANDONED */
static int pushline(lua_State *L, int firstline) {
  char *line = readinput(pushprompt(L, firstline));
  lua_pop(L, 1);
  if (line == NULL) return interrupted ? ABANDONED : 0;
  if (firstline && line[0] == '=') /* lua 5.2 habit: "=x" prints x */
    lua_pushfstring(L, "return %s", line + 1);
  else if (firstline && line[0] == '?') /* ?name: help(name) */
    pushhelpline(L, line + 1);
  else lua_pushstring(L, line);
  free(line);
  return 1;
}

static char lastchar(const char *s) {
  size_t n = strlen(s);
  while (n > 0 && strchr(" \t\r\n", s[n - 1])) n--;
  return n > 0 ? s[n - 1] : '\0';
}

/* the line as an expression, so that its value is printed */
static int addreturn(lua_State *L) {
  const char *line = lua_tostring(L, -1);
  const char *retline = lua_pushfstring(
      L, lastchar(line) == ';' ? "return %s" : "return %s;", line);
  int status = luaL_loadbuffer(L, retline, strlen(retline), "=stdin");
  if (status == LUA_OK) {
    lua_remove(L, -2);
    saveline(line);
  }
  else lua_pop(L, 2);
  return status;
}

static int incomplete(lua_State *L, int status) {
  if (status == LUA_ERRSYNTAX) {
    size_t lmsg;
    const char *msg = lua_tolstring(L, -1, &lmsg);
    if (lmsg >= MARKLEN && strcmp(msg + lmsg - MARKLEN, EOFMARK) == 0) {
      lua_pop(L, 1);
      return 1;
    }
  }
  return 0;
}

/* adds lines to the one at index 1 until they make a complete chunk */
static int multiline(lua_State *L) {
  for (;;) {
    size_t len;
    const char *chunk = lua_tolstring(L, 1, &len);
    int status = luaL_loadbuffer(L, chunk, len, "=stdin");
    int more;
    if (!incomplete(L, status)) {
      saveline(chunk);
      return status;
    }
    more = pushline(L, 0);
    if (more == ABANDONED) return ABANDONED;
    if (more == 0) { /* end of input: report what is missing */
      saveline(chunk);
      return luaL_loadbuffer(L, chunk, len, "=stdin");
    }
    lua_pushliteral(L, "\n");
    lua_insert(L, -2);
    lua_concat(L, 3);
  }
}

/* reads a chunk and compiles it; a trailing ';' sets *silent */
static int loadline(lua_State *L, int *silent) {
  int status;
  lua_settop(L, 0);
  status = pushline(L, 1);
  if (status != 1) return status == 0 ? ENDOFINPUT : ABANDONED;
  if ((status = addreturn(L)) != LUA_OK) status = multiline(L);
  if (status == ABANDONED) return ABANDONED;
  *silent = lastchar(lua_tostring(L, 1)) == ';';
  lua_remove(L, 1);
  return status;
}

/* the values tab-separated as clara.repl.show renders them (tostring
   without it), written at once so a failing __tostring does not leave half
   of the text */
static int printresults(lua_State *L) {
  int i, n = lua_gettop(L);
  size_t len;
  const char *s;
  luaL_Buffer b;
  if (lua_getfield(L, LUA_REGISTRYINDEX, REPL_SHOW) == LUA_TTABLE &&
      lua_getfield(L, -1, "results") == LUA_TFUNCTION) {
    lua_insert(L, 1);
    lua_pop(L, 1);
    lua_call(L, n, 1);
    lua_pushliteral(L, "\n");
    lua_concat(L, 2);
  }
  else {
    lua_settop(L, n);
    luaL_buffinit(L, &b);
    for (i = 1; i <= n; i++) {
      if (i > 1) luaL_addchar(&b, '\t');
      luaL_tolstring(L, i, NULL);
      luaL_addvalue(&b);
    }
    luaL_addchar(&b, '\n');
    luaL_pushresult(&b);
  }
  s = lua_tolstring(L, -1, &len);
  fwrite(s, 1, len, stdout);
  fflush(stdout);
  return 0;
}

static void print(lua_State *L) {
  int n = lua_gettop(L);
  if (n > 0) {
    luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
    lua_pushcfunction(L, printresults);
    lua_insert(L, 1);
    claraD_report(L, claraD_docall(L, n, 0));
  }
}

/* clara.repl.show and clara.repl.help into the registry, help() into the
   globals (raw: a strict _G refuses new names); without them the REPL
   prints with tostring */
static int loadhalves(lua_State *L) {
  lua_getglobal(L, "require");
  lua_pushliteral(L, REPL_SHOW);
  lua_call(L, 1, 1);
  lua_setfield(L, LUA_REGISTRYINDEX, REPL_SHOW);
  lua_getglobal(L, "require");
  lua_pushliteral(L, REPL_HELP);
  lua_call(L, 1, 1);
  lua_pushvalue(L, -1);
  lua_setfield(L, LUA_REGISTRYINDEX, REPL_HELP);
  lua_pushglobaltable(L);
  lua_pushliteral(L, "help");
  lua_getfield(L, -3, "help");
  lua_rawset(L, -3);
  return 0;
}

void claraR_repl(lua_State *L) {
  const char *progname = claraD_progname();
  int status, silent = 0;
  claraD_setprogname(NULL); /* errors typed in need no "clara:" */
  lua_pushcfunction(L, claraS_requireglobals);
  claraD_report(L, lua_pcall(L, 0, 0, 0));
  lua_pushcfunction(L, loadhalves);
  claraD_report(L, lua_pcall(L, 0, 0, 0));
  initediting(L);
  claraD_setsoft(1);
  while ((status = loadline(L, &silent)) != ENDOFINPUT) {
    if (status == ABANDONED) {
      fputs("\n", stdout);
      continue;
    }
    if (status == LUA_OK) status = claraD_docall(L, 0, LUA_MULTRET);
    if (status == LUA_OK) {
      if (!silent) print(L);
    }
    else claraD_report(L, status);
  }
  claraD_setsoft(0);
  lua_settop(L, 0);
  fputs("\n", stdout);
  fflush(stdout);
  closeediting();
  claraD_setprogname(progname);
}
