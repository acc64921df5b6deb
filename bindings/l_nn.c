/*
** l_nn.c: torch.nn.core, libtorch's nn modules as handles for the Lua
** wrappers in stdlib/torch/nn.  The wrappers check user arguments and give
** the messages; here arguments arrive clean (sizes as Lua lists, dims
** 0-based), so checks are lauxlib's type checks.
*/
#include <string.h>

#include "clara_libs.h"
#include "l_tensor.h"

#define LN_HANDLE "torch.nn.Handle"

typedef struct {
  th_module handle;
} MBox;

/* {======================================================
** The handle userdata
** =======================================================*/

/* made before the module, so a failed constructor leaves nothing behind */
static th_module *newslot(lua_State *L) {
  MBox *box = (MBox *)lua_newuserdatauv(L, sizeof(MBox), 0);
  box->handle = NULL;
  luaL_setmetatable(L, LN_HANDLE);
  return &box->handle;
}

static int pushmodule(lua_State *L, int rc, const char *fname) {
  if (rc != 0) return lt_fail(L, fname);
  return 1;
}

static th_module checkmodule(lua_State *L, int arg) {
  MBox *box = (MBox *)luaL_checkudata(L, arg, LN_HANDLE);
  if (box->handle == NULL) luaL_argerror(L, arg, "module handle already freed");
  return box->handle;
}

static int m_free(lua_State *L) {
  MBox *box = (MBox *)luaL_checkudata(L, 1, LN_HANDLE);
  if (box->handle != NULL) {
    th_module_free(box->handle);
    box->handle = NULL;
  }
  return 0;
}

/* }====================================================== */

/* {======================================================
** Options read from tables
** =======================================================*/

static int64_t field_int(lua_State *L, int t, const char *key, int64_t def) {
  int64_t v = def;
  if (lua_getfield(L, t, key) != LUA_TNIL) {
    if (!lua_isinteger(L, -1)) luaL_error(L, "option '%s' must be an integer", key);
    v = lua_tointeger(L, -1);
  }
  lua_pop(L, 1);
  return v;
}

