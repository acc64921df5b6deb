/*
** l_fused.c: clara.train.fast.core, the fused training step of
** bindings/bridge/fused.cpp for stdlib/clara/train/fast.lua, which decides
** when it applies and finishes in Lua what it leaves (TH_FUSED_FALLBACK).
** Calls take and return numbers only, so that a step costs no Lua
** allocation; tensors cross over only when asked (batch, take).
*/
#include "clara_libs.h"
#include "l_tensor.h"

#define LF_TYPENAME "clara.train.Fused"
#define LF_OPTIMIZER "torch.optim.Optimizer" /* l_optim.c's userdata */
#define LF_MODULE "torch.nn.Handle"          /* l_nn.c's userdata */

static const char *const loss_names[] = {"cross_entropy", "nll", "mse", "l1",
                                         "bce_with_logits", NULL};

static th_fused check_fused(lua_State *L) {
  th_fused *slot = (th_fused *)luaL_checkudata(L, 1, LF_TYPENAME);
  if (*slot == NULL) luaL_argerror(L, 1, "fused plan already freed");
  return *slot;
}

static int f_free(lua_State *L) {
  th_fused *slot = (th_fused *)luaL_checkudata(L, 1, LF_TYPENAME);
  if (*slot != NULL) {
    th_fused_free(*slot);
    *slot = NULL;
  }
  return 0;
}

static int check_slot(lua_State *L, int arg) {
  lua_Integer s = luaL_checkinteger(L, arg);
  luaL_argcheck(L, s == TH_FUSED_TRAIN || s == TH_FUSED_EVAL, arg, "no such slot");
  return (int)s;
}

/* new(handles, optimizer core | nil, loss name, weight): the handles (a
   list of module handles, in forward order) and the optimizer stay
   referenced by the plan, which borrows them */
static int f_new(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  th_optimizer opt = NULL;
  if (!lua_isnoneornil(L, 2)) {
    th_optimizer *o = (th_optimizer *)luaL_checkudata(L, 2, LF_OPTIMIZER);
    luaL_argcheck(L, *o != NULL, 2, "optimizer already freed");
    opt = *o;
  }
  int loss = luaL_checkoption(L, 3, NULL, loss_names);
  th_scalar weight = lt_checkscalar(L, 4);
  int n = (int)luaL_len(L, 1);
  luaL_argcheck(L, n >= 1 && n <= 1 << 16, 1, "expected a list of module handles");
  th_module *mods = (th_module *)lua_newuserdatauv(L, (size_t)n * sizeof(th_module), 0);
  for (int i = 1; i <= n; i++) {
    lua_geti(L, 1, i);
    th_module *m = (th_module *)luaL_testudata(L, -1, LF_MODULE);
    if (m == NULL || *m == NULL) return luaL_error(L, "fused: handle %d is not a module handle", i);
    mods[i - 1] = *m;
    lua_pop(L, 1);
  }
  th_fused *slot = (th_fused *)lua_newuserdatauv(L, sizeof(th_fused), 1);
  *slot = NULL;
  luaL_setmetatable(L, LF_TYPENAME);
  if (th_fused_new(slot, mods, n, opt, loss, weight) != 0) return lt_fail(L, "fused");
  /* the borrowed handles' owners: {handles, optimizer} */
  lua_createtable(L, 2, 0);
  lua_pushvalue(L, 1);
  lua_rawseti(L, -2, 1);
  lua_pushvalue(L, 2);
  lua_rawseti(L, -2, 2);
  lua_setiuservalue(L, -2, 1);
  return 1;
}

/* data(plan, slot, x, y, perm) */
static int f_data(lua_State *L) {
  th_fused f = check_fused(L);
  int slot = check_slot(L, 2);
  if (th_fused_data(f, slot, lt_check(L, 3), lt_check(L, 4), lt_check(L, 5)) != 0)
    return lt_fail(L, "fused data");
  return 0;
}

/* batch(plan, slot, start, rows) -> x, y (start 0-based) */
static int f_batch(lua_State *L) {
  th_fused f = check_fused(L);
  int slot = check_slot(L, 2);
  lua_Integer start = luaL_checkinteger(L, 3), rows = luaL_checkinteger(L, 4);
  th_tensor *x = lt_newslot(L), *y = lt_newslot(L);
  if (th_fused_batch(x, y, f, slot, start, rows) != 0) return lt_fail(L, "fused batch");
  lt_done(L, x);
  lt_done(L, y);
  return 2;
}

/* train(plan, flags, start, rows, scale[, x, y]) and eval(plan, flags,
   start, rows[, x, y]) -> status[, value]: the value of a non-finite loss */
static int run(lua_State *L, int training) {
  th_fused f = check_fused(L);
  th_fused_args a;
  a.flags = (int)luaL_checkinteger(L, 2);
  a.start = luaL_checkinteger(L, 3);
  a.rows = luaL_checkinteger(L, 4);
  a.scale = training ? luaL_optnumber(L, 5, 1) : 1;
  int at = training ? 6 : 5;
  a.x = lua_isnoneornil(L, at) ? NULL : lt_check(L, at);
  a.y = lua_isnoneornil(L, at + 1) ? NULL : lt_check(L, at + 1);
  int status = TH_FUSED_OK;
  double value = 0;
  int rc = training ? th_fused_train(&status, &value, f, &a) : th_fused_eval(&status, &value, f, &a);
  if (rc != 0) return lt_fail(L, training ? "fused step" : "fused evaluation");
  lua_pushinteger(L, status);
  if (status != TH_FUSED_NONFINITE_TERM && status != TH_FUSED_NONFINITE_TOTAL) return 1;
  lua_pushnumber(L, value);
  return 2;
}

