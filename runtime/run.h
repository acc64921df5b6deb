/*
** run.h: running chunks the way lua.c does (message handler with a
** traceback, Ctrl-C as a Lua error, error reports on stderr).
*/
#ifndef CLARA_RUN_H
#define CLARA_RUN_H

#include <lua.h>

/* name put before error messages; NULL for none (the REPL) */
void claraD_setprogname(const char *name);
const char *claraD_progname(void);

/* print 'msg' on stderr, after 'pname: ' when pname is not NULL */
void claraD_message(const char *pname, const char *msg);

/* if status is not LUA_OK, print the error on top of the stack and pop it */
int claraD_report(lua_State *L, int status);

/* lua_pcall with a traceback handler; SIGINT raises "interrupted!" */
int claraD_docall(lua_State *L, int narg, int nres);

/* on (the REPL): a first Ctrl-C while a Lua module clara.repl.interrupt
   says a training run is in progress (its field soft > 0) only sets its
   field pending, for the run to stop at its next step; a second raises */
void claraD_setsoft(int on);

/* load and run a string or a file (NULL: stdin), then report */
int claraD_dostring(lua_State *L, const char *s, const char *name);
int claraD_dofile(lua_State *L, const char *name);

#endif
