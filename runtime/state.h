/*
** state.h: a lua_State set up for clara: standard libraries, module paths
** (clara's stdlib first, then Lua's), the C modules (libtorch's loaded on
** first use), and the globals torch, nn, optim, clara (required when first
** read).
*/
#ifndef CLARA_STATE_H
#define CLARA_STATE_H

#include <lua.h>

#ifndef CLARA_PREFIX
#define CLARA_PREFIX "/usr/local"
#endif

/* Everything below, in order.  Raises errors: call it in protected mode
   (it is a lua_CFunction, so lua_pushcfunction + lua_pcall will do).  To
   make package.path ignore LUA_PATH & co., set registry.LUA_NOENV first. */
int claraS_openlibs(lua_State *L);

/* prepend clara's stdlib (and library) directory to package.path (and
   package.cpath), from the tree the program is in: the build tree
   (./stdlib, ./build), an installed tree (PREFIX/share/clara/stdlib,
   PREFIX/lib/clara, PREFIX being the parent of the program's directory),
   else the CLARA_PREFIX it was built with; append Debian's Lua 5.4
   directories when they are missing */
void claraS_setpaths(lua_State *L);

/* package.preload["clara.sys.core"] = luaopen_clara_sys_core, ...; and a
   package searcher for libtorch's modules, which loads libclara_torch.so */
void claraS_preloadcore(lua_State *L);

/* reading the global torch (nn, optim, clara) requires "torch" (...) */
void claraS_loadglobals(lua_State *L);

/* require the four globals now (the REPL, so completion sees them); a
   lua_CFunction, to call in protected mode */
int claraS_requireglobals(lua_State *L);

/* the directory holding the running executable, or NULL */
const char *claraS_exedir(void);

#endif
