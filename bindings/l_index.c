/*
** l_index.c: t.field and t[k], t[k] = v.
**
** Properties: grad, requires_grad, is_leaf, grad_fn, dtype, shape, device,
** ndim, data, T.  Positions (1-based, negative from the end):
**   t[i]                 select along dim 1
**   t[{i, {a, b}, {}}]   one entry per dim: a position selects (the dim goes),
**                        {a, b[, step]} keeps a to b inclusive, {a} is {a, a},
**                        {} or ":" keeps everything, a tensor index-selects
**   t[mask]              masked_select with a bool tensor
**   t[idx]               index_select along dim 1 with an integer tensor
** Assignment copies a tensor into (or fills a number into) the same region.
*/
#include <string.h>

#include "l_tensor.h"

static int push_dtype(lua_State *L, th_tensor t) {
  lua_pushstring(L, th_dtype_name(th_dtype(t)));
  return 1;
}

/*
** t:sizee() or t.shpe: no such method or property.  A name close to a real
** one is a typo: it raises with the closest names, through clara.error at
** the user's line.  Any other stays nil, so probes such as `v.state_dict`
** (is this a module?) and Lua's own (__name, __close) keep working.
*/
static int unknown_field(lua_State *L, const char *k) {
  static const char *const props[] = {"grad", "requires_grad", "is_leaf", "grad_fn", "dtype",
                                      "device", "ndim", "shape", "data", "T", NULL};
  if (k[0] == '_') {
    lua_pushnil(L);
    return 1;
  }
  int key = lua_gettop(L) + 1;
  lua_pushstring(L, k);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "clara.error");
  lua_call(L, 1, 1);
  int E = lua_gettop(L);
  lua_getfield(L, E, "closest");
  lua_pushvalue(L, key);
  lua_newtable(L); /* the candidates: methods, then properties */
  int n = 0;
  if (luaL_getmetatable(L, LT_TYPENAME) == LUA_TTABLE &&
      lua_getfield(L, -1, "__fields") == LUA_TTABLE) {
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      lua_pop(L, 1);
      lua_pushvalue(L, -1);
      lua_rawseti(L, -5, ++n);
    }
  }
  lua_settop(L, E + 3);
  for (int i = 0; props[i]; i++) {
    lua_pushstring(L, props[i]);
    lua_rawseti(L, -2, ++n);
  }
  lua_pushinteger(L, 3);
  lua_call(L, 3, 1);
  const char *near = lua_tostring(L, -1);
  if (near == NULL) {
    lua_pushnil(L);
    return 1;
  }
  lua_getfield(L, E, "raise");
  lua_pushnil(L);
  lua_pushfstring(L, "tensor has no method or property '%s' (did you mean '%s'?)", k, near);
  lua_call(L, 2, 0);
  return 0;
}

static int property(lua_State *L, th_tensor t, const char *k) {
  if (strcmp(k, "grad") == 0) {
    th_tensor *slot = lt_newslot(L);
    if (th_grad(slot, t) != 0) return lt_fail(L, "grad");
    if (*slot == NULL) lua_pushnil(L);
    return 1;
  }
  if (strcmp(k, "requires_grad") == 0) {
    lua_pushboolean(L, th_requires_grad(t) == 1);
    return 1;
  }
  if (strcmp(k, "is_leaf") == 0) {
    lua_pushboolean(L, th_is_leaf(t) == 1);
    return 1;
  }
  if (strcmp(k, "grad_fn") == 0) {
    char name[128];
    if (th_grad_fn_name(t, name, sizeof name) != 0) return lt_fail(L, "grad_fn");
    if (name[0]) lua_pushstring(L, name);
    else lua_pushnil(L);
    return 1;
  }
  if (strcmp(k, "dtype") == 0) return push_dtype(L, t);
  if (strcmp(k, "device") == 0) {
    char name[32];
    th_device_name(name, sizeof name, th_device(t));
    lua_pushstring(L, name);
    return 1;
  }
  if (strcmp(k, "ndim") == 0) {
    lua_pushinteger(L, th_dim(t));
    return 1;
  }
  if (strcmp(k, "shape") == 0) {
    lua_getfield(L, 1, "size");
    lua_pushvalue(L, 1);
    lua_call(L, 1, 1);
    return 1;
  }
  if (strcmp(k, "data") == 0) {
    th_tensor *slot = lt_newslot(L);
    return lt_push(L, slot, th_detach(slot, t), "data");
  }
  if (strcmp(k, "T") == 0) {
    int64_t dims[TH_MAX_DIMS];
    int n = th_dim(t);
    for (int i = 0; i < n; i++) dims[i] = n - 1 - i;
    th_tensor *slot = lt_newslot(L);
    return lt_push(L, slot, th_reshape(slot, TH_PERMUTE, t, dims, n), "T");
  }
  return unknown_field(L, k);
}

