/*
** l_optim.c: the C module torch.optim.core, libtorch's optimizers as
** userdata.  stdlib/torch/optim.lua wraps them in PyTorch's interface; this
** file only moves options, state and loss closures across.
**
** A loss closure is Lua code called from inside libtorch (LBFGS calls it
** many times in one step).  No Lua error may unwind C++ frames, so the
** closure runs under lua_pcall in closure_cb; a failure is kept on the
** stack, reported to the bridge as a status, turned there into a C++
** exception that ends the step, and raised again here once the bridge has
** returned.
*/
#include <stddef.h>
#include <string.h>

#include "clara_libs.h"
#include "l_tensor.h"

#define LO_TYPENAME "torch.optim.Optimizer"

static const char *const kind_names[] = {"SGD",     "Adam",  "AdamW", "RMSprop",
                                         "Adagrad", "LBFGS", NULL};

/* {======================================================
** The userdata
** =======================================================*/

static th_optimizer *lo_newslot(lua_State *L) {
  th_optimizer *slot = (th_optimizer *)lua_newuserdatauv(L, sizeof(*slot), 0);
  *slot = NULL;
  luaL_setmetatable(L, LO_TYPENAME);
  return slot;
}

static th_optimizer lo_check(lua_State *L, int arg) {
  th_optimizer *slot = (th_optimizer *)luaL_checkudata(L, arg, LO_TYPENAME);
  if (*slot == NULL) luaL_argerror(L, arg, "optimizer already freed");
  return *slot;
}

static int lo_free(lua_State *L) {
  th_optimizer *slot = (th_optimizer *)luaL_checkudata(L, 1, LO_TYPENAME);
  if (*slot != NULL) {
    th_optim_free(*slot);
    *slot = NULL;
  }
  return 0;
}

/* }====================================================== */

/* {======================================================
** Options: a Lua table <-> th_optim_options
** =======================================================*/

enum { F_NUM, F_INT, F_BOOL };
typedef struct {
  const char *name;
  int type;
  size_t offset;
} Field;

#define FIELD(name, type) {#name, type, offsetof(th_optim_options, name)}
static const Field fields[] = {
    FIELD(lr, F_NUM),           FIELD(momentum, F_NUM),
    FIELD(dampening, F_NUM),    FIELD(weight_decay, F_NUM),
    FIELD(eps, F_NUM),          FIELD(alpha, F_NUM),
    FIELD(lr_decay, F_NUM),     FIELD(initial_accumulator_value, F_NUM),
    FIELD(tolerance_grad, F_NUM), FIELD(tolerance_change, F_NUM),
    FIELD(max_iter, F_INT),     FIELD(max_eval, F_INT),
    FIELD(history_size, F_INT), FIELD(nesterov, F_BOOL),
    FIELD(amsgrad, F_BOOL),     FIELD(centered, F_BOOL),
    {NULL, 0, 0}};

static double number_at(lua_State *L, int t, const char *what,
                        const char *fname) {
  int ok;
  double v = lua_tonumberx(L, t, &ok);
  if (!ok)
    luaL_error(L, "%s: option '%s' must be a number, got %s", fname, what,
               luaL_typename(L, t));
  return v;
}

/* missing fields keep what *o had */
static void read_options(lua_State *L, int t, th_optim_options *o,
                         const char *fname) {
  char *base = (char *)o;
  for (const Field *f = fields; f->name; f++) {
    int type = lua_getfield(L, t, f->name);
    if (type != LUA_TNIL) {
      if (f->type == F_NUM) *(double *)(base + f->offset) = number_at(L, -1, f->name, fname);
      else if (f->type == F_INT) {
        if (!lua_isinteger(L, -1))
          luaL_error(L, "%s: option '%s' must be an integer", fname, f->name);
        *(int64_t *)(base + f->offset) = lua_tointeger(L, -1);
      } else *(int *)(base + f->offset) = lua_toboolean(L, -1);
    }
    lua_pop(L, 1);
  }
  if (lua_getfield(L, t, "betas") == LUA_TTABLE) {
    lua_geti(L, -1, 1);
    o->beta1 = number_at(L, -1, "betas[1]", fname);
    lua_geti(L, -2, 2);
    o->beta2 = number_at(L, -1, "betas[2]", fname);
    lua_pop(L, 2);
  }
  lua_pop(L, 1);
  lua_getfield(L, t, "line_search_fn");
  o->strong_wolfe = lua_type(L, -1) == LUA_TSTRING &&
                    strcmp(lua_tostring(L, -1), "strong_wolfe") == 0;
  lua_pop(L, 1);
}

