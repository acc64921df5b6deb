/*
** l_tensor.c: the torch.Tensor userdata: lifetime, memory accounting,
** metamethods, inspection and data access; and luaopen_torch_core, which
** assembles the library from the other l_*.c files.
*/
#include <string.h>

#include "clara_libs.h"
#include "l_tensor.h"

#define LT_SIZENAME "torch.Size"

/* {======================================================
** Lifetime and the collector
** =======================================================*/

/*
** Lua's collector sees a tensor as a few bytes of userdata, not the
** megabytes of storage behind it, so a loop making big tensors would grow
** without bound.  Bytes acquired count as collector debt: every MB of
** tensor storage buys one incremental step that acts as if that memory were
** Lua's own.
*/
#define LT_STEP_BYTES (1 << 20)
static size_t lt_debt;

/*
** The userdata: the handle first (so a slot pointer is the userdata
** pointer), then a tag.  Checking size and tag is how lt_check knows a
** tensor: it is cheaper than fetching and comparing the metatable, and the
** check runs on every argument of every call.
*/
#define LT_TAG UINT64_C(0x636c617261546e73) /* "claraTns" */
typedef struct {
  th_tensor handle;
  uint64_t tag;
} Box;

th_tensor *lt_newslot(lua_State *L) {
  Box *box = (Box *)lua_newuserdatauv(L, sizeof(Box), 0);
  box->handle = NULL;
  box->tag = LT_TAG;
  lua_pushvalue(L, LT_META); /* every tensor function carries it */
  lua_setmetatable(L, -2);
  return &box->handle;
}

void lt_done(lua_State *L, th_tensor *slot) {
  int64_t n = th_nbytes(*slot);
  if (n <= 0) return;
  lt_debt += (size_t)n;
  if (lt_debt >= LT_STEP_BYTES) {
    int kb = (int)(lt_debt >> 10);
    lt_debt = 0;
    lua_gc(L, LUA_GCSTEP, kb);
  }
}

static Box *box_at(lua_State *L, int arg) {
  Box *box = (Box *)lua_touserdata(L, arg);
  if (box == NULL || lua_rawlen(L, arg) != sizeof(Box) || box->tag != LT_TAG)
    return NULL;
  return box;
}

th_tensor lt_test(lua_State *L, int arg) {
  Box *box = box_at(L, arg);
  return box ? box->handle : NULL;
}

th_tensor lt_check(lua_State *L, int arg) {
  Box *box = box_at(L, arg);
  if (box == NULL) luaL_typeerror(L, arg, "tensor");
  if (box->handle == NULL) luaL_argerror(L, arg, "tensor already freed");
  return box->handle;
}

/* a tensor argument that may also be a number or boolean (a scalar, wrapped
   as PyTorch wraps Python numbers so type promotion treats it as one) */
th_tensor lt_other(lua_State *L, int arg) {
  if (lua_isnumber(L, arg) || lua_isboolean(L, arg)) {
    th_scalar s = lt_checkscalar(L, arg);
    th_tensor *slot = lt_newslot(L);
    if (th_scalar_tensor(slot, s) != 0) lt_fail(L, "scalar");
    lua_replace(L, arg);
    return *slot;
  }
  return lt_check(L, arg);
}

int lt_push(lua_State *L, th_tensor *slot, int rc, const char *fname) {
  if (rc != 0) return lt_fail(L, fname);
  lt_done(L, slot);
  return 1;
}

/* __gc, __close and t:free(): idempotent */
static int t_free(lua_State *L) {
  Box *box = box_at(L, 1);
  if (box == NULL) return luaL_typeerror(L, 1, "tensor");
  th_tensor *slot = &box->handle;
  if (*slot != NULL) {
    th_free(*slot);
    *slot = NULL;
  }
  return 0;
}

/* }====================================================== */

/* {======================================================
** Metamethods
** =======================================================*/

static int t_index(lua_State *L) {
  if (lua_type(L, 2) == LUA_TSTRING) {
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(2)) != LUA_TNIL) return 1;
    lua_pop(L, 1);
  }
  return lt_index_get(L);
}

