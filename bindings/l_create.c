/*
** l_create.c: making tensors: torch.tensor from Lua values, zeros/ones/...,
** ranges, random tensors, *_like, and raw bytes.
*/
#include <string.h>

#include "l_tensor.h"

/* {======================================================
** torch.tensor(nested tables | number | boolean | tensor[, options])
** =======================================================*/

typedef struct {
  int64_t sizes[TH_MAX_DIMS];
  int ndim;
  int any_float, any_bool, any_number;
} Shape;

/* the shape is read along the first elements; fill() checks the rest */
static void read_shape(lua_State *L, int idx, Shape *s) {
  lua_pushvalue(L, idx);
  while (lua_istable(L, -1)) {
    if (s->ndim == TH_MAX_DIMS) luaL_error(L, "tensor: too many dims");
    s->sizes[s->ndim++] = (int64_t)luaL_len(L, -1);
    if (luaL_len(L, -1) == 0) break;
    lua_rawgeti(L, -1, 1);
    lua_remove(L, -2);
  }
  lua_pop(L, 1);
}

static void where_error(lua_State *L, const int64_t *at, int depth, const char *msg) {
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "tensor: ");
  luaL_addstring(&b, msg);
  luaL_addstring(&b, " at data");
  for (int i = 0; i < depth; i++) {
    lua_pushfstring(L, "[%d]", (int)at[i] + 1);
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
  lua_error(L);
}

/* pass 1 (buf NULL): check the shape and learn the kinds; pass 2: copy */
static void fill(lua_State *L, Shape *s, int d, int64_t *at, void *buf, int kind,
                 int64_t *pos) {
  int t = lua_type(L, -1);
  if (d == s->ndim) {
    if (t == LUA_TNUMBER) {
      s->any_number = 1;
      if (!lua_isinteger(L, -1)) s->any_float = 1;
    } else if (t == LUA_TBOOLEAN) {
      s->any_bool = 1;
    } else {
      where_error(L, at, d, lua_pushfstring(L, "expected a number, got %s",
                                           lua_typename(L, t)));
    }
    if (buf == NULL) return;
    int64_t i = (*pos)++;
    if (kind == TH_FLOAT64) ((double *)buf)[i] = lua_tonumber(L, -1);
    else if (kind == TH_INT64)
      ((int64_t *)buf)[i] = t == LUA_TBOOLEAN ? lua_toboolean(L, -1) : lua_tointeger(L, -1);
    else ((uint8_t *)buf)[i] = (uint8_t)lua_toboolean(L, -1);
    return;
  }
  if (t != LUA_TTABLE)
    where_error(L, at, d, lua_pushfstring(L, "expected a list of length %d, got %s",
                                         (int)s->sizes[d], lua_typename(L, t)));
  if (luaL_len(L, -1) != s->sizes[d])
    where_error(L, at, d, lua_pushfstring(L, "ragged nesting: expected length %d, got %d",
                                         (int)s->sizes[d], (int)luaL_len(L, -1)));
  luaL_checkstack(L, 2, "tensor: nesting too deep");
  for (int64_t i = 0; i < s->sizes[d]; i++) {
    at[d] = i;
    lua_rawgeti(L, -1, i + 1);
    fill(L, s, d + 1, at, buf, kind, pos);
    lua_pop(L, 1);
  }
}

static int c_tensor(lua_State *L) {
  static const th_options defaults = {TH_DTYPE_DEFAULT, TH_CPU, 0};
  th_options o = lt_checkoptions(L, 2, defaults, NULL);
  th_tensor src = lt_test(L, 1);
  if (src) { /* a copy, detached from the graph, as torch.tensor(t) */
    th_tensor *conv = lt_newslot(L), *slot = lt_newslot(L);
    if (th_contiguous_as(conv, src, o.dtype == TH_DTYPE_DEFAULT ? th_dtype(src) : o.dtype) ||
        th_clone(slot, *conv)) /* to() may return its input: always copy */
      return lt_fail(L, "tensor");
    if (o.requires_grad && th_set_requires_grad(*slot, 1)) return lt_fail(L, "tensor");
    lt_done(L, slot);
    return 1;
  }
  int t = lua_type(L, 1);
  luaL_argexpected(L, t == LUA_TTABLE || t == LUA_TNUMBER || t == LUA_TBOOLEAN, 1,
                   "table, number or boolean");
  Shape s = {{0}, 0, 0, 0, 0};
  int64_t at[TH_MAX_DIMS], pos = 0, numel = 1;
  read_shape(L, 1, &s);
  lua_pushvalue(L, 1);
  fill(L, &s, 0, at, NULL, 0, &pos);
  for (int i = 0; i < s.ndim; i++) numel *= s.sizes[i];
  int kind = s.any_float ? TH_FLOAT64 : s.any_number ? TH_INT64 : s.any_bool ? TH_BOOL : TH_FLOAT64;
  size_t width = kind == TH_BOOL ? 1 : 8;
  void *buf = lua_newuserdatauv(L, width * (size_t)(numel > 0 ? numel : 1), 0);
  lua_insert(L, -2);
  pos = 0;
  fill(L, &s, 0, at, buf, kind, &pos);
  if (o.dtype == TH_DTYPE_DEFAULT)
    o.dtype = kind == TH_FLOAT64 ? TH_FLOAT32 : kind; /* as PyTorch infers */
  th_tensor *slot = lt_newslot(L);
  return lt_push(L, slot, th_from_data(slot, buf, kind, s.sizes, s.ndim, o), "tensor");
}

