/*
** l_tensor.h: what the tensor binding files share.
**
** A tensor is a full userdata holding one th_tensor handle.  The userdata is
** created before the handle is acquired (liolib's newprefile habit), so that
** a Lua error at any point leaves nothing unowned: __gc frees what is there.
** Every C function of the tensor library has the tensor metatable as
** upvalue 1, which makes the type check a pointer comparison.
*/
#ifndef L_TENSOR_H
#define L_TENSOR_H

#include <lauxlib.h>
#include <lua.h>

#include "torch_bridge.h"

#define LT_TYPENAME "torch.Tensor"
#define LT_META lua_upvalueindex(1)

/* l_tensor.c: the userdata */
th_tensor *lt_newslot(lua_State *L);       /* push an empty tensor userdata */
void lt_done(lua_State *L, th_tensor *slot); /* account for a filled slot */
th_tensor lt_check(lua_State *L, int arg);
th_tensor lt_test(lua_State *L, int arg);  /* NULL if not a tensor */
th_tensor lt_other(lua_State *L, int arg); /* tensor, or number wrapped */
int lt_fail(lua_State *L, const char *fname); /* raise the bridge's error */
/* l_error.c: push (and return) the bridge's error as users read it */
const char *lt_errormsg(lua_State *L, const char *fname);
int lt_push(lua_State *L, th_tensor *slot, int rc, const char *fname);

/* l_args.c: argument conventions shared by every binding */
int64_t lt_checkdim(lua_State *L, int arg, th_tensor t, int extra);
int64_t lt_optdim(lua_State *L, int arg, th_tensor t, int64_t def);
int lt_checksizes(lua_State *L, int first, int last, int64_t *sizes);
int lt_optsizes_end(lua_State *L, int first); /* last size arg before opts */
th_options lt_checkoptions(lua_State *L, int arg, th_options def,
                           const char *const *extra);
int lt_checkdtype(lua_State *L, int arg);
int lt_checkdevice(lua_State *L, int arg, const char *name);
int lt_dtype_from_name(const char *name);
th_scalar lt_checkscalar(lua_State *L, int arg);
int lt_optbool(lua_State *L, int arg, const char *key, int def);
double lt_optnumber(lua_State *L, int arg, const char *key, double def);
void lt_pushscalar(lua_State *L, th_scalar s);
void lt_checkkeys(lua_State *L, int arg, const char *fname, const char *const *known);
int lt_optdtype(lua_State *L, int arg); /* TH_DTYPE_DEFAULT when absent */
void lt_checkbytes(lua_State *L, const char *fname, const int64_t *sizes, int n, int dtype);
void lt_checkcount(lua_State *L, const char *fname, double count, int dtype);

/* registration of each file's functions into the method table and torch */
/* (stack indices of the metatable, the method table and the torch table;
   0 for "not into this one") */
void lt_setfuncs(lua_State *L, const luaL_Reg *l, int meta, int methods,
                 int torch);
void lt_register(lua_State *L, const luaL_Reg *l); /* into the table on top */
void lt_open_ops(lua_State *L, int meta, int methods, int torch);
void lt_open_reduce(lua_State *L, int meta, int methods, int torch);
void lt_open_shape(lua_State *L, int meta, int methods, int torch);
void lt_open_index(lua_State *L, int meta, int methods, int torch);
void lt_open_create(lua_State *L, int meta, int methods, int torch);
void lt_open_autograd(lua_State *L, int meta, int methods, int torch);
void lt_open_state(lua_State *L, int meta, int methods, int torch);

/* l_index.c: t[k] and t[k] = v beyond method names */
int lt_index_get(lua_State *L);    /* (t, k) -> value */
int lt_index_set(lua_State *L);    /* (t, k, v) */

#endif