static int64_t size_of(th_tensor t, int64_t dim) {
  int64_t sizes[TH_MAX_DIMS];
  th_sizes(t, sizes);
  return sizes[dim];
}

/* a 1-based position in a dim of `size` to a 0-based one */
static int64_t position(lua_State *L, lua_Integer i, int64_t size, int dim) {
  if (i == 0) luaL_error(L, "index: index 0 in dim %d (positions are 1-based)", dim + 1);
  if (i > size || -i > size)
    luaL_error(L, "index: index %d out of range for dim %d of size %d", (int)i, dim + 1,
               (int)size);
  return i > 0 ? i - 1 : size + i;
}

/* replaces the tensor at stack index `cur` by the result in `slot` */
static th_tensor advance(lua_State *L, int cur, th_tensor *slot, int rc, const char *what) {
  if (rc != 0) lt_fail(L, what);
  lt_done(L, slot);
  lua_replace(L, cur);
  return *slot;
}

/* one entry {a, b[, step]} (inclusive), {a}, {} or ":" keeps dim `d` */
static th_tensor range(lua_State *L, int cur, th_tensor t, int entry, int64_t d) {
  int64_t size = size_of(t, d);
  if (lua_type(L, entry) == LUA_TSTRING) {
    if (strcmp(lua_tostring(L, entry), ":") != 0)
      luaL_error(L, "index: bad index '%s' for dim %d (use ':' for all)", lua_tostring(L, entry),
                 (int)d + 1);
    return t;
  }
  int n = (int)luaL_len(L, entry);
  if (n == 0) return t;
  lua_Integer v[3] = {0, 0, 1};
  for (int i = 0; i < n && i < 3; i++) {
    lua_rawgeti(L, entry, i + 1);
    int ok;
    v[i] = lua_tointegerx(L, -1, &ok);
    if (!ok) luaL_error(L, "index: range bounds in dim %d must be integers", (int)d + 1);
    lua_pop(L, 1);
  }
  if (n == 1) v[1] = v[0];
  if (v[2] <= 0) luaL_error(L, "index: range step in dim %d must be positive", (int)d + 1);
  int64_t s = position(L, v[0], size, (int)d);
  int64_t e = position(L, v[1], size, (int)d) + 1;
  if (e < s) e = s;
  th_tensor *slot = lt_newslot(L);
  return advance(L, cur, slot, th_slice(slot, t, d, s, e, v[2]), "index");
}

