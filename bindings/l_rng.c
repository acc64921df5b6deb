/*
** l_rng.c: torch.rng.core, the default CPU generator's state, so that a
** resumed run draws the same random numbers it would have drawn.
*/
#include "clara_libs.h"
#include "l_tensor.h"

/* get_rng_state() -> uint8 tensor, as in PyTorch */
static int r_get_rng_state(lua_State *L) {
  th_tensor *slot = lt_newslot(L);
  return lt_push(L, slot, th_get_rng_state(slot), "get_rng_state");
}

/* set_rng_state(t): a tensor from get_rng_state (or PyTorch's) */
static int r_set_rng_state(lua_State *L) {
  th_tensor t = lt_test(L, 1);
  if (t == NULL)
    return luaL_argerror(L, 1, "tensor expected (from torch.get_rng_state())");
  if (th_set_rng_state(t) != 0) return lt_fail(L, "set_rng_state");
  return 0;
}

static const luaL_Reg rng_functions[] = {
    {"get_rng_state", r_get_rng_state},
    {"set_rng_state", r_set_rng_state},
    {NULL, NULL}};

int luaopen_torch_rng_core(lua_State *L) {
  lua_getglobal(L, "require"); /* the tensor type must exist first */
  lua_pushliteral(L, "torch.core");
  lua_call(L, 1, 0);
  lua_newtable(L);
  lt_register(L, rng_functions);
  return 1;
}
