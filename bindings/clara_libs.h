/*
** clara_libs.h: what the C bindings offer the runtime.
*/
#ifndef CLARA_LIBS_H
#define CLARA_LIBS_H

#include <lua.h>

/* the C half of the torch module (tensors, creation, autograd) */
int luaopen_torch_core(lua_State *L);

#endif
