/*
** l_autograd.c: gradients: requires_grad_, backward, retain_grad, and the
** grad-mode switches (torch.no_grad(fn), torch.enable_grad(fn)) and CPU
** autocast (torch.autocast, stdlib/torch/autocast.lua).
*/
#include "l_tensor.h"

static int a_requires_grad_(lua_State *L) {
  th_tensor t = lt_check(L, 1);
  int flag = lua_isnoneornil(L, 2) ? 1 : lua_toboolean(L, 2);
  if (th_set_requires_grad(t, flag) != 0) return lt_fail(L, "requires_grad_");
  lua_settop(L, 1);
  return 1;
}

/* {inputs = t} or {inputs = {t1, t2, ...}} at index v: a buffer of handles */
static th_tensor *check_inputs(lua_State *L, int opts, int v, int *n) {
  th_tensor one = lt_test(L, v);
  if (one != NULL || !lua_istable(L, v) || luaL_len(L, v) == 0)
    if (one == NULL)
      luaL_argerror(L, opts, lua_pushfstring(L, "option 'inputs' must be a tensor or a non-empty "
                                                "list of tensors, got %s", luaL_typename(L, v)));
  *n = one != NULL ? 1 : (int)luaL_len(L, v);
  if (*n > 1 << 20) luaL_argerror(L, opts, "option 'inputs' lists too many tensors");
  th_tensor *buf = lua_newuserdatauv(L, sizeof(th_tensor) * (size_t)*n, 0);
  if (one != NULL) {
    buf[0] = one;
    return buf;
  }
  for (int i = 0; i < *n; i++) {
    lua_rawgeti(L, v, i + 1);
    buf[i] = lt_test(L, -1);
    if (buf[i] == NULL)
      luaL_argerror(L, opts, lua_pushfstring(L, "option 'inputs': entry %d is a %s, not a tensor",
                                             i + 1, luaL_typename(L, -1)));
    lua_pop(L, 1); /* the list keeps the tensor alive */
  }
  return buf;
}

/* loss:backward([grad][, {retain_graph=, create_graph=}]), or positionally
   loss:backward([grad][, retain_graph[, create_graph]]) as in PyTorch */
static int a_backward(lua_State *L) {
  th_tensor t = lt_check(L, 1);
  th_tensor grad = lt_test(L, 2);
  int opts = grad ? 3 : 2;
  static const char *const keys[] = {"retain_graph", "create_graph", "inputs", NULL};
  if (!grad && !lua_isnoneornil(L, 2) && !lua_istable(L, 2))
    return luaL_typeerror(L, 2, "tensor or options table");
  lt_checkkeys(L, opts, "backward", keys);
  int retain = lt_optbool(L, opts, "retain_graph", 0);
  int create = lt_optbool(L, lua_isboolean(L, opts) ? opts + 1 : opts, "create_graph", 0);
  if (lua_istable(L, opts) && lua_getfield(L, opts, "inputs") != LUA_TNIL) {
    int n;
    th_tensor *inputs = check_inputs(L, opts, lua_gettop(L), &n);
    if (th_backward_inputs(t, grad, retain || create, create, inputs, n) != 0)
      return lt_fail(L, "backward");
    return 0;
  }
  if (th_backward(t, grad, retain || create, create) != 0) return lt_fail(L, "backward");
  return 0;
}

static int a_retain_grad(lua_State *L) {
  if (th_retain_grad(lt_check(L, 1)) != 0) return lt_fail(L, "retain_grad");
  lua_settop(L, 1);
  return 1;
}

/*
** Runs fn(...) with grad mode set to `enabled` and restores the previous
** mode whatever happens; an error in fn is raised again after the restore.
*/
static int with_grad_mode(lua_State *L, int enabled) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  int prev = th_set_grad_enabled(enabled);
  int status = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
  th_set_grad_enabled(prev);
  if (status != LUA_OK) return lua_error(L);
  return lua_gettop(L);
}

static int a_no_grad(lua_State *L) { return with_grad_mode(L, 0); }
static int a_enable_grad(lua_State *L) { return with_grad_mode(L, 1); }

static int a_set_grad_enabled(lua_State *L) {
  luaL_checktype(L, 1, LUA_TBOOLEAN);
  lua_pushboolean(L, th_set_grad_enabled(lua_toboolean(L, 1)) == 1);
  return 1; /* the previous mode */
}

static int a_is_grad_enabled(lua_State *L) {
  lua_pushboolean(L, th_is_grad_enabled() == 1);
  return 1;
}

/*
** torch._autocast_cpu(enabled, dtype, fn, ...): fn(...) under libtorch's CPU
** autocast, left as torch.autocast("cpu") leaves it (the previous state back,
** the cast cache cleared by the outermost region) whatever happens; an error
** in fn is raised again after the restore.  torch.autocast (Lua) checks the
** arguments.
*/
static int a_autocast_cpu(lua_State *L) {
  int enabled = lua_toboolean(L, 1);
  int dtype = lt_checkdtype(L, 2);
  luaL_checktype(L, 3, LUA_TFUNCTION);
  th_autocast_state prev;
  if (th_autocast_cpu_enter(enabled, dtype, &prev) != 0) return lt_fail(L, "autocast");
  int status = lua_pcall(L, lua_gettop(L) - 3, LUA_MULTRET, 0);
  if (th_autocast_cpu_exit(&prev) != 0 && status == LUA_OK) return lt_fail(L, "autocast");
  if (status != LUA_OK) return lua_error(L);
  return lua_gettop(L) - 2;
}

static int a_is_autocast_cpu_enabled(lua_State *L) {
  lua_pushboolean(L, th_autocast_cpu_enabled() == 1);
  return 1;
}

static int a_get_autocast_cpu_dtype(lua_State *L) {
  int d = th_autocast_cpu_dtype();
  if (d < 0) return lt_fail(L, "get_autocast_cpu_dtype");
  lua_pushstring(L, th_dtype_name(d));
  return 1;
}

static const luaL_Reg autograd_methods[] = {
    {"requires_grad_", a_requires_grad_},
    {"backward", a_backward},
    {"retain_grad", a_retain_grad},
    {NULL, NULL}};

static const luaL_Reg autograd_functions[] = {
    {"no_grad", a_no_grad},
    {"enable_grad", a_enable_grad},
    {"set_grad_enabled", a_set_grad_enabled},
    {"is_grad_enabled", a_is_grad_enabled},
    {"_autocast_cpu", a_autocast_cpu},
    {"is_autocast_cpu_enabled", a_is_autocast_cpu_enabled},
    {"get_autocast_cpu_dtype", a_get_autocast_cpu_dtype},
    {NULL, NULL}};

void lt_open_autograd(lua_State *L, int meta, int methods, int torch) {
  lt_setfuncs(L, autograd_methods, meta, methods, torch);
  lt_setfuncs(L, autograd_functions, meta, 0, torch);
}
