/*
** l_ops.c: element-wise operations and operators.  Each op is named once,
** in the lists of torch_bridge.h; this file turns each into a Lua function
** that is both a method (t:exp()) and a torch function (torch.exp(t)).
*/
#include <string.h>

#include "l_tensor.h"

typedef int (*Unary)(th_tensor *, th_tensor);
typedef int (*Binary)(th_tensor *, th_tensor, th_tensor);
typedef int (*InplaceBinary)(th_tensor, th_tensor);
typedef int (*InplaceUnary)(th_tensor);

static int unary(lua_State *L, Unary f, const char *name) {
  th_tensor a = lt_check(L, 1);
  th_tensor *slot = lt_newslot(L);
  return lt_push(L, slot, f(slot, a), name);
}

/* either side may be a number (operators: 2 - t calls __sub(2, t)) */
static int binary(lua_State *L, Binary f, const char *name) {
  if (!lua_isnoneornil(L, 3)) /* an options table this op has none of */
    return luaL_argerror(L, 3, lua_pushfstring(L, "%s takes no options, got %s", name,
                                               luaL_typename(L, 3)));
  th_tensor a = lt_other(L, 1);
  th_tensor b = lt_other(L, 2);
  th_tensor *slot = lt_newslot(L);
  return lt_push(L, slot, f(slot, a, b), name);
}

static int inplace_binary(lua_State *L, InplaceBinary f, const char *name) {
  th_tensor a = lt_check(L, 1);
  th_tensor b = lt_other(L, 2);
  if (f(a, b) != 0) return lt_fail(L, name);
  lua_settop(L, 1);
  return 1;
}

static int inplace_unary(lua_State *L, InplaceUnary f, const char *name) {
  if (f(lt_check(L, 1)) != 0) return lt_fail(L, name);
  lua_settop(L, 1);
  return 1;
}

#define DEFINE_UNARY(name) \
  static int o_##name(lua_State *L) { return unary(L, th_##name, #name); }
#define DEFINE_BINARY(name) \
  static int o_##name(lua_State *L) { return binary(L, th_##name, #name); }
#define DEFINE_INPLACE_BINARY(name) \
  static int o_##name(lua_State *L) { return inplace_binary(L, th_##name, #name); }
#define DEFINE_INPLACE_UNARY(name) \
  static int o_##name(lua_State *L) { return inplace_unary(L, th_##name, #name); }
#define REGISTER(name) {#name, o_##name},

TH_UNARY_OPS(DEFINE_UNARY)
TH_BINARY_OPS(DEFINE_BINARY)
TH_INPLACE_BINARY_OPS(DEFINE_INPLACE_BINARY)
TH_INPLACE_UNARY_OPS(DEFINE_INPLACE_UNARY)

/* add and sub take alpha: a:add(b, 2) or a:add(b, {alpha = 2}) = a + 2 * b */
static int scaled(lua_State *L, int negate, int inplace, const char *name) {
  if (lua_isnoneornil(L, 3))
    return inplace ? inplace_binary(L, negate ? th_sub_ : th_add_, name)
                   : binary(L, negate ? th_sub : th_add, name);
  th_scalar alpha;
  if (lua_istable(L, 3)) {
    lua_getfield(L, 3, "alpha");
    alpha = lt_checkscalar(L, -1);
    lua_pop(L, 1);
  } else {
    alpha = lt_checkscalar(L, 3);
  }
  if (negate) alpha.f = -alpha.f, alpha.i = -alpha.i;
  th_tensor a = inplace ? lt_check(L, 1) : lt_other(L, 1);
  th_tensor b = lt_other(L, 2);
  if (inplace) {
    if (th_add_scaled_(a, b, alpha) != 0) return lt_fail(L, name);
    lua_settop(L, 1);
    return 1;
  }
  th_tensor *slot = lt_newslot(L);
  return lt_push(L, slot, th_add_scaled(slot, a, b, alpha), name);
}

static int o_add_alpha(lua_State *L) { return scaled(L, 0, 0, "add"); }
static int o_sub_alpha(lua_State *L) { return scaled(L, 1, 0, "sub"); }
static int o_add_alpha_(lua_State *L) { return scaled(L, 0, 1, "add_"); }
static int o_sub_alpha_(lua_State *L) { return scaled(L, 1, 1, "sub_"); }