/* }====================================================== */

static const th_options default_options = {TH_DTYPE_DEFAULT, TH_CPU, 0};

/* torch.zeros(2, 3[, options]) or torch.zeros({2, 3}[, options]) */
static int filled(lua_State *L, int kind, const char *name) {
  int64_t sizes[TH_MAX_DIMS];
  int last = lt_optsizes_end(L, 1);
  th_options o = lt_checkoptions(L, last + 1, default_options, NULL);
  int n = last >= 1 ? lt_checksizes(L, 1, last, sizes) : 0;
  lt_checkbytes(L, name, sizes, n, o.dtype);
  th_tensor *slot = lt_newslot(L);
  return lt_push(L, slot, th_new(slot, kind, sizes, n, o), name);
}

static int c_empty(lua_State *L) { return filled(L, TH_NEW_EMPTY, "empty"); }
static int c_zeros(lua_State *L) { return filled(L, TH_NEW_ZEROS, "zeros"); }
static int c_ones(lua_State *L) { return filled(L, TH_NEW_ONES, "ones"); }
static int c_rand(lua_State *L) { return filled(L, TH_NEW_RAND, "rand"); }
static int c_randn(lua_State *L) { return filled(L, TH_NEW_RANDN, "randn"); }

/* the dtype PyTorch infers for a fill value */
static int value_dtype(th_scalar v) {
  return v.kind == TH_SCALAR_INT ? TH_INT64 : v.kind == TH_SCALAR_BOOL ? TH_BOOL : TH_FLOAT32;
}

/* torch.full({2, 3}, value[, options]) */
static int c_full(lua_State *L) {
  int64_t sizes[TH_MAX_DIMS];
  luaL_checktype(L, 1, LUA_TTABLE);
  int n = lt_checksizes(L, 1, 1, sizes);
  th_scalar v = lt_checkscalar(L, 2);
  th_options o = lt_checkoptions(L, 3, default_options, NULL);
  if (o.dtype == TH_DTYPE_DEFAULT) o.dtype = value_dtype(v);
  lt_checkbytes(L, "full", sizes, n, o.dtype);
  th_tensor *slot = lt_newslot(L);
  return lt_push(L, slot, th_full(slot, sizes, n, v, o), "full");
}

/* *_like(t[, options]): t's shape, and its dtype unless told otherwise */
static int like(lua_State *L, int kind, const char *name) {
  int64_t sizes[TH_MAX_DIMS];
  th_tensor t = lt_check(L, 1);
  int n = th_sizes(t, sizes);
  th_options o = {th_dtype(t), th_device(t), 0};
  int opt = kind < 0 ? 3 : 2;
  o = lt_checkoptions(L, opt, o, NULL);
  th_tensor *slot = lt_newslot(L);
  int rc = kind < 0 ? th_full(slot, sizes, n, lt_checkscalar(L, 2), o)
                    : th_new(slot, kind, sizes, n, o);
  return lt_push(L, slot, rc, name);
}

static int c_empty_like(lua_State *L) { return like(L, TH_NEW_EMPTY, "empty_like"); }
static int c_zeros_like(lua_State *L) { return like(L, TH_NEW_ZEROS, "zeros_like"); }
static int c_ones_like(lua_State *L) { return like(L, TH_NEW_ONES, "ones_like"); }
static int c_rand_like(lua_State *L) { return like(L, TH_NEW_RAND, "rand_like"); }
static int c_randn_like(lua_State *L) { return like(L, TH_NEW_RANDN, "randn_like"); }
static int c_full_like(lua_State *L) { return like(L, -1, "full_like"); }

