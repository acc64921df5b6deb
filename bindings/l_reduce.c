/*
** l_reduce.c: reductions (sum, mean, max, ...), softmax, cumulative ops,
** sorting.  Dims are 1-based; t:sum() reduces everything, t:sum(2) or
** t:sum({1, 2}) over those dims; keepdim comes as a boolean or {keepdim=}.
*/
#include "l_tensor.h"

/* dims at `arg`: nil (all: returns -1), an integer, or a table of them */
static int check_dims(lua_State *L, int arg, th_tensor t, int64_t *dims) {
  if (lua_isnoneornil(L, arg)) return -1;
  if (!lua_istable(L, arg)) {
    dims[0] = lt_checkdim(L, arg, t, 0);
    return 1;
  }
  int n = (int)luaL_len(L, arg);
  if (n > TH_MAX_DIMS) luaL_argerror(L, arg, "too many dims");
  lua_pushvalue(L, arg); /* each dim visits `arg`, so errors name it */
  for (int i = 0; i < n; i++) {
    lua_rawgeti(L, -1, i + 1);
    lua_replace(L, arg);
    dims[i] = lt_checkdim(L, arg, t, 0);
  }
  lua_replace(L, arg);
  return n;
}

/* the options each reduction takes: dtype where PyTorch has one (the input
   is cast to it first, as PyTorch does), the correction of std and var */
static const char *const plain_keys[] = {"keepdim", NULL};
static const char *const dtype_keys[] = {"keepdim", "dtype", NULL};
static const char *const spread_keys[] = {"keepdim", "unbiased", "correction", NULL};

static int spread_unbiased(lua_State *L, int opts) {
  int unbiased = lt_optbool(L, opts, "unbiased", 1);
  double c = lt_optnumber(L, opts, "correction", -1);
  if (c == -1) return unbiased;
  if (c != 0 && c != 1)
    luaL_argerror(L, opts, "option 'correction' must be 0 or 1 (Bessel's correction)");
  return c == 1;
}

/* a (cast to dtype when given) in slot, or a itself */
static th_tensor cast(lua_State *L, th_tensor a, int dtype, const char *name) {
  if (dtype == TH_DTYPE_DEFAULT || dtype == th_dtype(a)) return a;
  th_tensor *slot = lt_newslot(L);
  if (th_to(slot, a, dtype, th_device(a)) != 0) lt_fail(L, name);
  return *slot;
}

static int reduce(lua_State *L, int op, const char *name) {
  int64_t dims[TH_MAX_DIMS];
  th_tensor a = lt_check(L, 1);
  int opts = lua_istable(L, 2) && luaL_len(L, 2) == 0 ? 2 : 3;
  int spread = op == TH_STD || op == TH_VAR;
  int typed = op == TH_SUM || op == TH_MEAN || op == TH_PROD;
  lt_checkkeys(L, opts, name, spread ? spread_keys : typed ? dtype_keys : plain_keys);
  int n = opts == 2 ? -1 : check_dims(L, 2, a, dims);
  int keepdim = lt_optbool(L, opts, "keepdim", 0);
  int unbiased = spread && lua_istable(L, opts) ? spread_unbiased(L, opts) : 1;
  if (typed && lua_istable(L, opts)) a = cast(L, a, lt_optdtype(L, opts), name);
  th_tensor *slot = lt_newslot(L);
  return lt_push(L, slot, th_reduce(slot, op, a, dims, n, keepdim, unbiased), name);
}

#define REDUCTION(name, op) \
  static int r_##name(lua_State *L) { return reduce(L, op, #name); }
REDUCTION(sum, TH_SUM)
REDUCTION(mean, TH_MEAN)
REDUCTION(prod, TH_PROD)
REDUCTION(std, TH_STD)
REDUCTION(var, TH_VAR)
REDUCTION(amax, TH_AMAX)
REDUCTION(amin, TH_AMIN)
REDUCTION(all, TH_ALL)
REDUCTION(any, TH_ANY)
REDUCTION(logsumexp, TH_LOGSUMEXP)
REDUCTION(norm, TH_NORM)