/* the region t[k] names, pushed; `is_view` says whether it shares storage */
static void locate(lua_State *L, th_tensor t, int k, int *is_view) {
  *is_view = 1;
  int ndim = th_dim(t); /* t advances below; messages speak of the first */
  lua_pushvalue(L, 1);
  int cur = lua_gettop(L);
  th_tensor idx = lt_test(L, k);
  if (lua_isinteger(L, k)) {
    if (th_dim(t) == 0) luaL_error(L, "index: cannot index a 0-d tensor");
    int64_t i = position(L, lua_tointeger(L, k), size_of(t, 0), 0);
    th_tensor *slot = lt_newslot(L);
    advance(L, cur, slot, th_select(slot, t, 0, i), "index");
  } else if (idx != NULL) {
    int dt = th_dtype(idx);
    th_tensor *slot = lt_newslot(L);
    *is_view = 0;
    if (dt == TH_BOOL || dt == TH_UINT8)
      advance(L, cur, slot, th_masked_select(slot, t, idx), "index");
    else
      advance(L, cur, slot, th_index_select(slot, t, 0, idx), "index");
  } else if (lua_istable(L, k)) {
    int n = (int)luaL_len(L, k);
    int64_t d = 0;
    for (int i = 1; i <= n; i++) {
      lua_rawgeti(L, k, i);
      int entry = lua_gettop(L);
      if (d >= th_dim(t)) luaL_error(L, "index: too many indices for a %d-d tensor", ndim);
      if (lua_isinteger(L, entry)) {
        int64_t p = position(L, lua_tointeger(L, entry), size_of(t, d), (int)d);
        th_tensor *slot = lt_newslot(L);
        t = advance(L, cur, slot, th_select(slot, t, d, p), "index");
      } else if (lt_test(L, entry)) {
        th_tensor *slot = lt_newslot(L);
        *is_view = 0;
        t = advance(L, cur, slot, th_index_select(slot, t, d, lt_test(L, entry)), "index");
        d++;
      } else if (lua_istable(L, entry) || lua_type(L, entry) == LUA_TSTRING) {
        t = range(L, cur, t, entry, d);
        d++;
      } else {
        luaL_error(L, "index: bad index entry %d (%s)", i, luaL_typename(L, entry));
      }
      lua_settop(L, cur);
    }
  } else {
    luaL_error(L, "index: bad tensor index (%s)", luaL_typename(L, k));
  }
}

int lt_index_get(lua_State *L) {
  th_tensor t = lt_check(L, 1);
  if (lua_type(L, 2) == LUA_TSTRING) return property(L, t, lua_tostring(L, 2));
  int is_view;
  locate(L, t, 2, &is_view);
  return 1;
}

static void copy_into(lua_State *L, th_tensor dst, int v) {
  th_tensor src = lt_test(L, v);
  int rc = src ? th_copy_(dst, src) : th_fill_(dst, lt_checkscalar(L, v));
  if (rc != 0) lt_fail(L, "index assignment");
}

int lt_index_set(lua_State *L) {
  th_tensor t = lt_check(L, 1);
  if (lua_type(L, 2) == LUA_TSTRING) {
    const char *k = lua_tostring(L, 2);
    if (strcmp(k, "grad") == 0) {
      if (!lua_isnil(L, 3) && lua_type(L, 3) != LUA_TUSERDATA)
        return luaL_error(L, "grad: expected a tensor or nil, got %s", luaL_typename(L, 3));
      th_tensor g = lua_isnil(L, 3) ? NULL : lt_check(L, 3);
      if (th_set_grad(t, g) != 0) lt_fail(L, "grad");
      return 0;
    }
    if (strcmp(k, "requires_grad") == 0) {
      luaL_checktype(L, 3, LUA_TBOOLEAN);
      if (th_set_requires_grad(t, lua_toboolean(L, 3)) != 0) lt_fail(L, "requires_grad");
      return 0;
    }
    if (strcmp(k, "data") == 0) { /* PyTorch's t.data = v: same tensor, new data */
      th_tensor v = lt_test(L, 3);
      if (v == NULL) return luaL_error(L, "data: expected a tensor, got %s", luaL_typename(L, 3));
      if (th_set_data(t, v) != 0) lt_fail(L, "data");
      return 0;
    }
    return luaL_error(L, "cannot set field '%s' of a tensor", k);
  }
  th_tensor mask = lt_test(L, 2);
  if (mask && (th_dtype(mask) == TH_BOOL || th_dtype(mask) == TH_UINT8)) {
    th_tensor v = lt_other(L, 3);
    th_tensor *slot = lt_newslot(L);
    if (th_masked_fill(slot, t, mask, v) != 0) return lt_fail(L, "index assignment");
    if (th_copy_(t, *slot) != 0) return lt_fail(L, "index assignment");
    return 0;
  }
  int is_view;
  locate(L, t, 2, &is_view);
  if (!is_view)
    return luaL_error(L, "assignment through an index tensor is not supported "
                         "(use index_select/scatter)");
  copy_into(L, *(th_tensor *)lua_touserdata(L, -1), 3);
  return 0;
}

void lt_open_index(lua_State *L, int meta, int methods, int torch) {
  (void)L, (void)meta, (void)methods, (void)torch; /* reached via __index */
}
