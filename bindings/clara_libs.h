/*
** clara_libs.h: what the C bindings offer the runtime.
*/
#ifndef CLARA_LIBS_H
#define CLARA_LIBS_H

#include <lauxlib.h>
#include <lua.h>

/* the C half of the torch module (tensors, creation, autograd) */
int luaopen_torch_core(lua_State *L);
int luaopen_clara_data_core(lua_State *L); /* l_data.c: clara.data readers */
int luaopen_torch_nn_core(lua_State *L); /* l_nn.c */
int luaopen_torch_optim_core(lua_State *L); /* l_optim.c */
int luaopen_torch_jit_core(lua_State *L); /* l_jit.c */
int luaopen_clara_losses_core(lua_State *L); /* l_losses.c */
int luaopen_clara_signal_core(lua_State *L); /* l_signal.c */
int luaopen_torch_rng_core(lua_State *L); /* l_rng.c */
int luaopen_clara_sys_core(lua_State *L); /* l_sys.c */
int luaopen_clara_train_fast_core(lua_State *L); /* l_fused.c */
int luaopen_clara_process_core(lua_State *L); /* l_process.c */

/* every C module, by the name `require` knows it; the runtime puts each in
   package.preload (the list ends with {NULL, NULL}) */
extern const luaL_Reg clara_preloads[];

#endif
