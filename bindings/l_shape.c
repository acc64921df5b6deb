/*
** l_shape.c: shapes, views, joining and splitting, and gathering by index.
** Dims and positions are 1-based (negative from the end); values inside
** index tensors stay 0-based, as in PyTorch, so class labels work unchanged.
*/
#include "l_tensor.h"

/* dims from args 2.., or one table of them at 2 (then errors name arg 2) */
static int check_dim_list(lua_State *L, th_tensor a, int64_t *dims) {
  int top = lua_gettop(L), listed = top == 2 && lua_istable(L, 2);
  int n = listed ? (int)luaL_len(L, 2) : top - 1;
  if (n > TH_MAX_DIMS) luaL_argerror(L, 2, "too many dims");
  if (listed) lua_pushvalue(L, 2);
  for (int i = 0; i < n; i++) {
    int arg = listed ? 2 : i + 2;
    if (listed) {
      lua_rawgeti(L, -1, i + 1);
      lua_replace(L, arg);
    }
    dims[i] = lt_checkdim(L, arg, a, 0);
  }
  if (listed) lua_replace(L, 2);
  return n;
}

/* repeat's result: the input's sizes (aligned right) times the counts */
static void check_repeat(lua_State *L, th_tensor a, const int64_t *counts, int n) {
  int64_t sizes[TH_MAX_DIMS], out[TH_MAX_DIMS];
  int d = th_sizes(a, sizes);
  if (n < d) return; /* libtorch refuses fewer counts than dims */
  for (int i = 0; i < n; i++) {
    int64_t s = i - (n - d) >= 0 ? sizes[i - (n - d)] : 1;
    if (__builtin_mul_overflow(s, counts[i], &out[i])) out[i] = INT64_MAX;
  }
  lt_checkbytes(L, "repeat_tensor", out, n, th_dtype(a));
}

static int resize(lua_State *L, int how, const char *name) {
  int64_t sizes[TH_MAX_DIMS];
  th_tensor a = lt_check(L, 1);
  int n = how == TH_PERMUTE || how == TH_FLIP /* these take dims, not sizes */
              ? check_dim_list(L, a, sizes)
              : lt_checksizes(L, 2, lua_gettop(L), sizes);
  if (how == TH_REPEAT) check_repeat(L, a, sizes, n);
  th_tensor *slot = lt_newslot(L);
  return lt_push(L, slot, th_reshape(slot, how, a, sizes, n), name);
}

static int s_view(lua_State *L) { return resize(L, TH_VIEW, "view"); }
static int s_reshape(lua_State *L) { return resize(L, TH_RESHAPE, "reshape"); }
static int s_expand(lua_State *L) { return resize(L, TH_EXPAND, "expand"); }
static int s_permute(lua_State *L) { return resize(L, TH_PERMUTE, "permute"); }
static int s_repeat(lua_State *L) { return resize(L, TH_REPEAT, "repeat"); }
static int s_flip(lua_State *L) { return resize(L, TH_FLIP, "flip"); }

static int s_view_as(lua_State *L) {
  int64_t sizes[TH_MAX_DIMS];
  th_tensor a = lt_check(L, 1);
  int n = th_sizes(lt_check(L, 2), sizes);
  th_tensor *slot = lt_newslot(L);
  return lt_push(L, slot, th_reshape(slot, TH_VIEW, a, sizes, n), "view_as");
}

static int s_expand_as(lua_State *L) {
  int64_t sizes[TH_MAX_DIMS];
  th_tensor a = lt_check(L, 1);
  int n = th_sizes(lt_check(L, 2), sizes);
  th_tensor *slot = lt_newslot(L);
  return lt_push(L, slot, th_reshape(slot, TH_EXPAND, a, sizes, n), "expand_as");
}

static int s_transpose(lua_State *L) {
  th_tensor a = lt_check(L, 1);
  int64_t d0 = lt_checkdim(L, 2, a, 0), d1 = lt_checkdim(L, 3, a, 0);
  th_tensor *slot = lt_newslot(L);
  return lt_push(L, slot, th_transpose(slot, a, d0, d1), "transpose");
}

static int s_squeeze(lua_State *L) {
  th_tensor a = lt_check(L, 1);
  int64_t d = lt_optdim(L, 2, a, TH_NODIM);
  th_tensor *slot = lt_newslot(L);
  return lt_push(L, slot, th_squeeze(slot, a, d), "squeeze");
}