static int f_train(lua_State *L) { return run(L, 1); }
static int f_eval(lua_State *L) { return run(L, 0); }

/* take(plan) -> output, x, y of the last batch (nil where none) */
static int f_take(lua_State *L) {
  th_fused f = check_fused(L);
  th_tensor *slots[3];
  th_tensor got[3];
  for (int i = 0; i < 3; i++) slots[i] = lt_newslot(L);
  if (th_fused_take(&got[0], &got[1], &got[2], f) != 0) return lt_fail(L, "fused take");
  for (int i = 0; i < 3; i++) { /* no Lua call between the bridge and here */
    *slots[i] = got[i];
    if (got[i] != NULL) lt_done(L, slots[i]);
  }
  for (int i = 0; i < 3; i++)
    if (got[i] == NULL) {
      lua_pushnil(L);
      lua_replace(L, -4 + i);
    }
  return 3;
}

/* sums(plan, which[, take]) -> n, loss, raw, weighted, terms, correct, count;
   take: correct and count restart at 0 */
static int f_sums(lua_State *L) {
  th_fused f = check_fused(L);
  th_fused_sums s;
  if (th_fused_get_sums(&s, f, check_slot(L, 2), lua_toboolean(L, 3)) != 0)
    return lt_fail(L, "fused sums");
  lua_pushinteger(L, s.n);
  lua_pushnumber(L, s.loss);
  lua_pushnumber(L, s.raw);
  lua_pushnumber(L, s.weighted);
  lua_pushboolean(L, s.terms);
  lua_pushinteger(L, s.correct);
  lua_pushinteger(L, s.count);
  return 7;
}

/* set_sums(plan, which, n, loss, raw, weighted, terms): counts at 0 */
static int f_set_sums(lua_State *L) {
  th_fused f = check_fused(L);
  int which = check_slot(L, 2);
  th_fused_sums s = {0};
  s.n = luaL_checkinteger(L, 3);
  s.loss = luaL_checknumber(L, 4);
  s.raw = luaL_checknumber(L, 5);
  s.weighted = luaL_checknumber(L, 6);
  s.terms = lua_toboolean(L, 7);
  if (th_fused_set_sums(f, which, &s) != 0) return lt_fail(L, "fused sums");
  return 0;
}

/* add(plan, which, rows, loss[, raw, weighted]): a batch finished in Lua */
static int f_add(lua_State *L) {
  th_fused f = check_fused(L);
  int which = check_slot(L, 2);
  lua_Integer rows = luaL_checkinteger(L, 3);
  double loss = luaL_checknumber(L, 4);
  int terms = !lua_isnoneornil(L, 5);
  double raw = terms ? luaL_checknumber(L, 5) : 0, weighted = terms ? luaL_checknumber(L, 6) : 0;
  if (th_fused_add(f, which, rows, loss, terms, raw, weighted) != 0) return lt_fail(L, "fused add");
  return 0;
}

/* last(plan) -> raw, total of the last finite training batch, or nothing */
static int f_last(lua_State *L) {
  double raw, total;
  if (!th_fused_last(&raw, &total, check_fused(L))) return 0;
  lua_pushnumber(L, raw);
  lua_pushnumber(L, total);
  return 2;
}

static const luaL_Reg fused_functions[] = {
    {"new", f_new},     {"data", f_data},         {"batch", f_batch}, {"train", f_train},
    {"eval", f_eval},   {"take", f_take},         {"sums", f_sums},   {"set_sums", f_set_sums},
    {"add", f_add},     {"last", f_last},         {"free", f_free},   {NULL, NULL}};

static const struct {
  const char *name;
  int value;
} constants[] = {
    {"TRAIN", TH_FUSED_TRAIN},
    {"EVAL", TH_FUSED_EVAL},
    {"ZERO_GRAD", TH_FUSED_ZERO_GRAD},
    {"STEP", TH_FUSED_STEP},
    {"SCALED", TH_FUSED_SCALED},
    {"KEEP", TH_FUSED_KEEP},
    {"COUNT", TH_FUSED_COUNT},
    {"AUTOCAST", TH_FUSED_AUTOCAST},
    {"OK", TH_FUSED_OK},
    {"NONFINITE_TERM", TH_FUSED_NONFINITE_TERM},
    {"NONFINITE_TOTAL", TH_FUSED_NONFINITE_TOTAL},
    {"FALLBACK", TH_FUSED_FALLBACK},
    {"FORWARD_FAILED", TH_FUSED_FORWARD_FAILED},
    {NULL, 0}};

int luaopen_clara_train_fast_core(lua_State *L) {
  luaL_requiref(L, "torch.core", luaopen_torch_core, 0); /* the tensor type */
  lua_pop(L, 1);
  if (luaL_newmetatable(L, LF_TYPENAME)) {
    lua_pushcfunction(L, f_free);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, f_free);
    lua_setfield(L, -2, "__close");
  }
  lua_pop(L, 1);
  lua_newtable(L);
  lt_register(L, fused_functions);
  for (int i = 0; constants[i].name; i++) {
    lua_pushinteger(L, constants[i].value);
    lua_setfield(L, -2, constants[i].name);
  }
  return 1;
}
