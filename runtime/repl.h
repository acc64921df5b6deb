/*
** repl.h: the interactive loop of clara.
*/
#ifndef CLARA_REPL_H
#define CLARA_REPL_H

#include <lua.h>

/* read-eval-print until end of input (Ctrl-D); line editing, history and
   completion when stdin is a terminal.  Leaves the stack empty. */
void claraR_repl(lua_State *L);

#endif