static int s_unsqueeze(lua_State *L) {
  th_tensor a = lt_check(L, 1);
  int64_t d = lt_checkdim(L, 2, a, 1);
  th_tensor *slot = lt_newslot(L);
  return lt_push(L, slot, th_unsqueeze(slot, a, d), "unsqueeze");
}

static int s_flatten(lua_State *L) {
  th_tensor a = lt_check(L, 1);
  int64_t s = lt_optdim(L, 2, a, 0), e = lt_optdim(L, 3, a, -1);
  th_tensor *slot = lt_newslot(L);
  return lt_push(L, slot, th_flatten(slot, a, s, e), "flatten");
}

static int s_contiguous(lua_State *L) {
  th_tensor a = lt_check(L, 1);
  th_tensor *slot = lt_newslot(L);
  return lt_push(L, slot, th_contiguous(slot, a), "contiguous");
}

/* a 1-based position along `dim` of size `size`; negative from the end */
static int64_t check_pos(lua_State *L, int arg, int64_t size, int past_end) {
  lua_Integer i = luaL_checkinteger(L, arg);
  int64_t lim = size + past_end;
  if (i == 0) luaL_argerror(L, arg, "position 0 (positions are 1-based)");
  if (i > lim || -i > lim)
    luaL_argerror(L, arg, lua_pushfstring(L, "position %d out of range for size %d",
                                          (int)i, (int)size));
  return i > 0 ? i - 1 : size + i;
}

static int64_t dim_size(th_tensor a, int64_t dim) {
  int64_t sizes[TH_MAX_DIMS];
  int n = th_sizes(a, sizes);
  return sizes[dim < 0 ? dim + n : dim];
}

static int s_select(lua_State *L) {
  th_tensor a = lt_check(L, 1);
  int64_t d = lt_checkdim(L, 2, a, 0);
  if (th_dim(a) == 0) return luaL_argerror(L, 1, "cannot select from a 0-d tensor");
  int64_t i = check_pos(L, 3, dim_size(a, d), 0);
  th_tensor *slot = lt_newslot(L);
  return lt_push(L, slot, th_select(slot, a, d, i), "select");
}

/* t:narrow(dim, start, length) */
static int s_narrow(lua_State *L) {
  th_tensor a = lt_check(L, 1);
  int64_t d = lt_checkdim(L, 2, a, 0);
  if (th_dim(a) == 0) return luaL_argerror(L, 1, "cannot narrow a 0-d tensor");
  int64_t size = dim_size(a, d);
  int64_t s = check_pos(L, 3, size, 1);
  lua_Integer len = luaL_checkinteger(L, 4);
  if (len < 0 || s + len > size)
    return luaL_argerror(L, 4, lua_pushfstring(L, "length %d from position %d "
                                               "exceeds size %d", (int)len,
                                               (int)(s + 1), (int)size));
  th_tensor *slot = lt_newslot(L);
  return lt_push(L, slot, th_narrow(slot, a, d, s, len), "narrow");
}

static int s_index_select(lua_State *L) {
  th_tensor a = lt_check(L, 1);
  int64_t d = lt_checkdim(L, 2, a, 0);
  th_tensor idx = lt_check(L, 3);
  th_tensor *slot = lt_newslot(L);
  return lt_push(L, slot, th_index_select(slot, a, d, idx), "index_select");
}

static int s_masked_select(lua_State *L) {
  th_tensor a = lt_check(L, 1);
  th_tensor m = lt_check(L, 2);
  th_tensor *slot = lt_newslot(L);
  return lt_push(L, slot, th_masked_select(slot, a, m), "masked_select");
}

static int s_gather(lua_State *L) {
  th_tensor a = lt_check(L, 1);
  int64_t d = lt_checkdim(L, 2, a, 0);
  th_tensor idx = lt_check(L, 3);
  th_tensor *slot = lt_newslot(L);
  return lt_push(L, slot, th_gather(slot, a, d, idx), "gather");
}

static int scatter(lua_State *L, int add, const char *name) {
  th_tensor a = lt_check(L, 1);
  int64_t d = lt_checkdim(L, 2, a, 0);
  th_tensor idx = lt_check(L, 3);
  th_tensor src;
  if (lua_isnumber(L, 4)) { /* a value: a source of that value, idx's shape */
    int64_t sizes[TH_MAX_DIMS];
    int n = th_sizes(idx, sizes);
    th_options o = {th_dtype(a), th_device(a), 0};
    th_tensor *s = lt_newslot(L);
    if (th_full(s, sizes, n, lt_checkscalar(L, 4), o) != 0) return lt_fail(L, name);
    lua_replace(L, 4);
    src = *s;
  } else {
    src = lt_check(L, 4);
  }
  th_tensor *slot = lt_newslot(L);
  return lt_push(L, slot, th_scatter(slot, a, d, idx, src, add), name);
}