/* a number exponent takes libtorch's scalar overload, as t ** 2 in Python */
static int o_pow_any(lua_State *L) {
  if (lua_type(L, 2) != LUA_TNUMBER || lua_type(L, 1) != LUA_TUSERDATA)
    return binary(L, th_pow, "pow");
  th_tensor a = lt_check(L, 1);
  th_scalar e = lt_checkscalar(L, 2);
  th_tensor *slot = lt_newslot(L);
  return lt_push(L, slot, th_pow_scalar(slot, a, e), "pow");
}

static int o_fill_(lua_State *L) {
  th_tensor a = lt_check(L, 1);
  th_tensor v = lt_test(L, 2);
  int rc;
  if (v != NULL) {
    if (th_dim(v) != 0) return luaL_argerror(L, 2, "fill value must be a number or 0-d tensor");
    th_scalar s;
    if (th_item(&s, v) != 0) return lt_fail(L, "fill_");
    rc = th_fill_(a, s);
  } else {
    rc = th_fill_(a, lt_checkscalar(L, 2));
  }
  if (rc != 0) return lt_fail(L, "fill_");
  lua_settop(L, 1);
  return 1;
}

static int o_uniform_(lua_State *L) {
  th_tensor a = lt_check(L, 1);
  double from = luaL_optnumber(L, 2, 0), to = luaL_optnumber(L, 3, 1);
  if (th_uniform_(a, from, to) != 0) return lt_fail(L, "uniform_");
  lua_settop(L, 1);
  return 1;
}

static int o_normal_(lua_State *L) {
  th_tensor a = lt_check(L, 1);
  double mean = luaL_optnumber(L, 2, 0), std = luaL_optnumber(L, 3, 1);
  if (th_normal_(a, mean, std) != 0) return lt_fail(L, "normal_");
  lua_settop(L, 1);
  return 1;
}

static int o_bernoulli_(lua_State *L) {
  th_tensor a = lt_check(L, 1);
  double p = luaL_optnumber(L, 2, 0.5);
  luaL_argcheck(L, p >= 0 && p <= 1, 2, "probability must be in [0, 1]");
  if (th_bernoulli_(a, p) != 0) return lt_fail(L, "bernoulli_");
  lua_settop(L, 1);
  return 1;
}

/* clamp(min, max), either may be nil; or clamp{min=, max=} */
static int clamp(lua_State *L, int inplace) {
  th_tensor a = lt_check(L, 1);
  th_scalar lo, hi;
  const th_scalar *plo = NULL, *phi = NULL;
  int ilo = 2, ihi = 3;
  if (lua_istable(L, 2)) {
    lua_getfield(L, 2, "min");
    lua_getfield(L, 2, "max");
    ilo = lua_gettop(L) - 1, ihi = ilo + 1;
  }
  if (!lua_isnoneornil(L, ilo)) lo = lt_checkscalar(L, ilo), plo = &lo;
  if (!lua_isnoneornil(L, ihi)) hi = lt_checkscalar(L, ihi), phi = &hi;
  if (!plo && !phi) return luaL_argerror(L, 2, "clamp needs min or max");
  if (inplace) {
    if (th_clamp_(a, plo, phi) != 0) return lt_fail(L, "clamp_");
    lua_settop(L, 1);
    return 1;
  }
  th_tensor *slot = lt_newslot(L);
  return lt_push(L, slot, th_clamp(slot, a, plo, phi), "clamp");
}

static int o_clamp(lua_State *L) { return clamp(L, 0); }
static int o_clamp_(lua_State *L) { return clamp(L, 1); }

static int o_where(lua_State *L) {
  th_tensor c = lt_check(L, 1);
  th_tensor a = lt_other(L, 2);
  th_tensor b = lt_other(L, 3);
  th_tensor *slot = lt_newslot(L);
  return lt_push(L, slot, th_where(slot, c, a, b), "where");
}

static int o_masked_fill(lua_State *L) {
  th_tensor a = lt_check(L, 1);
  th_tensor m = lt_check(L, 2);
  /* libtorch 1.13 reads any other mask's bytes as bools: wrong, silently */
  luaL_argcheck(L, th_dtype(m) == TH_BOOL || th_dtype(m) == TH_UINT8, 2,
                "mask must be a bool tensor");
  th_tensor v = lt_other(L, 3);
  th_tensor *slot = lt_newslot(L);
  return lt_push(L, slot, th_masked_fill(slot, a, m, v), "masked_fill");
}