/* torch.arange(end) or arange(start, end[, step]), end excluded as in PyTorch */
static int c_arange(lua_State *L) {
  int last = lt_optsizes_end(L, 1);
  th_options o = lt_checkoptions(L, last + 1, default_options, NULL);
  th_scalar start = {TH_SCALAR_INT, 0, 0}, step = {TH_SCALAR_INT, 1, 1}, end;
  if (last <= 1) {
    end = lt_checkscalar(L, 1);
  } else {
    start = lt_checkscalar(L, 1);
    end = lt_checkscalar(L, 2);
    if (last >= 3) step = lt_checkscalar(L, 3);
  }
  if (step.f != 0) lt_checkcount(L, "arange", (end.f - start.f) / step.f, TH_FLOAT64);
  th_tensor *slot = lt_newslot(L);
  return lt_push(L, slot, th_arange(slot, start, end, step, o), "arange");
}

static int c_linspace(lua_State *L) {
  double a = luaL_checknumber(L, 1), b = luaL_checknumber(L, 2);
  lua_Integer steps = luaL_checkinteger(L, 3);
  luaL_argcheck(L, steps >= 0, 3, "number of steps must be non-negative");
  th_options o = lt_checkoptions(L, 4, default_options, NULL);
  lt_checkcount(L, "linspace", (double)steps, o.dtype);
  th_tensor *slot = lt_newslot(L);
  return lt_push(L, slot, th_linspace(slot, a, b, steps, o), "linspace");
}

static int c_eye(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  int opt = lua_isinteger(L, 2) ? 3 : 2;
  lua_Integer m = opt == 3 ? lua_tointeger(L, 2) : n;
  luaL_argcheck(L, n >= 0, 1, "size must be non-negative");
  luaL_argcheck(L, m >= 0, 2, "size must be non-negative");
  th_options o = lt_checkoptions(L, opt, default_options, NULL);
  int64_t nm[2] = {n, m};
  lt_checkbytes(L, "eye", nm, 2, o.dtype);
  th_tensor *slot = lt_newslot(L);
  return lt_push(L, slot, th_eye(slot, n, m, o), "eye");
}

/* torch.randint(low, high, sizes[, options]) or randint(high, sizes) */
static int c_randint(lua_State *L) {
  int64_t sizes[TH_MAX_DIMS];
  lua_Integer low = 0, high;
  int at = 2;
  if (lua_istable(L, 2)) {
    high = luaL_checkinteger(L, 1);
  } else {
    low = luaL_checkinteger(L, 1);
    high = luaL_checkinteger(L, 2);
    at = 3;
  }
  luaL_argcheck(L, high > low, at - 1, "high must be greater than low");
  luaL_checktype(L, at, LUA_TTABLE);
  int n = lt_checksizes(L, at, at, sizes);
  th_options o = lt_checkoptions(L, at + 1, default_options, NULL);
  lt_checkbytes(L, "randint", sizes, n, TH_INT64);
  th_tensor *slot = lt_newslot(L);
  return lt_push(L, slot, th_randint(slot, low, high, sizes, n, o), "randint");
}

static int c_randperm(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  luaL_argcheck(L, n >= 0, 1, "n must be non-negative");
  th_options o = lt_checkoptions(L, 2, default_options, NULL);
  lt_checkcount(L, "randperm", (double)n, TH_INT64);
  th_tensor *slot = lt_newslot(L);
  return lt_push(L, slot, th_randperm(slot, n, o), "randperm");
}

/* torch.frombytes(s[, options]): a 1-d tensor over a copy of raw bytes */
static int c_frombytes(lua_State *L) {
  static const int64_t width[TH_NDTYPES] = {4, 8, 8, 4, 2, 1, 1, 1, 2, 2};
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  th_options o = {TH_UINT8, TH_CPU, 0};
  o = lt_checkoptions(L, 2, o, NULL);
  int64_t w = width[o.dtype];
  if (len % w != 0)
    return luaL_argerror(L, 1, lua_pushfstring(L, "%d bytes is not a whole number of "
                                               "%s values", (int)len, th_dtype_name(o.dtype)));
  int64_t n = (int64_t)(len / w);
  th_tensor *slot = lt_newslot(L);
  return lt_push(L, slot, th_from_data(slot, s, o.dtype, &n, 1, o), "frombytes");
}

static const luaL_Reg create_functions[] = {
    {"tensor", c_tensor},         {"empty", c_empty},
    {"zeros", c_zeros},           {"ones", c_ones},
    {"rand", c_rand},             {"randn", c_randn},
    {"full", c_full},             {"empty_like", c_empty_like},
    {"zeros_like", c_zeros_like}, {"ones_like", c_ones_like},
    {"rand_like", c_rand_like},   {"randn_like", c_randn_like},
    {"full_like", c_full_like},   {"arange", c_arange},
    {"linspace", c_linspace},     {"eye", c_eye},
    {"randint", c_randint},       {"randperm", c_randperm},
    {"frombytes", c_frombytes},   {NULL, NULL}};

void lt_open_create(lua_State *L, int meta, int methods, int torch) {
  lt_setfuncs(L, create_functions, meta, 0, torch);
}