static void push_options(lua_State *L, const th_optim_options *o) {
  const char *base = (const char *)o;
  lua_newtable(L);
  for (const Field *f = fields; f->name; f++) {
    if (f->type == F_NUM) lua_pushnumber(L, *(const double *)(base + f->offset));
    else if (f->type == F_INT) lua_pushinteger(L, *(const int64_t *)(base + f->offset));
    else lua_pushboolean(L, *(const int *)(base + f->offset));
    lua_setfield(L, -2, f->name);
  }
  lua_createtable(L, 2, 0);
  lua_pushnumber(L, o->beta1);
  lua_rawseti(L, -2, 1);
  lua_pushnumber(L, o->beta2);
  lua_rawseti(L, -2, 2);
  lua_setfield(L, -2, "betas");
  if (o->strong_wolfe) {
    lua_pushliteral(L, "strong_wolfe");
    lua_setfield(L, -2, "line_search_fn");
  }
}

static int check_group(lua_State *L, int arg) {
  lua_Integer g = luaL_checkinteger(L, arg);
  luaL_argcheck(L, g >= 1 && g <= 1 << 20, arg, "group out of range");
  return (int)g - 1;
}

/* }====================================================== */

/* new(kind, groups[, defaults]): groups = { {params = {t, ...}, lr = ..., ...}, ... };
   defaults (the constructor's options) fall back to the first group's */
static int o_new(lua_State *L) {
  int kind = luaL_checkoption(L, 1, NULL, kind_names);
  luaL_checktype(L, 2, LUA_TTABLE);
  if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TTABLE);
  lua_settop(L, 3);
  int ngroups = (int)luaL_len(L, 2);
  luaL_argcheck(L, ngroups >= 1 && ngroups < 1 << 20, 2, "no parameter groups");
  th_optimizer *box = lo_newslot(L); /* 4 */
  /* 1. count, then gather, into collectable buffers */
  lua_Integer total = 0;
  for (int g = 1; g <= ngroups; g++) {
    if (lua_geti(L, 2, g) != LUA_TTABLE)
      return luaL_error(L, "optim: group %d is not a table", g);
    if (lua_getfield(L, -1, "params") != LUA_TTABLE)
      return luaL_error(L, "optim: group %d has no params list", g);
    total += luaL_len(L, -1);
    lua_pop(L, 2);
  }
  th_tensor *params = (th_tensor *)lua_newuserdatauv(L, (size_t)(total + 1) * sizeof(th_tensor), 0);
  int *sizes = (int *)lua_newuserdatauv(L, (size_t)ngroups * sizeof(int), 0);
  th_optim_options *opts = (th_optim_options *)lua_newuserdatauv(L, (size_t)ngroups * sizeof(*opts), 0);
  int at = 0;
  for (int g = 1; g <= ngroups; g++) {
    lua_geti(L, 2, g);
    int gt = lua_gettop(L);
    memset(&opts[g - 1], 0, sizeof(opts[g - 1]));
    read_options(L, gt, &opts[g - 1], "optim.new");
    lua_getfield(L, gt, "params");
    int n = (int)luaL_len(L, -1);
    sizes[g - 1] = n;
    for (int i = 1; i <= n; i++) {
      lua_geti(L, -1, i);
      th_tensor t = lt_test(L, -1);
      if (t == NULL)
        return luaL_error(L, "optim: group %d params[%d] is not a tensor", g, i);
      params[at++] = t;
      lua_pop(L, 1);
    }
    lua_pop(L, 2);
  }
  /* 2. the optimizer, into the userdata made first */
  th_optim_options defaults = opts[0];
  if (lua_istable(L, 3)) read_options(L, 3, &defaults, "optim.new");
  if (th_optim_new(box, kind, params, sizes, opts, ngroups, &defaults) != 0)
    return lt_fail(L, kind_names[kind]);
  lua_pushvalue(L, 4);
  return 1;
}