static int o_lerp(lua_State *L) {
  th_tensor a = lt_check(L, 1);
  th_tensor b = lt_check(L, 2);
  th_tensor w = lt_other(L, 3);
  th_tensor *slot = lt_newslot(L);
  return lt_push(L, slot, th_lerp(slot, a, b, w), "lerp");
}

static int o_allclose(lua_State *L) {
  th_tensor a = lt_check(L, 1);
  th_tensor b = lt_check(L, 2);
  double rtol = lt_optnumber(L, 3, "rtol", 1e-5);
  double atol = lt_optnumber(L, 3, "atol", 1e-8);
  int equal_nan = lt_optbool(L, 3, "equal_nan", 0);
  int r = th_allclose(a, b, rtol, atol, equal_nan);
  if (r < 0) return lt_fail(L, "allclose");
  lua_pushboolean(L, r);
  return 1;
}

static int o_equal(lua_State *L) {
  int r = th_equal(lt_check(L, 1), lt_check(L, 2));
  if (r < 0) return lt_fail(L, "equal");
  lua_pushboolean(L, r);
  return 1;
}

/* div(a, b[, {rounding_mode = "trunc" | "floor"}]), as PyTorch's */
static int o_div_mode(lua_State *L) {
  static const char *const keys[] = {"rounding_mode", NULL};
  if (lua_isnoneornil(L, 3)) return binary(L, th_div, "div");
  luaL_checktype(L, 3, LUA_TTABLE);
  lt_checkkeys(L, 3, "div", keys);
  int absent = lua_getfield(L, 3, "rounding_mode") == LUA_TNIL;
  const char *mode = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
  int m = strcmp(mode, "trunc") == 0 ? 1 : strcmp(mode, "floor") == 0 ? 2 : 0;
  lua_settop(L, 2);
  if (absent) return binary(L, th_div, "div");
  if (m == 0) return luaL_argerror(L, 3, "rounding_mode must be 'trunc' or 'floor' (or nil)");
  th_tensor a = lt_other(L, 1);
  th_tensor b = lt_other(L, 2);
  th_tensor *slot = lt_newslot(L);
  return lt_push(L, slot, th_div_rounding(slot, a, b, m), "div");
}

static const luaL_Reg op_functions[] = {
    TH_UNARY_OPS(REGISTER)
    TH_BINARY_OPS(REGISTER)
    TH_INPLACE_BINARY_OPS(REGISTER)
    TH_INPLACE_UNARY_OPS(REGISTER)
    {"add", o_add_alpha},
    {"sub", o_sub_alpha},
    {"pow", o_pow_any},
    {"add_", o_add_alpha_},
    {"sub_", o_sub_alpha_},
    {"subtract", o_sub_alpha},
    {"multiply", o_mul},
    {"div", o_div_mode},
    {"divide", o_div_mode},
    {"fill_", o_fill_},
    {"uniform_", o_uniform_},
    {"normal_", o_normal_},
    {"bernoulli_", o_bernoulli_},
    {"clamp", o_clamp},
    {"clamp_", o_clamp_},
    {"clip", o_clamp},
    {"where", o_where},
    {"masked_fill", o_masked_fill},
    {"lerp", o_lerp},
    {"allclose", o_allclose},
    {"equal", o_equal},
    {NULL, NULL}};

/* `==` stays identity, as Lua expects; t:eq(u) compares element-wise */
static const luaL_Reg operators[] = {
    {"__add", o_add},
    {"__sub", o_sub},
    {"__mul", o_mul},
    {"__div", o_div},
    {"__pow", o_pow_any},
    {"__mod", o_remainder},
    {"__idiv", o_floor_divide},
    {"__unm", o_neg},
    {"__band", o_bitwise_and},
    {"__bor", o_bitwise_or},
    {"__bxor", o_bitwise_xor},
    {NULL, NULL}};

void lt_open_ops(lua_State *L, int meta, int methods, int torch) {
  lt_setfuncs(L, op_functions, meta, methods, torch);
  lt_setfuncs(L, operators, meta, meta, 0);
}
