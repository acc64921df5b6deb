/*
** clara_libs.h: what the C bindings offer the runtime.
*/
#ifndef CLARA_LIBS_H
#define CLARA_LIBS_H

#include <lauxlib.h>
#include <lua.h>

/* the C half of the torch module (tensors, creation, autograd) */
int luaopen_torch_core(lua_State *L);

/* every C module, by the name `require` knows it; the runtime puts each in
   package.preload (the list ends with {NULL, NULL}) */
extern const luaL_Reg clara_preloads[];

#endif
