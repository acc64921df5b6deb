/*
** l_state.c: libtorch's global state seen from Lua: seeds, threads,
** versions, devices.
*/
#include "l_tensor.h"

static int g_manual_seed(lua_State *L) {
  lua_Integer seed = luaL_checkinteger(L, 1);
  if (th_manual_seed((uint64_t)seed) != 0) return lt_fail(L, "manual_seed");
  return 0;
}

static int g_initial_seed(lua_State *L) {
  uint64_t seed;
  if (th_seed(&seed) != 0) return lt_fail(L, "initial_seed");
  lua_pushinteger(L, (lua_Integer)seed);
  return 1;
}

static int g_set_num_threads(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  luaL_argcheck(L, n >= 1 && n <= 4096, 1, "number of threads must be in 1..4096");
  if (th_set_num_threads((int)n) != 0) return lt_fail(L, "set_num_threads");
  return 0;
}

static int g_get_num_threads(lua_State *L) {
  lua_pushinteger(L, th_get_num_threads());
  return 1;
}

static int g_cuda_is_available(lua_State *L) {
  lua_pushboolean(L, th_cuda_is_available());
  return 1;
}

/* torch._device(name) -> "cuda:1" as libtorch names it, or nil, why not
   (unknown, or not on this build or machine): for placement in Lua */
static int g_device(lua_State *L) {
  int code;
  char name[32];
  if (th_parse_device(&code, luaL_checkstring(L, 1)) != 0) {
    lua_pushnil(L);
    lua_pushstring(L, th_last_error());
    return 2;
  }
  th_device_name(name, sizeof name, code);
  lua_pushstring(L, name);
  return 1;
}

static const luaL_Reg state_functions[] = {
    {"_device", g_device},
    {"manual_seed", g_manual_seed},
    {"initial_seed", g_initial_seed},
    {"set_num_threads", g_set_num_threads},
    {"get_num_threads", g_get_num_threads},
    {"cuda_is_available", g_cuda_is_available},
    {NULL, NULL}};

void lt_open_state(lua_State *L, int meta, int methods, int torch) {
  lt_setfuncs(L, state_functions, meta, 0, torch);
  lua_pushstring(L, th_version());
  lua_setfield(L, torch, "__version__");
  lua_newtable(L); /* torch.cuda.is_available(), as in PyTorch */
  lua_getfield(L, torch, "cuda_is_available");
  lua_setfield(L, -2, "is_available");
  lua_setfield(L, torch, "cuda");
}
