/*
** l_args.c: argument conventions shared by the tensor bindings: 1-based
** dims, sizes given as numbers or a table, option tables, dtypes, scalars.
*/
#include <string.h>

#include "l_tensor.h"

/*
** Dims are 1-based as in Lua and Torch7; negative ones count from the end
** (-1 is the last) and pass through unchanged, since libtorch counts them
** the same way.  `extra` widens the range for functions that may address one
** past the end (unsqueeze).
*/
int64_t lt_checkdim(lua_State *L, int arg, th_tensor t, int extra) {
  lua_Integer d = luaL_checkinteger(L, arg);
  int n = th_dim(t) + extra;
  int range = n > 0 ? n : 1; /* a 0-d tensor accepts dim 1 or -1 */
  if (d == 0)
    luaL_argerror(L, arg, "dim 0 is not a position (dims are 1-based)");
  if (d > range || d < -range)
    luaL_argerror(L, arg, lua_pushfstring(L, "dim %d out of range for a %d-d tensor",
                                          (int)d, th_dim(t)));
  return d > 0 ? d - 1 : d;
}

int64_t lt_optdim(lua_State *L, int arg, th_tensor t, int64_t def) {
  if (lua_isnoneornil(L, arg)) return def;
  return lt_checkdim(L, arg, t, 0);
}

static int64_t check_size(lua_State *L, int arg, int isnum_ok) {
  int ok;
  lua_Integer v = lua_tointegerx(L, -1, &ok);
  if (!ok)
    luaL_argerror(L, arg, lua_pushfstring(L, "sizes must be integers, got %s",
                                          luaL_typename(L, -1)));
  if (v < -1) luaL_argerror(L, arg, "sizes must be non-negative");
  return v;
}

/* sizes from args first..last: either integers, or one table of them */
int lt_checksizes(lua_State *L, int first, int last, int64_t *sizes) {
  int n = 0;
  if (first == last && lua_istable(L, first)) {
    int len = (int)luaL_len(L, first);
    if (len > TH_MAX_DIMS) luaL_argerror(L, first, "too many dims");
    for (int i = 1; i <= len; i++) {
      lua_rawgeti(L, first, i);
      sizes[n++] = check_size(L, first, 1);
      lua_pop(L, 1);
    }
    return n;
  }
  if (last - first + 1 > TH_MAX_DIMS) luaL_argerror(L, first, "too many dims");
  for (int a = first; a <= last; a++) {
    if (!lua_isinteger(L, a))
      luaL_typeerror(L, a, lua_isnumber(L, a) ? "integer size" : "size");
    lua_pushvalue(L, a);
    sizes[n++] = check_size(L, a, 1);
    lua_pop(L, 1);
  }
  return n;
}

/* sizes run up to the last argument unless that is an options table */
int lt_optsizes_end(lua_State *L, int first) {
  int top = lua_gettop(L);
  if (top >= first && lua_type(L, top) == LUA_TTABLE && luaL_len(L, top) == 0) {
    lua_pushnil(L);
    if (lua_next(L, top)) {
      lua_pop(L, 2);
      return top - 1;
    }
  }
  return top;
}

static const char *const dtype_names[] = {
    "float32", "float64", "int64", "int32", "int16", "int8", "uint8", "bool",
    "float16", "bfloat16",
    /* PyTorch's aliases */
    "float", "double", "long", "int", "short", "char", "byte", "half", NULL};
static const int dtype_codes[] = {
    TH_FLOAT32, TH_FLOAT64, TH_INT64, TH_INT32, TH_INT16, TH_INT8, TH_UINT8,
    TH_BOOL, TH_FLOAT16, TH_BFLOAT16, TH_FLOAT32, TH_FLOAT64, TH_INT64,
    TH_INT32, TH_INT16, TH_INT8, TH_UINT8, TH_FLOAT16};

int lt_dtype_from_name(const char *name) {
  if (strncmp(name, "torch.", 6) == 0) name += 6;
  for (int i = 0; dtype_names[i]; i++)
    if (strcmp(dtype_names[i], name) == 0) return dtype_codes[i];
  return -1;
}

