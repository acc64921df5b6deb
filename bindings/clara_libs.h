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
int luaopen_clara_image_core(lua_State *L); /* l_image.c: image decoding */
int luaopen_torch_nn_core(lua_State *L); /* l_nn.c */
int luaopen_torch_optim_core(lua_State *L); /* l_optim.c */
int luaopen_torch_jit_core(lua_State *L); /* l_jit.c */
int luaopen_clara_losses_core(lua_State *L); /* l_losses.c */
int luaopen_clara_signal_core(lua_State *L); /* l_signal.c */
void claraS_install_early(void); /* l_signal.c: flag handlers before Lua starts */
int luaopen_torch_rng_core(lua_State *L); /* l_rng.c */
int luaopen_clara_sys_core(lua_State *L); /* l_sys.c */
int luaopen_clara_train_fast_core(lua_State *L); /* l_fused.c */
int luaopen_clara_process_core(lua_State *L); /* l_process.c */
int luaopen_torch_distributed_core(lua_State *L); /* l_dist.c */
int luaopen_clara_data_workers_core(lua_State *L); /* l_workers.c */
int luaopen_clara_transforms_core(lua_State *L); /* l_augment.c: batch augmentation */

/* every C module, by the name `require` knows it (lists end with
   {NULL, NULL}): those without libtorch, linked into the program, which
   puts them in package.preload; and those of libclara_torch.so, which the
   runtime finds through a package searcher that loads the library on first
   use (linked in statically, e.g. in the C tests, they are used directly) */
extern const luaL_Reg clara_preloads[];
extern const luaL_Reg clara_torch_preloads[];

#endif