static int s_scatter(lua_State *L) { return scatter(L, 0, "scatter"); }
static int s_scatter_add(lua_State *L) { return scatter(L, 1, "scatter_add"); }

/* torch.cat({a, b, ...}[, dim]) and torch.stack, dim 1 by default */
static int join(lua_State *L, int stack, const char *name) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 2); /* the buffer below must not land in the dim's slot */
  int n = (int)luaL_len(L, 1);
  if (n == 0) return luaL_argerror(L, 1, "expected a non-empty list of tensors");
  th_tensor *list = (th_tensor *)lua_newuserdatauv(L, sizeof(th_tensor) * n, 0);
  int buf = lua_gettop(L);
  for (int i = 0; i < n; i++) {
    lua_rawgeti(L, 1, i + 1);
    list[i] = lt_test(L, -1);
    if (list[i] == NULL)
      return luaL_argerror(L, 1, lua_pushfstring(L, "element %d is not a tensor (%s)",
                                                 i + 1, luaL_typename(L, -1)));
    lua_pop(L, 1);
  }
  int64_t dim = 0; /* stack may add a dim one past the end */
  if (!lua_isnoneornil(L, 2)) dim = lt_checkdim(L, 2, list[0], stack);
  th_tensor *slot = lt_newslot(L);
  int rc = th_cat(slot, list, n, dim, stack);
  lua_remove(L, buf);
  return lt_push(L, slot, rc, name);
}

static int s_cat(lua_State *L) { return join(L, 0, "cat"); }
static int s_stack(lua_State *L) { return join(L, 1, "stack"); }

/* t:split(size[, dim]) and t:chunk(n[, dim]) return a list of views */
static int divide(lua_State *L, int by_count, const char *name) {
  th_tensor a = lt_check(L, 1);
  lua_Integer size = luaL_checkinteger(L, 2);
  luaL_argcheck(L, size > 0, 2, by_count ? "chunks must be positive" : "size must be positive");
  int64_t d = lt_optdim(L, 3, a, 0);
  if (th_dim(a) == 0) return luaL_argerror(L, 1, "cannot split a 0-d tensor");
  int64_t len = dim_size(a, d);
  int cap = (int)(by_count ? size : (len + size - 1) / size);
  if (cap < 1) cap = 1;
  th_tensor *parts = (th_tensor *)lua_newuserdatauv(L, sizeof(th_tensor) * cap, 0);
  int n = th_split(parts, cap, a, size, d, by_count);
  if (n < 0) return lt_fail(L, name);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) { /* each piece gets an owner before any error */
    th_tensor *slot = lt_newslot(L);
    *slot = parts[i];
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static int s_split(lua_State *L) { return divide(L, 0, "split"); }
static int s_chunk(lua_State *L) { return divide(L, 1, "chunk"); }

static const luaL_Reg shape_functions[] = {
    {"view", s_view},
    {"reshape", s_reshape},
    {"expand", s_expand},
    {"permute", s_permute},
    {"repeat_tensor", s_repeat},
    {"flip", s_flip},
    {"view_as", s_view_as},
    {"expand_as", s_expand_as},
    {"transpose", s_transpose},
    {"squeeze", s_squeeze},
    {"unsqueeze", s_unsqueeze},
    {"flatten", s_flatten},
    {"contiguous", s_contiguous},
    {"select", s_select},
    {"narrow", s_narrow},
    {"index_select", s_index_select},
    {"masked_select", s_masked_select},
    {"gather", s_gather},
    {"scatter", s_scatter},
    {"scatter_add", s_scatter_add},
    {"split", s_split},
    {"chunk", s_chunk},
    {NULL, NULL}};

static const luaL_Reg join_functions[] = {
    {"cat", s_cat},
    {"stack", s_stack},
    {NULL, NULL}};

void lt_open_shape(lua_State *L, int meta, int methods, int torch) {
  lt_setfuncs(L, shape_functions, meta, methods, torch);
  lt_setfuncs(L, join_functions, meta, 0, torch);
  lua_getfield(L, methods, "repeat_tensor"); /* t["repeat"](t, 2): Lua keyword */
  lua_setfield(L, methods, "repeat");
}