static int field_bool(lua_State *L, int t, const char *key, int def) {
  int v = def;
  if (lua_getfield(L, t, key) != LUA_TNIL) v = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

static double field_number(lua_State *L, int t, const char *key, double def) {
  double v = def;
  if (lua_getfield(L, t, key) != LUA_TNIL) v = luaL_checknumber(L, -1);
  lua_pop(L, 1);
  return v;
}

/* a list of n integers (missing: def), as the wrappers normalize sizes */
static void field_sizes(lua_State *L, int t, const char *key, int64_t *out, int n,
                        int64_t def) {
  int k = lua_getfield(L, t, key);
  for (int i = 0; i < n; i++) {
    out[i] = def;
    if (k == LUA_TTABLE) {
      if (lua_rawgeti(L, -1, i + 1) == LUA_TNUMBER) out[i] = lua_tointeger(L, -1);
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
}

/* a list argument of at most TH_MAX_DIMS integers; returns its length */
static int list_arg(lua_State *L, int arg, int64_t *out) {
  luaL_checktype(L, arg, LUA_TTABLE);
  int n = (int)luaL_len(L, arg);
  luaL_argcheck(L, n <= TH_MAX_DIMS, arg, "too many sizes");
  for (int i = 0; i < n; i++) {
    lua_rawgeti(L, arg, i + 1);
    out[i] = luaL_checkinteger(L, -1);
    lua_pop(L, 1);
  }
  return n;
}

static int field_option(lua_State *L, int t, const char *key, const char *def,
                        const char *const names[]) {
  lua_getfield(L, t, key);
  const char *s = luaL_optstring(L, -1, def);
  for (int i = 0; names[i]; i++)
    if (strcmp(names[i], s) == 0) {
      lua_pop(L, 1);
      return i;
    }
  return luaL_error(L, "unknown %s '%s'", key, s);
}

/* }====================================================== */

/* {======================================================
** Constructors
** =======================================================*/

static int n_linear(lua_State *L) {
  int64_t in = luaL_checkinteger(L, 1), out = luaL_checkinteger(L, 2);
  int bias = lua_toboolean(L, 3);
  th_module *slot = newslot(L);
  return pushmodule(L, th_linear_new(slot, in, out, bias), "Linear");
}

static int n_bilinear(lua_State *L) {
  int64_t in1 = luaL_checkinteger(L, 1), in2 = luaL_checkinteger(L, 2);
  int64_t out = luaL_checkinteger(L, 3);
  int bias = lua_toboolean(L, 4);
  th_module *slot = newslot(L);
  return pushmodule(L, th_bilinear_new(slot, in1, in2, out, bias), "Bilinear");
}

static int n_conv(lua_State *L) {
  static const char *const modes[] = {"zeros", "reflect", "replicate", "circular", NULL};
  th_conv_options o;
  luaL_checktype(L, 1, LUA_TTABLE);
  o.dims = (int)field_int(L, 1, "dims", 2);
  luaL_argcheck(L, o.dims >= 1 && o.dims <= 3, 1, "dims must be 1, 2 or 3");
  o.transposed = field_bool(L, 1, "transposed", 0);
  o.in_channels = field_int(L, 1, "in_channels", 0);
  o.out_channels = field_int(L, 1, "out_channels", 0);
  o.groups = field_int(L, 1, "groups", 1);
  field_sizes(L, 1, "kernel_size", o.kernel_size, 3, 1);
  field_sizes(L, 1, "stride", o.stride, 3, 1);
  field_sizes(L, 1, "output_padding", o.output_padding, 3, 0);
  field_sizes(L, 1, "dilation", o.dilation, 3, 1);
  o.padding_string = TH_PADDING_NUMBERS;
  lua_getfield(L, 1, "padding");
  if (lua_type(L, -1) == LUA_TSTRING)
    o.padding_string = strcmp(lua_tostring(L, -1), "same") == 0 ? TH_PADDING_SAME
                                                                 : TH_PADDING_VALID;
  lua_pop(L, 1);
  field_sizes(L, 1, "padding", o.padding, 3, 0);
  o.padding_mode = field_option(L, 1, "padding_mode", "zeros", modes);
  o.bias = field_bool(L, 1, "bias", 1);
  th_module *slot = newslot(L);
  return pushmodule(L, th_conv_new(slot, &o), "conv");
}

static int n_pool(lua_State *L) {
  static const char *const kinds[] = {"max", "avg", "adaptive_avg", "adaptive_max", NULL};
  th_pool_options o;
  luaL_checktype(L, 1, LUA_TTABLE);
  o.kind = field_option(L, 1, "kind", "max", kinds);
  o.dims = (int)field_int(L, 1, "dims", 2);
  luaL_argcheck(L, o.dims >= 1 && o.dims <= 3, 1, "dims must be 1, 2 or 3");
  field_sizes(L, 1, "kernel_size", o.kernel_size, 3, -1);
  field_sizes(L, 1, "stride", o.stride, 3, 1);
  field_sizes(L, 1, "padding", o.padding, 3, 0);
  field_sizes(L, 1, "dilation", o.dilation, 3, 1);
  o.ceil_mode = field_bool(L, 1, "ceil_mode", 0);
  o.count_include_pad = field_bool(L, 1, "count_include_pad", 1);
  o.divisor_override = field_int(L, 1, "divisor_override", 0);
  th_module *slot = newslot(L);
  return pushmodule(L, th_pool_new(slot, &o), "pool");
}

static int n_batchnorm(lua_State *L) {
  int dims = (int)luaL_checkinteger(L, 1);
  int64_t n = luaL_checkinteger(L, 2);
  double eps = luaL_checknumber(L, 3);
  double momentum = luaL_optnumber(L, 4, -1); /* nil: None */
  int affine = lua_toboolean(L, 5), track = lua_toboolean(L, 6);
  th_module *slot = newslot(L);
  return pushmodule(L, th_batchnorm_new(slot, dims, n, eps, momentum, affine, track),
                    "BatchNorm");
}

static int n_layernorm(lua_State *L) {
  int64_t shape[TH_MAX_DIMS];
  int n = list_arg(L, 1, shape);
  double eps = luaL_checknumber(L, 2);
  int affine = lua_toboolean(L, 3);
  th_module *slot = newslot(L);
  return pushmodule(L, th_layernorm_new(slot, shape, n, eps, affine), "LayerNorm");
}

static int n_groupnorm(lua_State *L) {
  int64_t g = luaL_checkinteger(L, 1), c = luaL_checkinteger(L, 2);
  double eps = luaL_checknumber(L, 3);
  int affine = lua_toboolean(L, 4);
  th_module *slot = newslot(L);
  return pushmodule(L, th_groupnorm_new(slot, g, c, eps, affine), "GroupNorm");
}

static int n_dropout(lua_State *L) {
  double p = luaL_checknumber(L, 1);
  int inplace = lua_toboolean(L, 2);
  th_module *slot = newslot(L);
  return pushmodule(L, th_dropout_new(slot, p, inplace), "Dropout");
}

static int n_embedding(lua_State *L) {
  int64_t n = luaL_checkinteger(L, 1), d = luaL_checkinteger(L, 2);
  int64_t padding_idx = lua_isnoneornil(L, 3) ? TH_NODIM : luaL_checkinteger(L, 3);
  double max_norm = luaL_optnumber(L, 4, -1);
  double norm_type = luaL_optnumber(L, 5, 2);
  int scale = lua_toboolean(L, 6);
  th_module *slot = newslot(L);
  return pushmodule(L, th_embedding_new(slot, n, d, padding_idx, max_norm, norm_type, scale),
                    "Embedding");
}

static int n_rnn(lua_State *L) {
  static const char *const modes[] = {"LSTM", "GRU", "RNN_TANH", "RNN_RELU", NULL};
  th_rnn_options o;
  luaL_checktype(L, 1, LUA_TTABLE);
  o.mode = field_option(L, 1, "mode", "LSTM", modes);
  o.input_size = field_int(L, 1, "input_size", 0);
  o.hidden_size = field_int(L, 1, "hidden_size", 0);
  o.num_layers = field_int(L, 1, "num_layers", 1);
  o.proj_size = field_int(L, 1, "proj_size", 0);
  o.bias = field_bool(L, 1, "bias", 1);
  o.batch_first = field_bool(L, 1, "batch_first", 0);
  o.bidirectional = field_bool(L, 1, "bidirectional", 0);
  o.dropout = field_number(L, 1, "dropout", 0);
  th_module *slot = newslot(L);
  return pushmodule(L, th_rnn_new(slot, &o), modes[o.mode]);
}

static int n_activation(lua_State *L) {
  static const char *const kinds[] = {"Identity", "ReLU", "LeakyReLU", "GELU", "GELU_tanh",
                                      "SiLU", "ELU", "Tanh", "Sigmoid", "Softmax",
                                      "LogSoftmax", NULL};
  int kind = luaL_checkoption(L, 1, NULL, kinds);
  double param = luaL_optnumber(L, 2, 0);
  int inplace = lua_toboolean(L, 3);
  th_module *slot = newslot(L);
  return pushmodule(L, th_activation_new(slot, kind, param, inplace), kinds[kind]);
}

static int n_flatten(lua_State *L) {
  int64_t start = luaL_checkinteger(L, 1), end = luaL_checkinteger(L, 2);
  th_module *slot = newslot(L);
  return pushmodule(L, th_flatten_new(slot, start, end), "Flatten");
}

static int n_unflatten(lua_State *L) {
  int64_t sizes[TH_MAX_DIMS];
  int64_t dim = luaL_checkinteger(L, 1);
  int n = list_arg(L, 2, sizes);
  th_module *slot = newslot(L);
  return pushmodule(L, th_unflatten_new(slot, dim, sizes, n), "Unflatten");
}

/* }====================================================== */

/* {======================================================
** Use
** =======================================================*/

/*
** forward(h, x, ...) -> outputs..., or nil and libtorch's message: the
** wrapper raises it prefixed with the module's description and the shapes.
*/
static int n_forward(lua_State *L) {
  th_tensor ins[TH_MODULE_MAX_IO], outs[TH_MODULE_MAX_IO];
  th_module m = checkmodule(L, 1);
  int nin = lua_gettop(L) - 1;
  luaL_argcheck(L, nin >= 1 && nin <= TH_MODULE_MAX_IO, 2, "1 to 3 input tensors expected");
  for (int i = 0; i < nin; i++) ins[i] = lt_check(L, i + 2);
  th_tensor *slots[TH_MODULE_MAX_IO];
  for (int i = 0; i < TH_MODULE_MAX_IO; i++) slots[i] = lt_newslot(L);
  int n = th_module_forward(outs, m, ins, nin);
  if (n < 0) {
    lua_pushnil(L);
    lt_errormsg(L, NULL);
    return 2;
  }
  for (int i = 0; i < n; i++) { /* no Lua call between the bridge and here */
    *slots[i] = outs[i];
    lt_done(L, slots[i]);
  }
  lua_pop(L, TH_MODULE_MAX_IO - n); /* the unused slots, above the outputs */
  return n;
}

static int n_train(lua_State *L) {
  th_module m = checkmodule(L, 1);
  if (th_module_train(m, lua_toboolean(L, 2)) != 0) return lt_fail(L, "train");
  return 0;
}

/* tensors(h, buffers) -> {name, ...}, {tensor, ...}: aliases, fetched once */
static int n_tensors(lua_State *L) {
  char name[256];
  th_module m = checkmodule(L, 1);
  int buffers = lua_toboolean(L, 2);
  int n = th_module_count(m, buffers);
  lua_createtable(L, n, 0);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    th_tensor *slot = lt_newslot(L);
    if (th_module_tensor(slot, name, sizeof name, m, buffers, i) != 0)
      return lt_fail(L, "tensors");
    lt_done(L, slot);
    lua_rawseti(L, -2, i + 1);
    lua_pushstring(L, name);
    lua_rawseti(L, -3, i + 1);
  }
  return 2;
}

/* set_parameter(h, name, tensor): weight tying (th_module_set_parameter) */
static int n_set_parameter(lua_State *L) {
  th_module m = checkmodule(L, 1);
  const char *name = luaL_checkstring(L, 2);
  if (th_module_set_parameter(m, name, lt_check(L, 3)) != 0) {
    lua_pushnil(L);
    lua_pushstring(L, th_last_error());
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* }====================================================== */

static const luaL_Reg nn_functions[] = {
    {"set_parameter", n_set_parameter},
    {"linear", n_linear},       {"bilinear", n_bilinear},   {"conv", n_conv},
    {"pool", n_pool},           {"batchnorm", n_batchnorm}, {"layernorm", n_layernorm},
    {"groupnorm", n_groupnorm}, {"dropout", n_dropout},     {"embedding", n_embedding},
    {"rnn", n_rnn},             {"activation", n_activation}, {"flatten", n_flatten},
    {"unflatten", n_unflatten}, {"forward", n_forward},     {"train", n_train},
    {"tensors", n_tensors},     {NULL, NULL}};

static const luaL_Reg handle_meta[] = {{"__gc", m_free}, {"__close", m_free}, {NULL, NULL}};

int luaopen_torch_nn_core(lua_State *L) {
  luaL_requiref(L, "torch.core", luaopen_torch_core, 0); /* the tensor type */
  lua_pop(L, 1);
  if (luaL_newmetatable(L, LN_HANDLE)) {
    luaL_setfuncs(L, handle_meta, 0);
    lua_pushliteral(L, "locked");
    lua_setfield(L, -2, "__metatable");
  }
  lua_pop(L, 1);
  lua_newtable(L);
  lt_register(L, nn_functions);
  return 1;
}
