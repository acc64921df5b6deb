/*
** l_dispatch.c: ATen operators by schema name for torch.jit.core
** (op_call, op_function, op_exists, op_schema; torch.ops over them): the
** arguments become values as script methods' do, the results come back
** as Lua values, several returns as several values.
*/
#include "l_jit.h"

/* an ATen operator through the dispatcher, its name and overload at
   upvalues 2 and 3 (or at arguments 1 and 2 when first = 3); several
   returns are several values */
static int op_call(lua_State *L, const char *name, const char *overload, int first) {
  int nargs = lua_gettop(L) - first + 1;
  if (nargs > 64) return luaL_error(L, "%s: too many arguments", name);
  th_value args[64];
  for (int i = 0; i < nargs; i++) args[i] = lj_tovalue(L, first + i, name);
  th_value *out = lj_newvalue(L);
  if (th_op_call(out, name, overload, args, nargs) != 0) return lt_fail(L, name);
  if (th_value_kind(*out) != TH_V_TUPLE) {
    lj_pushvalue(L, *out, name);
    return 1;
  }
  int64_t n = th_value_len(*out);
  luaL_checkstack(L, (int)n + 1, name);
  for (int64_t i = 0; i < n; i++) {
    th_value *item = lj_newvalue(L);
    if (th_value_at(item, *out, i) != 0) return lt_fail(L, name);
    lj_pushvalue(L, *item, name);
    lua_remove(L, -2);
  }
  return (int)n;
}

static int op_closure(lua_State *L) {
  return op_call(L, lua_tostring(L, lua_upvalueindex(2)), lua_tostring(L, lua_upvalueindex(3)), 1);
}

/* op_call(name, overload, ...) */
static int j_op_call(lua_State *L) {
  return op_call(L, luaL_checkstring(L, 1), luaL_checkstring(L, 2), 3);
}

/* op_function(name, overload): the operator as a function of its arguments,
   whose errors point at its caller's line */
static int j_op_function(lua_State *L) {
  luaL_checkstring(L, 1);
  luaL_checkstring(L, 2);
  lua_settop(L, 2);
  lua_pushvalue(L, LT_META); /* upvalue 1 of every tensor function */
  lua_insert(L, 1);
  lua_pushcclosure(L, op_closure, 3);
  return 1;
}

static int j_op_exists(lua_State *L) {
  int r = th_op_exists(luaL_checkstring(L, 1), luaL_checkstring(L, 2));
  if (r < 0) return lt_fail(L, "op_exists");
  lua_pushboolean(L, r);
  return 1;
}

static int j_op_schema(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  th_value *out = lj_newvalue(L);
  if (th_op_schema(out, name, luaL_checkstring(L, 2)) != 0) return lt_fail(L, name);
  lj_pushvalue(L, *out, name);
  return 1;
}

static const luaL_Reg dispatch_functions[] = {
    {"op_call", j_op_call},
    {"op_exists", j_op_exists},
    {"op_function", j_op_function},
    {"op_schema", j_op_schema},
    {NULL, NULL}};

void lj_open_dispatch(lua_State *L) { lt_register(L, dispatch_functions); }