static int t_newindex(lua_State *L) { return lt_index_set(L); }

static int t_tostring(lua_State *L) {
  lt_check(L, 1);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "torch.format");
  lua_call(L, 1, 1);
  lua_pushvalue(L, 1);
  lua_call(L, 1, 1);
  return 1;
}

static int t_len(lua_State *L) {
  int64_t sizes[TH_MAX_DIMS];
  int n = th_sizes(lt_check(L, 1), sizes);
  if (n < 0) return lt_fail(L, "len");
  if (n == 0) return luaL_error(L, "len() of a 0-d tensor");
  lua_pushinteger(L, sizes[0]);
  return 1;
}

/* }====================================================== */

/* {======================================================
** Inspection
** =======================================================*/

static void push_sizes(lua_State *L, const int64_t *sizes, int n) {
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    lua_pushinteger(L, sizes[i]);
    lua_rawseti(L, -2, i + 1);
  }
}

static int t_size(lua_State *L) {
  int64_t sizes[TH_MAX_DIMS];
  th_tensor t = lt_check(L, 1);
  int n = th_sizes(t, sizes);
  if (n < 0) return lt_fail(L, "size");
  if (lua_isnoneornil(L, 2)) {
    push_sizes(L, sizes, n);
    luaL_setmetatable(L, LT_SIZENAME); /* prints as torch.Size{2, 3} */
    return 1;
  }
  int64_t d = lt_checkdim(L, 2, t, 0);
  lua_pushinteger(L, sizes[d < 0 ? d + n : d]);
  return 1;
}

static int t_stride(lua_State *L) {
  int64_t strides[TH_MAX_DIMS];
  th_tensor t = lt_check(L, 1);
  int n = th_strides(t, strides);
  if (n < 0) return lt_fail(L, "stride");
  if (lua_isnoneornil(L, 2)) {
    push_sizes(L, strides, n);
    return 1;
  }
  int64_t d = lt_checkdim(L, 2, t, 0);
  lua_pushinteger(L, strides[d < 0 ? d + n : d]);
  return 1;
}

static int t_dim(lua_State *L) {
  lua_pushinteger(L, th_dim(lt_check(L, 1)));
  return 1;
}

static int t_numel(lua_State *L) {
  lua_pushinteger(L, th_numel(lt_check(L, 1)));
  return 1;
}

static int t_is_contiguous(lua_State *L) {
  lua_pushboolean(L, th_is_contiguous(lt_check(L, 1)) == 1);
  return 1;
}

static int t_is_floating_point(lua_State *L) {
  int d = th_dtype(lt_check(L, 1));
  lua_pushboolean(L, d == TH_FLOAT32 || d == TH_FLOAT64 || d == TH_FLOAT16 ||
                         d == TH_BFLOAT16);
  return 1;
}

static int t_is_tensor(lua_State *L) {
  lua_pushboolean(L, lt_test(L, 1) != NULL);
  return 1;
}

/* }====================================================== */

/* {======================================================
** Conversion and data
** =======================================================*/

static int to_dtype(lua_State *L, int dtype, int device, const char *fname) {
  th_tensor t = lt_check(L, 1);
  th_tensor *slot = lt_newslot(L);
  return lt_push(L, slot, th_to(slot, t, dtype, device), fname);
}

/* t:to("float64"), t:to("cpu"), t:to("cuda:1"), t:to{dtype=..., device=...},
   t:to(other): a dtype keeps the device, a device keeps the dtype */
static int t_to(lua_State *L) {
  th_tensor t = lt_check(L, 1);
  th_tensor other = lt_test(L, 2);
  if (other) return to_dtype(L, th_dtype(other), th_device(other), "to");
  if (lua_istable(L, 2)) {
    th_options o = {TH_DTYPE_DEFAULT, th_device(t), 0};
    o = lt_checkoptions(L, 2, o, NULL);
    return to_dtype(L, o.dtype, o.device, "to");
  }
  const char *name = luaL_checkstring(L, 2);
  /* a device is "cpu", "cuda", "cuda:1" (libtorch's "type:index"); else a dtype */
  if (strncmp(name, "cpu", 3) == 0 || strncmp(name, "cuda", 4) == 0 || strchr(name, ':'))
    return to_dtype(L, TH_DTYPE_DEFAULT, lt_checkdevice(L, 2, name), "to");
  return to_dtype(L, lt_checkdtype(L, 2), th_device(t), "to");
}

