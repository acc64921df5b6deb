/*
** l_losses.c: clara.losses.core, the losses bound from libtorch rather than
** written in Lua.  stdlib/clara/losses wraps them: argument checks with
** shapes in the messages, reductions, options.
*/
#include "clara_libs.h"
#include "l_tensor.h"

/* ctc(log_probs, targets, input_lengths, target_lengths, blank,
   zero_infinity) -> per-sample losses */
static int ll_ctc(lua_State *L) {
  th_tensor log_probs = lt_check(L, 1);
  th_tensor targets = lt_check(L, 2);
  th_tensor input_lengths = lt_check(L, 3);
  th_tensor target_lengths = lt_check(L, 4);
  lua_Integer blank = luaL_checkinteger(L, 5);
  int zero_infinity = lua_toboolean(L, 6);
  th_tensor *slot = lt_newslot(L);
  return lt_push(L, slot,
                 th_ctc_loss(slot, log_probs, targets, input_lengths,
                             target_lengths, blank, zero_infinity),
                 "ctc_loss");
}

static int ll_reduction(lua_State *L, int arg) {
  static const char *const names[] = {"none", "mean", "sum", NULL};
  return luaL_checkoption(L, arg, "mean", names); /* TH_REDUCTION_* order */
}

/* cross_entropy(input, target, weight|nil, reduction, ignore_index,
   label_smoothing) -> loss */
static int ll_cross_entropy(lua_State *L) {
  th_tensor input = lt_check(L, 1);
  th_tensor target = lt_check(L, 2);
  th_tensor weight = lua_isnoneornil(L, 3) ? NULL : lt_check(L, 3);
  int reduction = ll_reduction(L, 4);
  lua_Integer ignore = luaL_checkinteger(L, 5);
  lua_Number smoothing = luaL_checknumber(L, 6);
  th_tensor *slot = lt_newslot(L);
  return lt_push(L, slot,
                 th_cross_entropy(slot, input, target, weight, reduction,
                                  ignore, smoothing),
                 "cross_entropy");
}

/* nll(input, target, weight|nil, reduction, ignore_index) -> loss */
static int ll_nll(lua_State *L) {
  th_tensor input = lt_check(L, 1);
  th_tensor target = lt_check(L, 2);
  th_tensor weight = lua_isnoneornil(L, 3) ? NULL : lt_check(L, 3);
  int reduction = ll_reduction(L, 4);
  lua_Integer ignore = luaL_checkinteger(L, 5);
  th_tensor *slot = lt_newslot(L);
  return lt_push(L, slot,
                 th_nll_loss(slot, input, target, weight, reduction, ignore),
                 "nll_loss");
}

static const luaL_Reg losses_functions[] = {
    {"ctc", ll_ctc},
    {"cross_entropy", ll_cross_entropy},
    {"nll", ll_nll},
    {NULL, NULL}};

int luaopen_clara_losses_core(lua_State *L) {
  lua_getglobal(L, "require"); /* the tensor type must exist first */
  lua_pushliteral(L, "torch.core");
  lua_call(L, 1, 0);
  lua_newtable(L);
  lt_register(L, losses_functions);
  return 1;
}