static int o_get_options(lua_State *L) {
  th_optimizer o = lo_check(L, 1);
  th_optim_options opts;
  if (th_optim_get_options(o, check_group(L, 2), &opts) != 0)
    return lt_fail(L, "get_options");
  push_options(L, &opts);
  return 1;
}

/* set_options(o, group, table): fields the table lacks keep their value */
static int o_set_options(lua_State *L) {
  th_optimizer o = lo_check(L, 1);
  int g = check_group(L, 2);
  luaL_checktype(L, 3, LUA_TTABLE);
  th_optim_options opts;
  if (th_optim_get_options(o, g, &opts) != 0) return lt_fail(L, "set_options");
  read_options(L, 3, &opts, "step");
  if (th_optim_set_options(o, g, &opts) != 0) return lt_fail(L, "set_options");
  return 0;
}

static int o_zero_grad(lua_State *L) {
  if (th_optim_zero_grad(lo_check(L, 1)) != 0) return lt_fail(L, "zero_grad");
  return 0;
}

/* {======================================================
** step and its loss closure
** =======================================================*/

typedef struct {
  lua_State *L;
  int fn, err; /* the binding's stack slots: the closure, its error */
  int failed;
  th_tensor loss;
} Call;

/* runs protected: every error here is caught by closure_cb's lua_pcall */
static int closure_body(lua_State *L) {
  Call *c = (Call *)lua_touserdata(L, 1);
  lua_settop(L, 2); /* 2: the closure */
  lua_call(L, 0, 1);
  th_tensor t = lt_test(L, -1);
  if (t == NULL)
    return luaL_error(L, "step: the closure must return the loss tensor, got %s",
                      luaL_typename(L, -1));
  if (th_alias(&c->loss, t) != 0) return lt_fail(L, "step");
  return 0;
}

/* called by libtorch, between C++ frames: nothing here may raise, so only
   non-allocating pushes happen outside the pcall */
static int closure_cb(void *ud, th_tensor *loss) {
  Call *c = (Call *)ud;
  lua_State *L = c->L;
  c->loss = NULL;
  lua_pushcfunction(L, closure_body);
  lua_pushlightuserdata(L, c);
  lua_pushvalue(L, c->fn);
  if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
    lua_replace(L, c->err);
    c->failed = 1;
    return 1;
  }
  *loss = c->loss;
  return 0;
}

/* step(o[, closure]) -> the closure's loss, or nothing */
static int o_step(lua_State *L) {
  th_optimizer o = lo_check(L, 1);
  if (lua_isnoneornil(L, 2)) {
    if (th_optim_step(o, NULL, NULL, NULL) != 0) return lt_fail(L, "step");
    return 0;
  }
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_settop(L, 2);
  lua_pushnil(L);                   /* 3: the closure's error */
  th_tensor *slot = lt_newslot(L);  /* 4: the loss */
  luaL_checkstack(L, 10, "step");   /* what closure_cb pushes, in advance */
  Call c = {L, 2, 3, 0, NULL};
  int rc = th_optim_step(o, slot, closure_cb, &c);
  if (c.failed) { /* the bridge has returned: raise the closure's own error */
    lua_pushvalue(L, 3);
    return lua_error(L);
  }
  if (rc != 0) return lt_fail(L, "step");
  if (*slot == NULL) return 0;
  return lt_push(L, slot, 0, "step");
}