#define CONVERTER(fname, dtype)                                         \
  static int t_##fname(lua_State *L) {                                  \
    lt_check(L, 1);                                                     \
    return to_dtype(L, dtype, th_device(lt_check(L, 1)), #fname);       \
  }
CONVERTER(float, TH_FLOAT32)
CONVERTER(double, TH_FLOAT64)
CONVERTER(long, TH_INT64)
CONVERTER(int, TH_INT32)
CONVERTER(short, TH_INT16)
CONVERTER(byte, TH_UINT8)
CONVERTER(bool, TH_BOOL)
CONVERTER(half, TH_FLOAT16)
CONVERTER(bfloat16, TH_BFLOAT16)

static int t_cpu(lua_State *L) { return to_dtype(L, TH_DTYPE_DEFAULT, TH_CPU, "cpu"); }
/* t:cuda([index]) */
static int t_cuda(lua_State *L) {
  lt_check(L, 1);
  const char *name = lua_isnoneornil(L, 2) ? "cuda"
                     : lua_pushfstring(L, "cuda:%d", (int)luaL_checkinteger(L, 2));
  return to_dtype(L, TH_DTYPE_DEFAULT, lt_checkdevice(L, 2, name), "cuda");
}

static int t_item(lua_State *L) {
  th_tensor t = lt_check(L, 1);
  th_scalar s;
  if (th_numel(t) != 1)
    return luaL_error(L, "item: a tensor with %d elements cannot be converted "
                      "to a number", (int)th_numel(t));
  if (th_item(&s, t) != 0) return lt_fail(L, "item");
  lt_pushscalar(L, s);
  return 1;
}

/* nested tables, built from a contiguous float64 / int64 / uint8 copy */
typedef struct {
  const void *data;
  int kind; /* TH_SCALAR_* */
  const int64_t *sizes;
  int ndim;
  int64_t pos;
} Walk;

static void push_value(lua_State *L, Walk *w) {
  int64_t i = w->pos++;
  switch (w->kind) {
  case TH_SCALAR_FLOAT: lua_pushnumber(L, ((const double *)w->data)[i]); break;
  case TH_SCALAR_INT: lua_pushinteger(L, ((const int64_t *)w->data)[i]); break;
  default: lua_pushboolean(L, ((const uint8_t *)w->data)[i] != 0); break;
  }
}

static void push_nested(lua_State *L, Walk *w, int d) {
  if (d == w->ndim) {
    push_value(L, w);
    return;
  }
  luaL_checkstack(L, 3, "tensor too deep");
  int64_t n = w->sizes[d];
  lua_createtable(L, n > 1 << 24 ? 0 : (int)n, 0);
  for (int64_t i = 0; i < n; i++) {
    push_nested(L, w, d + 1);
    lua_rawseti(L, -2, i + 1);
  }
}

static int t_totable(lua_State *L) {
  th_tensor t = lt_check(L, 1);
  int64_t sizes[TH_MAX_DIMS];
  int ndim = th_sizes(t, sizes);
  int dt = th_dtype(t);
  Walk w = {NULL, TH_SCALAR_FLOAT, sizes, ndim, 0};
  int as = TH_FLOAT64;
  if (dt == TH_BOOL) w.kind = TH_SCALAR_BOOL, as = TH_UINT8;
  else if (dt == TH_INT64 || dt == TH_INT32 || dt == TH_INT16 || dt == TH_INT8 ||
           dt == TH_UINT8)
    w.kind = TH_SCALAR_INT, as = TH_INT64;
  th_tensor *slot = lt_newslot(L); /* keeps the copy owned while we build */
  if (ndim < 0 || th_contiguous_as(slot, t, as) != 0) return lt_fail(L, "totable");
  w.data = th_data_ptr(*slot);
  push_nested(L, &w, 0);
  return 1;
}