int lt_checkdtype(lua_State *L, int arg) {
  const char *name = luaL_checkstring(L, arg);
  int d = lt_dtype_from_name(name);
  if (d < 0) luaL_argerror(L, arg, lua_pushfstring(L, "unknown dtype '%s'", name));
  return d;
}

static int check_device(lua_State *L, int arg, const char *name) {
  if (strcmp(name, "cpu") == 0) return TH_CPU;
  if (strcmp(name, "cuda") == 0 || strncmp(name, "cuda:", 5) == 0) {
    if (!th_cuda_is_available())
      luaL_argerror(L, arg, "device 'cuda' requested but this libtorch was "
                            "built without CUDA (or no GPU is visible)");
    return TH_CUDA;
  }
  luaL_argerror(L, arg, lua_pushfstring(L, "unknown device '%s'", name));
  return TH_CPU;
}

/*
** {dtype=, device=, requires_grad=}; any other key is an error unless listed
** in `extra` (the caller reads those itself), so a typo never passes quietly.
*/
th_options lt_checkoptions(lua_State *L, int arg, th_options o,
                           const char *const *extra) {
  if (lua_isnoneornil(L, arg)) return o;
  luaL_checktype(L, arg, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, arg)) {
    const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    int top = lua_gettop(L);
    if (key == NULL) luaL_argerror(L, arg, "options must have string keys");
    if (strcmp(key, "dtype") == 0) o.dtype = lt_checkdtype(L, top);
    else if (strcmp(key, "device") == 0)
      o.device = check_device(L, arg, luaL_checkstring(L, top));
    else if (strcmp(key, "requires_grad") == 0) {
      if (!lua_isboolean(L, top))
        luaL_argerror(L, arg, "option 'requires_grad' must be a boolean");
      o.requires_grad = lua_toboolean(L, top);
    } else {
      int known = 0;
      for (int i = 0; extra && extra[i]; i++) known |= strcmp(extra[i], key) == 0;
      if (!known) luaL_argerror(L, arg, lua_pushfstring(L, "unknown option '%s'", key));
    }
    lua_pop(L, 1);
  }
  return o;
}

th_scalar lt_checkscalar(lua_State *L, int arg) {
  th_scalar s = {TH_SCALAR_FLOAT, 0, 0};
  if (lua_isboolean(L, arg)) {
    s.kind = TH_SCALAR_BOOL;
    s.i = lua_toboolean(L, arg);
  } else if (lua_isinteger(L, arg)) {
    s.kind = TH_SCALAR_INT;
    s.i = lua_tointeger(L, arg);
    s.f = (double)s.i;
  } else {
    s.f = luaL_checknumber(L, arg);
  }
  return s;
}

void lt_pushscalar(lua_State *L, th_scalar s) {
  switch (s.kind) {
  case TH_SCALAR_BOOL: lua_pushboolean(L, (int)s.i); break;
  case TH_SCALAR_INT: lua_pushinteger(L, s.i); break;
  default: lua_pushnumber(L, s.f); break;
  }
}

/* a boolean given positionally or as field `key` of an options table */
int lt_optbool(lua_State *L, int arg, const char *key, int def) {
  if (lua_isboolean(L, arg)) return lua_toboolean(L, arg);
  if (lua_istable(L, arg)) {
    int t = lua_getfield(L, arg, key);
    int v = t == LUA_TNIL ? def : lua_toboolean(L, -1);
    if (t != LUA_TNIL && t != LUA_TBOOLEAN)
      luaL_argerror(L, arg, lua_pushfstring(L, "option '%s' must be a boolean", key));
    lua_pop(L, 1);
    return v;
  }
  if (!lua_isnoneornil(L, arg)) luaL_typeerror(L, arg, "boolean or options table");
  return def;
}

double lt_optnumber(lua_State *L, int arg, const char *key, double def) {
  if (!lua_istable(L, arg)) return def;
  double v = def;
  if (lua_getfield(L, arg, key) != LUA_TNIL) {
    if (!lua_isnumber(L, -1))
      luaL_argerror(L, arg, lua_pushfstring(L, "option '%s' must be a number", key));
    v = lua_tonumber(L, -1);
  }
  lua_pop(L, 1);
  return v;
}