/*
** t:max() -> the largest element (0-d); t:max(dim[, keepdim]) -> values,
** indices (two results, as PyTorch's named tuple); t:max(u) -> maximum(t, u)
*/
static int extreme(lua_State *L, int is_min, const char *name) {
  th_tensor a = lt_check(L, 1);
  if (lt_test(L, 2)) {
    th_tensor b = lt_check(L, 2);
    th_tensor *slot = lt_newslot(L);
    return lt_push(L, slot, (is_min ? th_minimum : th_maximum)(slot, a, b), name);
  }
  if (lua_isnoneornil(L, 2)) return reduce(L, is_min ? TH_AMIN : TH_AMAX, name);
  int64_t dim = lt_checkdim(L, 2, a, 0);
  int keepdim = lt_optbool(L, 3, "keepdim", 0);
  th_tensor *values = lt_newslot(L);
  th_tensor *indices = lt_newslot(L);
  if (th_max_dim(values, indices, a, dim, keepdim, is_min) != 0) return lt_fail(L, name);
  lt_done(L, values);
  return 2;
}

static int r_max(lua_State *L) { return extreme(L, 0, "max"); }
static int r_min(lua_State *L) { return extreme(L, 1, "min"); }

static int arg_extreme(lua_State *L, int is_min, const char *name) {
  th_tensor a = lt_check(L, 1);
  int64_t dim = lt_optdim(L, 2, a, TH_NODIM);
  int keepdim = lt_optbool(L, 3, "keepdim", 0);
  th_tensor *slot = lt_newslot(L);
  return lt_push(L, slot, th_argmax(slot, a, dim, keepdim, is_min), name);
}

static int r_argmax(lua_State *L) { return arg_extreme(L, 0, "argmax"); }
static int r_argmin(lua_State *L) { return arg_extreme(L, 1, "argmin"); }

/* t:softmax(dim[, {dtype=}]), cumsum likewise; dtype may come as a string */
static int along(lua_State *L, int kind, const char *name) {
  static const char *const keys[] = {"dtype", NULL};
  th_tensor a = lt_check(L, 1);
  int64_t dim = lt_checkdim(L, 2, a, 0);
  if (!lua_isnoneornil(L, 3) && !lua_istable(L, 3) && lua_type(L, 3) != LUA_TSTRING)
    luaL_typeerror(L, 3, "options table or dtype name");
  lt_checkkeys(L, 3, name, keys);
  a = cast(L, a, lt_optdtype(L, 3), name);
  th_tensor *slot = lt_newslot(L);
  int rc = kind < 2 ? th_softmax(slot, a, dim, kind) : th_cumulate(slot, a, dim, kind - 2);
  return lt_push(L, slot, rc, name);
}

static int r_softmax(lua_State *L) { return along(L, 0, "softmax"); }
static int r_log_softmax(lua_State *L) { return along(L, 1, "log_softmax"); }
static int r_cumsum(lua_State *L) { return along(L, 2, "cumsum"); }
static int r_cumprod(lua_State *L) { return along(L, 3, "cumprod"); }

/* t:sort([dim[, descending]]) -> values, indices (dim defaults to the last) */
static int r_sort(lua_State *L) {
  th_tensor a = lt_check(L, 1);
  int64_t dim = lt_optdim(L, 2, a, -1);
  int descending = lt_optbool(L, 3, "descending", 0);
  th_tensor *values = lt_newslot(L);
  th_tensor *indices = lt_newslot(L);
  if (th_sort(values, indices, a, dim, descending) != 0) return lt_fail(L, "sort");
  lt_done(L, values);
  return 2;
}

/* t:topk(k[, dim[, largest]]) -> values, indices */
static int r_topk(lua_State *L) {
  th_tensor a = lt_check(L, 1);
  lua_Integer k = luaL_checkinteger(L, 2);
  int64_t dim = lt_optdim(L, 3, a, -1);
  int largest = lt_optbool(L, 4, "largest", 1);
  luaL_argcheck(L, k >= 0, 2, "k must be non-negative");
  th_tensor *values = lt_newslot(L);
  th_tensor *indices = lt_newslot(L);
  if (th_topk(values, indices, a, k, dim, largest) != 0) return lt_fail(L, "topk");
  lt_done(L, values);
  return 2;
}

static const luaL_Reg reduce_functions[] = {
    {"sum", r_sum},         {"mean", r_mean},       {"prod", r_prod},
    {"std", r_std},         {"var", r_var},         {"amax", r_amax},
    {"amin", r_amin},       {"all", r_all},         {"any", r_any},
    {"logsumexp", r_logsumexp}, {"norm", r_norm},   {"max", r_max},
    {"min", r_min},         {"argmax", r_argmax},   {"argmin", r_argmin},
    {"softmax", r_softmax}, {"log_softmax", r_log_softmax},
    {"cumsum", r_cumsum},   {"cumprod", r_cumprod}, {"sort", r_sort},
    {"topk", r_topk},       {NULL, NULL}};

void lt_open_reduce(lua_State *L, int meta, int methods, int torch) {
  lt_setfuncs(L, reduce_functions, meta, methods, torch);
}
