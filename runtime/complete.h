/*
** complete.h: tab completion of Lua names for the REPL.
*/
#ifndef CLARA_COMPLETE_H
#define CLARA_COMPLETE_H

#include <lua.h>

/*
** Completions of 'text', a name or a chain such as "torch.nn.fu" or
** "t:ad": globals and keywords; after '.', the fields of the value (its
** keys, those of its metatable's __index tables, and of its metatable's
** __fields table); after ':', only the fields that are functions.
** Returns a sorted NULL-terminated array of malloc'd strings (free each
** and the array), or NULL when there is none.  Never raises.
*/
char **claraC_candidates(lua_State *L, const char *text);

/* let libedit complete with the globals of L */
void claraC_install(lua_State *L);

#endif
