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

/* a device name ("cpu", "cuda:1") as its code; an unknown one or one this
   build or machine lacks is an argument error */
int lt_checkdevice(lua_State *L, int arg, const char *name) {
  int code = TH_CPU;
  if (th_parse_device(&code, name) != 0) luaL_argerror(L, arg, lt_errormsg(L, NULL));
  return code;
}

static void push_error_fn(lua_State *L, const char *fn);

/* "unknown option 'dtyp' (did you mean 'dtype'?)", as an argument error */
static void unknown_option(lua_State *L, int arg, const char *key, const char *const *extra) {
  static const char *const common[] = {"dtype", "device", "requires_grad", NULL};
  int n = 0;
  push_error_fn(L, "closest");
  lua_pushstring(L, key);
  lua_newtable(L);
  for (int i = 0; common[i]; i++) lua_pushstring(L, common[i]), lua_rawseti(L, -2, ++n);
  for (int i = 0; extra && extra[i]; i++) lua_pushstring(L, extra[i]), lua_rawseti(L, -2, ++n);
  lua_call(L, 2, 1);
  const char *near = lua_tostring(L, -1);
  luaL_argerror(L, arg, lua_pushfstring(L, "unknown option '%s'%s%s%s", key, near ? " (did you mean '" : "",
                                        near ? near : "", near ? "'?)" : ""));
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
    if (strcmp(key, "dtype") == 0) {
      if (lua_type(L, top) != LUA_TSTRING)
        luaL_argerror(L, arg, lua_pushfstring(L, "unknown dtype: option 'dtype' must be a dtype "
                                              "name, got %s", luaL_typename(L, top)));
      o.dtype = lt_dtype_from_name(lua_tostring(L, top));
      if (o.dtype < 0)
        luaL_argerror(L, arg, lua_pushfstring(L, "unknown dtype '%s'", lua_tostring(L, top)));
    }
    else if (strcmp(key, "device") == 0) {
      if (lua_type(L, top) != LUA_TSTRING)
        luaL_argerror(L, arg, lua_pushfstring(L, "option 'device' must be a device name, got %s",
                                              luaL_typename(L, top)));
      o.device = lt_checkdevice(L, arg, lua_tostring(L, top));
    }
    else if (strcmp(key, "requires_grad") == 0) {
      if (!lua_isboolean(L, top))
        luaL_argerror(L, arg, "option 'requires_grad' must be a boolean");
      o.requires_grad = lua_toboolean(L, top);
    } else {
      int known = 0;
      for (int i = 0; extra && extra[i]; i++) known |= strcmp(extra[i], key) == 0;
      if (!known) unknown_option(L, arg, key, extra);
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

/*
** {======================================================
** Options and sizes checked against clara's rules: the error paths call
** clara.error (closest names, the user's line); the common paths stay C.
** =======================================================*/

/* clara.error.<fn> on the stack */
static void push_error_fn(lua_State *L, const char *fn) {
  lua_getglobal(L, "require");
  lua_pushliteral(L, "clara.error");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, fn);
  lua_remove(L, -2);
}

/*
** Every key of the options table at `arg` must be one of `known`: a typo
** (std{correction=}, sum{keepdimm=}) raises "fname: unknown option 'k'
** (did you mean ...?)" instead of passing quietly.
*/
void lt_checkkeys(lua_State *L, int arg, const char *fname, const char *const *known) {
  if (!lua_istable(L, arg)) return;
  lua_pushnil(L);
  while (lua_next(L, arg)) {
    lua_pop(L, 1);
    const char *key = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    int ok = 0;
    for (int i = 0; key && known[i] && !ok; i++) ok = strcmp(known[i], key) == 0;
    if (ok) continue;
    int top = lua_gettop(L);
    push_error_fn(L, "closest");
    lua_pushvalue(L, top);
    lua_newtable(L);
    for (int i = 0; known[i]; i++) {
      lua_pushstring(L, known[i]);
      lua_rawseti(L, -2, i + 1);
    }
    lua_call(L, 2, 1);
    const char *near = lua_tostring(L, -1);
    push_error_fn(L, "raise");
    lua_pushfstring(L, "torch.%s", fname);
    lua_pushstring(L, "unknown option %s%s%s%s");
    push_error_fn(L, "show");
    lua_pushvalue(L, top);
    lua_call(L, 1, 1);
    lua_pushstring(L, near ? " (did you mean '" : "");
    lua_pushstring(L, near ? near : "");
    lua_pushstring(L, near ? "'?)" : "");
    lua_call(L, 6, 0);
  }
}

/* the dtype named by field "dtype" of the table at `arg` (or by a string
   there, as PyTorch's positional dtype), or TH_DTYPE_DEFAULT */
int lt_optdtype(lua_State *L, int arg) {
  if (lua_type(L, arg) == LUA_TSTRING) return lt_checkdtype(L, arg);
  if (!lua_istable(L, arg)) return TH_DTYPE_DEFAULT;
  int d = TH_DTYPE_DEFAULT;
  if (lua_getfield(L, arg, "dtype") != LUA_TNIL) {
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_argerror(L, arg, lua_pushfstring(L, "option 'dtype' must be a dtype name, got %s",
                                            luaL_typename(L, -1)));
    d = lt_dtype_from_name(lua_tostring(L, -1));
    if (d < 0)
      luaL_argerror(L, arg, lua_pushfstring(L, "unknown dtype '%s'", lua_tostring(L, -1)));
  }
  lua_pop(L, 1);
  return d;
}

static const int64_t dtype_width[TH_NDTYPES] = {4, 8, 8, 4, 2, 1, 1, 1, 2, 2};

/*
** The bytes a new tensor of these sizes would take, checked before libtorch
** allocates: past clara.limits.tensor_bytes (or past what int64 counts) the
** call raises, instead of an allocation the kernel grants lazily and the
** OOM killer ends.  Requests under 1 MiB skip the look-up.
*/
void lt_checkbytes(lua_State *L, const char *fname, const int64_t *sizes, int n, int dtype) {
  int64_t bytes = dtype < 0 || dtype >= TH_NDTYPES ? 4 : dtype_width[dtype];
  int overflow = 0;
  for (int i = 0; i < n; i++) {
    if (sizes[i] <= 0) return; /* empty, or -1 left for libtorch to infer */
    overflow |= __builtin_mul_overflow(bytes, sizes[i], &bytes);
  }
  if (!overflow && bytes <= ((int64_t)1 << 20)) return;
  push_error_fn(L, "limit");
  lua_pushfstring(L, "torch.%s", fname);
  lua_pushliteral(L, "the tensor's size in bytes");
  if (overflow) lua_pushnumber(L, 0x1p63); else lua_pushinteger(L, bytes);
  lua_pushliteral(L, "tensor_bytes");
  lua_call(L, 4, 0);
}

/* as lt_checkbytes for a 1-d tensor of a count given as a double */
void lt_checkcount(lua_State *L, const char *fname, double count, int dtype) {
  int64_t n = count >= 0x1p62 ? INT64_MAX / 16 : (int64_t)count;
  if (count != count) return; /* libtorch says what is wrong with a NaN */
  lt_checkbytes(L, fname, &n, 1, dtype);
}
/* }====================================================== */