/* }====================================================== */

static const luaL_Reg tensor_methods[] = {
    {"size", t_size},
    {"stride", t_stride},
    {"dim", t_dim},
    {"numel", t_numel},
    {"nelement", t_numel},
    {"is_contiguous", t_is_contiguous},
    {"is_floating_point", t_is_floating_point},
    {"to", t_to},
    {"float", t_float},
    {"double", t_double},
    {"long", t_long},
    {"int", t_int},
    {"short", t_short},
    {"byte", t_byte},
    {"bool", t_bool},
    {"half", t_half},
    {"bfloat16", t_bfloat16},
    {"cpu", t_cpu},
    {"cuda", t_cuda},
    {"item", t_item},
    {"totable", t_totable},
    {"free", t_free},
    {NULL, NULL}};

static const luaL_Reg torch_functions[] = {
    {"is_tensor", t_is_tensor},
    {NULL, NULL}};

static const luaL_Reg tensor_meta[] = {
    {"__gc", t_free},
    {"__close", t_free},
    {"__tostring", t_tostring},
    {"__len", t_len},
    {"__newindex", t_newindex},
    {NULL, NULL}};

void lt_setfuncs(lua_State *L, const luaL_Reg *l, int meta, int methods,
                 int torch) {
  for (; l->name != NULL; l++) {
    lua_pushvalue(L, meta);
    lua_pushcclosure(L, l->func, 1);
    if (methods) {
      lua_pushvalue(L, -1);
      lua_setfield(L, methods, l->name);
    }
    if (torch) lua_setfield(L, torch, l->name);
    else lua_pop(L, 1);
  }
}

/* for C modules beyond torch.core: sets the functions of `l` into the table
   at the top of the stack, each carrying the tensor metatable */
void lt_register(lua_State *L, const luaL_Reg *l) {
  int t = lua_gettop(L);
  if (luaL_getmetatable(L, LT_TYPENAME) != LUA_TTABLE)
    luaL_error(L, "torch.core must be loaded first (require \"torch\")");
  lt_setfuncs(L, l, t + 1, 0, t);
  lua_pop(L, 1);
}

int luaopen_torch_core(lua_State *L) {
  const int torch = 1, meta = 2, methods = 3;
  lua_settop(L, 0); /* require's arguments are not needed */
  lua_newtable(L);
  if (!luaL_newmetatable(L, LT_TYPENAME))
    return luaL_error(L, "torch.core opened twice in one state");
  /* the sizes' type: a plain list with a metatable torch/size.lua fills */
  luaL_newmetatable(L, LT_SIZENAME);
  lua_setfield(L, torch, "_Size");
  lua_newtable(L);
  for (const luaL_Reg *l = tensor_meta; l->name; l++) {
    lua_pushvalue(L, meta);
    lua_pushcclosure(L, l->func, 1);
    lua_setfield(L, meta, l->name);
  }
  lt_setfuncs(L, tensor_methods, meta, methods, 0);
  lt_setfuncs(L, torch_functions, meta, 0, torch);
  lt_open_ops(L, meta, methods, torch);
  lt_open_reduce(L, meta, methods, torch);
  lt_open_shape(L, meta, methods, torch);
  lt_open_index(L, meta, methods, torch);
  lt_open_create(L, meta, methods, torch);
  lt_open_autograd(L, meta, methods, torch);
  lt_open_state(L, meta, methods, torch);
  /* __index looks up methods first, then properties and positions */
  lua_pushvalue(L, meta);
  lua_pushvalue(L, methods);
  lua_pushcclosure(L, t_index, 2);
  lua_setfield(L, meta, "__index");
  lua_pushvalue(L, methods);
  lua_setfield(L, meta, "__fields"); /* for the REPL's completion */
  lua_pushvalue(L, methods);
  lua_setfield(L, torch, "Tensor");
  lua_pushliteral(L, LT_TYPENAME);
  lua_setfield(L, meta, "__name");
  lua_pushvalue(L, torch);
  return 1;
}
