/*
** l_jit.h: what the TorchScript and serialization bindings share
** (l_jit.c: values and script modules; l_serialize.c: files).
*/
#ifndef L_JIT_H
#define L_JIT_H

#include "l_tensor.h"

#define LJ_VALUE "torch.jit.Value"
#define LJ_SCRIPT "torch.jit.ScriptHandle"

/* a value userdata holding one th_value, freed by __gc (lt_newslot's habit:
   the userdata exists before the handle) */
th_value *lj_newvalue(lua_State *L);
/* convert the Lua value at idx into a th_value; pushes its box and returns
   the handle.  fname names the caller in errors */
th_value lj_tovalue(lua_State *L, int idx, const char *fname);
/* push the Lua form of v: tensors, numbers, strings, lists, tables */
void lj_pushvalue(lua_State *L, th_value v, const char *fname);

/* l_serialize.c: whole files in and out (writes are atomic) */
const char *lj_readfile(lua_State *L, const char *path, size_t *len,
                        const char *fname);
/* hand clara.limits' reader limits to the bridge (before a load) */
void lj_load_limits(lua_State *L);
void lj_writefile(lua_State *L, const char *path, const char *data,
                  size_t len, const char *fname);
void lj_open_serialize(lua_State *L); /* into the table on top */

/* l_dispatch.c: ATen operators by name (torch.ops), into the table on top */
void lj_open_dispatch(lua_State *L);

#endif