/* }====================================================== */

/* {======================================================
** Per-parameter state
** =======================================================*/

static int check_index(lua_State *L, int arg) {
  lua_Integer i = luaL_checkinteger(L, arg);
  luaL_argcheck(L, i >= 1 && i <= 1 << 30, arg, "parameter index out of range");
  return (int)i - 1;
}

/* get_state(o, group, index) -> {name = tensor | number} or nil */
static int o_get_state(lua_State *L) {
  th_optimizer o = lo_check(L, 1);
  int g = check_group(L, 2), i = check_index(L, 3);
  const char *names[TH_STATE_MAX];
  int kinds[TH_STATE_MAX];
  int n = th_optim_state_names(o, g, i, names, kinds);
  if (n < 0) return lt_fail(L, "state");
  if (n == 0) return 0;
  lua_createtable(L, 0, n);
  for (int k = 0; k < n; k++) {
    if (kinds[k] == TH_STATE_TENSOR) {
      th_tensor *slot = lt_newslot(L);
      if (th_optim_state_tensor(slot, o, g, i, names[k]) != 0) return lt_fail(L, "state");
      if (*slot == NULL) {
        lua_pop(L, 1);
        continue;
      }
      lt_done(L, slot);
    } else {
      double v;
      if (th_optim_state_number(&v, o, g, i, names[k]) != 0) return lt_fail(L, "state");
      if (kinds[k] == TH_STATE_INT) lua_pushinteger(L, (lua_Integer)v);
      else lua_pushnumber(L, v);
    }
    lua_setfield(L, -2, names[k]);
  }
  return 1;
}

/* set_state(o, group, index, entries | nil): replaces the whole state */
static int o_set_state(lua_State *L) {
  th_optimizer o = lo_check(L, 1);
  int g = check_group(L, 2), i = check_index(L, 3);
  if (!lua_isnoneornil(L, 4)) luaL_checktype(L, 4, LUA_TTABLE);
  if (th_optim_state_clear(o, g, i) != 0) return lt_fail(L, "load_state_dict");
  if (lua_isnoneornil(L, 4)) return 0;
  lua_pushnil(L);
  while (lua_next(L, 4)) {
    if (lua_type(L, -2) != LUA_TSTRING)
      return luaL_error(L, "load_state_dict: state keys must be strings");
    const char *name = lua_tostring(L, -2);
    th_tensor t = lt_test(L, -1);
    int rc;
    if (t != NULL) rc = th_optim_state_set_tensor(o, g, i, name, t);
    else if (lua_type(L, -1) == LUA_TNUMBER)
      rc = th_optim_state_set_number(o, g, i, name, lua_tonumber(L, -1));
    else
      return luaL_error(L, "load_state_dict: state '%s' must be a tensor or a number, got %s",
                        name, luaL_typename(L, -1));
    if (rc != 0) return lt_fail(L, "load_state_dict");
    lua_pop(L, 1);
  }
  return 0;
}

/* }====================================================== */

static const luaL_Reg optim_functions[] = {
    {"new", o_new},
    {"step", o_step},
    {"zero_grad", o_zero_grad},
    {"get_options", o_get_options},
    {"set_options", o_set_options},
    {"get_state", o_get_state},
    {"set_state", o_set_state},
    {"free", lo_free},
    {NULL, NULL}};

int luaopen_torch_optim_core(lua_State *L) {
  lua_getglobal(L, "require"); /* the tensor type must exist first */
  lua_pushliteral(L, "torch.core");
  lua_call(L, 1, 0);
  if (luaL_newmetatable(L, LO_TYPENAME)) {
    lua_pushcfunction(L, lo_free);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, lo_free);
    lua_setfield(L, -2, "__close");
  }
  lua_pop(L, 1);
  lua_newtable(L);
  lt_register(L, optim_functions);
  return 1;
}
