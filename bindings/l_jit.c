/*
** l_jit.c: the C module torch.jit.core: TorchScript modules as userdata,
** and the conversion between Lua values and the values scripts take and
** return (tensors, numbers, strings, lists, tuples, dicts).  The Lua side
** (stdlib/torch/jit.lua) builds the module interface on top.
*/
#include <stdlib.h>
#include <string.h>

#include "clara_libs.h"
#include "l_jit.h"

#define LJ_WRAP "torch.jit.wrap" /* registry: Lua function wrapping handles */
#define LJ_TUPLE "torch.jit.tuple" /* registry: metatable marking tuples */
#define LJ_MAXDEPTH 64

/* {======================================================
** Userdata: values and script handles
** =======================================================*/

th_value *lj_newvalue(lua_State *L) {
  th_value *slot = (th_value *)lua_newuserdatauv(L, sizeof(th_value), 0);
  *slot = NULL;
  luaL_setmetatable(L, LJ_VALUE);
  return slot;
}

static int value_gc(lua_State *L) {
  th_value *slot = (th_value *)luaL_checkudata(L, 1, LJ_VALUE);
  if (*slot) th_value_free(*slot);
  *slot = NULL;
  return 0;
}

static th_script *new_script(lua_State *L) {
  th_script *slot = (th_script *)lua_newuserdatauv(L, sizeof(th_script), 0);
  *slot = NULL;
  luaL_setmetatable(L, LJ_SCRIPT);
  return slot;
}

static th_script check_script(lua_State *L, int arg) {
  th_script *slot = (th_script *)luaL_testudata(L, arg, LJ_SCRIPT);
  if (slot == NULL && lua_istable(L, arg)) { /* a wrapped module */
    lua_getfield(L, arg, "_script");
    slot = (th_script *)luaL_testudata(L, -1, LJ_SCRIPT);
    lua_pop(L, 1);
  }
  if (slot == NULL) luaL_typeerror(L, arg, "script module");
  if (*slot == NULL) luaL_argerror(L, arg, "script module already freed");
  return *slot;
}

static int script_free(lua_State *L) {
  th_script *slot = (th_script *)luaL_checkudata(L, 1, LJ_SCRIPT);
  if (*slot) th_script_free(*slot);
  *slot = NULL;
  return 0;
}

static int fail(lua_State *L, const char *fname) { return lt_fail(L, fname); }

/* }====================================================== */

/* {======================================================
** Lua -> value
** =======================================================*/

static th_value to_value(lua_State *L, int idx, const char *fname, int depth);

static th_value new_container(lua_State *L, int kind, const char *fname) {
  th_value *slot = lj_newvalue(L);
  if (th_value_new(slot, kind) != 0) fail(L, fname);
  return *slot;
}

/* keys of the table at idx: 1 all strings, 2 the sequence 1..n, 0 mixed */
static int key_kind(lua_State *L, int idx, lua_Integer *n) {
  lua_Integer count = 0, len = (lua_Integer)lua_rawlen(L, idx);
  int strings = 1, ints = 1;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    count++;
    if (lua_type(L, -1) != LUA_TSTRING) strings = 0;
    if (!lua_isinteger(L, -1)) ints = 0;
  }
  *n = count;
  if (count == 0 || strings) return 1;
  if (ints && count == len) return 2;
  return ints ? 3 : 0; /* 3: integer keys, not a sequence */
}

static int cmp_keys(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* a dict with its keys sorted, so that the same table always saves the
   same bytes */
static th_value table_dict(lua_State *L, int idx, lua_Integer n, int kind,
                           const char *fname, int depth) {
  th_value dict = new_container(L, TH_V_DICT, fname);
  int top = lua_gettop(L);
  lua_createtable(L, (int)n, 0); /* the keys, in order */
  int keys = top + 1, i = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    lua_pushvalue(L, -1);
    lua_rawseti(L, keys, ++i);
  }
  if (kind == 1) {
    const char **names = (const char **)lua_newuserdatauv(L, n * sizeof(char *), 0);
    for (i = 0; i < n; i++) {
      lua_rawgeti(L, keys, i + 1);
      names[i] = lua_tostring(L, -1); /* kept alive by the keys table */
      lua_pop(L, 1);
    }
    qsort(names, (size_t)n, sizeof(char *), cmp_keys);
    for (i = 0; i < n; i++) {
      lua_pushstring(L, names[i]);
      lua_rawseti(L, keys, i + 1);
    }
    lua_pop(L, 1);
  } else {
    lua_getglobal(L, "table");
    lua_getfield(L, -1, "sort");
    lua_pushvalue(L, keys);
    lua_call(L, 1, 0);
    lua_pop(L, 1);
  }
  for (i = 1; i <= n; i++) {
    lua_rawgeti(L, keys, i);
    th_value k = to_value(L, lua_gettop(L), fname, depth);
    lua_rawgeti(L, keys, i);
    lua_rawget(L, idx);
    th_value v = to_value(L, lua_gettop(L), fname, depth);
    if (th_value_insert(dict, k, v) != 0) fail(L, fname);
    lua_settop(L, keys);
  }
  lua_settop(L, top);
  return dict;
}

static th_value table_value(lua_State *L, int idx, const char *fname,
                            int depth) {
  lua_Integer n;
  int tuple = 0;
  if (depth > LJ_MAXDEPTH)
    luaL_error(L, "%s: tables nested too deep (or a cycle)", fname);
  if (lua_getmetatable(L, idx)) {
    luaL_getmetatable(L, LJ_TUPLE);
    tuple = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
  }
  lua_getfield(L, idx, "_script"); /* a wrapped script module */
  if (luaL_testudata(L, -1, LJ_SCRIPT)) {
    th_script m = check_script(L, lua_gettop(L));
    th_value *slot = lj_newvalue(L);
    if (th_value_from_module(slot, m) != 0) fail(L, fname);
    lua_remove(L, -2);
    return *slot;
  }
  lua_pop(L, 1);
  int kind = key_kind(L, idx, &n);
  if (kind == 0)
    luaL_error(L, "%s: a table with both string and number keys cannot be "
                  "converted (use string keys for a dict, 1..n for a list)",
               fname);
  if (kind == 1 || kind == 3)
    return table_dict(L, idx, n, kind, fname, depth + 1);
  th_value list = new_container(L, tuple ? TH_V_TUPLE : TH_V_LIST, fname);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, idx, i);
    th_value item = to_value(L, lua_gettop(L), fname, depth + 1);
    if (th_value_append(list, item) != 0) fail(L, fname);
    lua_pop(L, 2);
  }
  return list;
}

/* pushes the box of the new value */
static th_value to_value(lua_State *L, int idx, const char *fname, int depth) {
  luaL_checkstack(L, 8, "value too deep");
  idx = lua_absindex(L, idx);
  th_tensor t = lt_test(L, idx);
  if (t == NULL && luaL_testudata(L, idx, LT_TYPENAME))
    luaL_error(L, "%s: tensor already freed", fname);
  if (t != NULL) {
    th_value *slot = lj_newvalue(L);
    if (th_value_from_tensor(slot, lt_check(L, idx)) != 0) fail(L, fname);
    return *slot;
  }
  switch (lua_type(L, idx)) {
  case LUA_TNIL: case LUA_TNONE: {
    th_value *slot = lj_newvalue(L);
    if (th_value_new(slot, TH_V_NONE) != 0) fail(L, fname);
    return *slot;
  }
  case LUA_TBOOLEAN: case LUA_TNUMBER: {
    th_scalar s = lt_checkscalar(L, idx);
    th_value *slot = lj_newvalue(L);
    if (th_value_from_scalar(slot, s) != 0) fail(L, fname);
    return *slot;
  }
  case LUA_TSTRING: {
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    th_value *slot = lj_newvalue(L);
    if (th_value_from_string(slot, s, len) != 0) fail(L, fname);
    return *slot;
  }
  case LUA_TTABLE: return table_value(L, idx, fname, depth);
  case LUA_TUSERDATA:
    if (luaL_testudata(L, idx, LJ_SCRIPT)) {
      th_script m = check_script(L, idx);
      th_value *slot = lj_newvalue(L);
      if (th_value_from_module(slot, m) != 0) fail(L, fname);
      return *slot;
    }
    /* fall through */
  default:
    luaL_error(L, "%s: cannot convert a %s (tensors, numbers, booleans, "
                  "strings and tables of them can)", fname,
               luaL_typename(L, idx));
    return NULL;
  }
}

th_value lj_tovalue(lua_State *L, int idx, const char *fname) {
  return to_value(L, idx, fname, 0);
}

/* }====================================================== */

/* {======================================================
** Value -> Lua
** =======================================================*/

/* Containers already converted are in the table at index `seen` (by
   identity): a value holding one container many times (a pickle's memo,
   a list appended twice) gives one shared Lua table, not copies that may
   be exponentially many, and a cycle gives a table holding itself. */
#define LJ_PUSHDEPTH 10000 /* C recursion: far below the stack's size */

static void push_value(lua_State *L, th_value v, const char *fname, int depth,
                       int seen);

static void push_child(lua_State *L, th_value v, int64_t i, int key,
                       const char *fname, int depth, int seen) {
  th_value *slot = lj_newvalue(L);
  if ((key ? th_value_key(slot, v, i) : th_value_at(slot, v, i)) != 0)
    fail(L, fname);
  push_value(L, *slot, fname, depth + 1, seen);
  lua_remove(L, -2); /* the box */
}

static void push_module(lua_State *L, th_value v, const char *fname) {
  lua_getfield(L, LUA_REGISTRYINDEX, LJ_WRAP);
  th_script *slot = new_script(L);
  if (th_value_module(slot, v) != 0) fail(L, fname);
  if (lua_isfunction(L, -2)) lua_call(L, 1, 1);
  else lua_remove(L, -2);
}

static void push_container(lua_State *L, th_value v, int kind,
                           const char *fname, int depth, int seen) {
  const void *id = th_value_id(v);
  if (id != NULL) {
    if (lua_rawgetp(L, seen, id) == LUA_TTABLE) return;
    lua_pop(L, 1);
  }
  if (depth > LJ_PUSHDEPTH)
    luaL_error(L, "%s: a value nested deeper than %d levels has no Lua form",
               fname, LJ_PUSHDEPTH);
  int64_t n = th_value_len(v);
  if (n < 0) fail(L, fname);
  lua_createtable(L, kind == TH_V_DICT ? 0 : (int)n,
                  kind == TH_V_DICT ? (int)n : 0);
  if (id != NULL) {
    lua_pushvalue(L, -1);
    lua_rawsetp(L, seen, id);
  }
  for (int64_t i = 0; i < n; i++) {
    if (kind == TH_V_DICT) {
      push_child(L, v, i, 1, fname, depth, seen);
      if (lua_isnil(L, -1) || lua_isuserdata(L, -1))
        luaL_error(L, "%s: a dict key of this kind has no Lua form", fname);
    } else {
      lua_pushinteger(L, i + 1);
    }
    push_child(L, v, i, 0, fname, depth, seen);
    lua_rawset(L, -3);
  }
}

static void push_value(lua_State *L, th_value v, const char *fname, int depth,
                       int seen) {
  luaL_checkstack(L, 8, "value too deep");
  int kind = th_value_kind(v);
  switch (kind) {
  case TH_V_NONE: lua_pushnil(L); return;
  case TH_V_TENSOR: {
    th_tensor *slot = lt_newslot(L);
    lt_push(L, slot, th_value_tensor(slot, v), fname);
    return;
  }
  case TH_V_BOOL: case TH_V_INT: case TH_V_FLOAT: {
    th_scalar s;
    if (th_value_scalar(&s, v) != 0) fail(L, fname);
    lt_pushscalar(L, s);
    return;
  }
  case TH_V_STRING: {
    size_t len;
    const char *s = th_value_string(v, &len);
    if (s == NULL) fail(L, fname);
    lua_pushlstring(L, s, len);
    return;
  }
  case TH_V_LIST: case TH_V_TUPLE: case TH_V_DICT:
    push_container(L, v, kind, fname, depth, seen);
    return;
  case TH_V_MODULE: push_module(L, v, fname); return;
  default: {
    char name[128];
    if (th_value_typename(v, name, sizeof name) != 0) fail(L, fname);
    luaL_error(L, "%s: a value of type %s has no Lua form", fname, name);
  }
  }
}

void lj_pushvalue(lua_State *L, th_value v, const char *fname) {
  lua_newtable(L);
  int seen = lua_gettop(L);
  push_value(L, v, fname, 0, seen);
  lua_remove(L, seen);
}

/* torch.jit.core.roundtrip(x): x converted to a value and back (tests) */
static int j_roundtrip(lua_State *L) {
  luaL_checkany(L, 1);
  th_value v = lj_tovalue(L, 1, "roundtrip");
  lj_pushvalue(L, v, "roundtrip");
  return 1;
}

/* }====================================================== */

/* {======================================================
** Script modules
** =======================================================*/

/* load(path [, device]) -> handle; device: map_location, where every
   tensor goes (else where the file says) */
static int j_load(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  int device = lua_isnoneornil(L, 2) ? -1 : lt_checkdevice(L, 2, luaL_checkstring(L, 2));
  size_t len;
  const char *data = lj_readfile(L, path, &len, "torch.jit.load");
  th_script *slot = new_script(L);
  lj_load_limits(L);
  if (th_script_load(slot, data, len, device) != 0)
    return luaL_error(L, "torch.jit.load: '%s': %s", path, lt_errormsg(L, NULL));
  return 1;
}

/* save(handle, path): atomic */
static int j_save(lua_State *L) {
  th_script m = check_script(L, 1);
  const char *path = luaL_checkstring(L, 2);
  th_value *bytes = lj_newvalue(L);
  size_t len;
  if (th_script_save(bytes, m) != 0) return fail(L, "save");
  const char *data = th_value_string(*bytes, &len);
  lj_writefile(L, path, data, len, "save");
  return 0;
}

/* source_shape(text): the nesting depth, its line, the most terms of one
   statement, their line (bridge/source.cpp) */
static int j_source_shape(lua_State *L) {
  size_t len;
  const char *source = luaL_checklstring(L, 1, &len);
  int64_t shape[4];
  if (th_source_shape(source, len, shape) != 0) return fail(L, "torch.jit.compile");
  for (int i = 0; i < 4; i++) lua_pushinteger(L, (lua_Integer)shape[i]);
  return 4;
}

static int j_new(lua_State *L) {
  const char *name = luaL_optstring(L, 1, "Module");
  th_script *slot = new_script(L);
  if (th_script_new(slot, name) != 0) return fail(L, "torch.jit.compile");
  return 1;
}

/* register(handle, name, value, "parameter"|"buffer"|"module"|"attribute") */
static int j_register(lua_State *L) {
  static const char *const kinds[] = {"parameter", "buffer", "module",
                                      "attribute", NULL};
  th_script m = check_script(L, 1);
  const char *name = luaL_checkstring(L, 2);
  luaL_checkany(L, 3);
  int kind = luaL_checkoption(L, 4, NULL, kinds);
  if (kind <= TH_SLOT_BUFFER) lt_check(L, 3);
  else if (kind == TH_SLOT_MODULE) check_script(L, 3);
  th_value v = lj_tovalue(L, 3, "torch.jit.compile");
  if (th_script_register(m, name, v, kind) != 0)
    return luaL_error(L, "torch.jit.compile: %s '%s': %s", kinds[kind], name,
                      lt_errormsg(L, NULL));
  return 0;
}

static int j_define(lua_State *L) {
  th_script m = check_script(L, 1);
  const char *source = luaL_checkstring(L, 2);
  if (th_script_define(m, source) != 0) return fail(L, "torch.jit.compile");
  return 0;
}

/* call(handle, method, args...) -> result */
static int j_call(lua_State *L) {
  const char *method = luaL_checkstring(L, 2);
  th_script *box = (th_script *)luaL_testudata(L, 1, LJ_SCRIPT);
  if (box != NULL && *box == NULL)
    return luaL_error(L, "%s: script module already freed", method);
  th_script m = check_script(L, 1);
  int nargs = lua_gettop(L) - 2;
  if (nargs > 64) return luaL_error(L, "%s: too many arguments", method);
  th_value args[64];
  for (int i = 0; i < nargs; i++) args[i] = lj_tovalue(L, 3 + i, method);
  th_value *out = lj_newvalue(L);
  if (th_script_call(out, m, method, args, nargs) != 0) {
    if (strncmp(th_last_error(), "no method", 9) == 0) return fail(L, "call");
    return fail(L, lua_pushfstring(L, "script method %s", method));
  }
  lj_pushvalue(L, *out, method);
  return 1;
}

static int j_has_method(lua_State *L) {
  th_script m = check_script(L, 1);
  int r = th_script_has_method(m, luaL_checkstring(L, 2));
  if (r < 0) return fail(L, "has_method");
  lua_pushboolean(L, r);
  return 1;
}

static int j_methods(lua_State *L) {
  th_script m = check_script(L, 1);
  th_value *out = lj_newvalue(L);
  if (th_script_methods(out, m) != 0) return fail(L, "methods");
  lj_pushvalue(L, *out, "methods");
  return 1;
}

/* named(handle, "parameters"|"buffers"|"children", recurse) -> names,
   values (two lists, in registration order) */
static int j_named(lua_State *L) {
  static const char *const kinds[] = {"parameters", "buffers", "children",
                                      NULL};
  th_script m = check_script(L, 1);
  int kind = luaL_checkoption(L, 2, NULL, kinds);
  int recurse = lua_isnone(L, 3) ? 1 : lua_toboolean(L, 3);
  th_value *d = lj_newvalue(L);
  if (th_script_named(d, m, kind, recurse) != 0) return fail(L, kinds[kind]);
  int64_t n = th_value_len(*d);
  if (n < 0) return fail(L, kinds[kind]);
  lua_newtable(L); /* containers seen: none here, push_child wants one */
  int seen = lua_gettop(L);
  lua_createtable(L, (int)n, 0);
  lua_createtable(L, (int)n, 0);
  for (int64_t i = 0; i < n; i++) {
    push_child(L, *d, i, 1, kinds[kind], 0, seen);
    lua_rawseti(L, -3, i + 1);
    push_child(L, *d, i, 0, kinds[kind], 0, seen);
    lua_rawseti(L, -2, i + 1);
  }
  return 2;
}

static int j_train(lua_State *L) {
  th_script m = check_script(L, 1);
  if (th_script_train(m, lua_toboolean(L, 2)) != 0) return fail(L, "train");
  return 0;
}

static int j_is_training(lua_State *L) {
  int r = th_script_is_training(check_script(L, 1));
  if (r < 0) return fail(L, "training");
  lua_pushboolean(L, r);
  return 1;
}

static int j_name(lua_State *L) {
  th_script m = check_script(L, 1);
  th_value *out = lj_newvalue(L);
  if (th_script_name(out, m) != 0) return fail(L, "original_name");
  lj_pushvalue(L, *out, "original_name");
  return 1;
}

static int j_code(lua_State *L) {
  th_script m = check_script(L, 1);
  const char *method = luaL_optstring(L, 2, "forward");
  th_value *out = lj_newvalue(L);
  if (th_script_code(out, m, method) != 0) return fail(L, "code");
  lj_pushvalue(L, *out, "code");
  return 1;
}

/* set_wrapper(fn): fn(handle) makes the Lua object for modules that
   scripts return (children, submodule outputs) */
static int j_set_wrapper(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_pushvalue(L, 1);
  lua_setfield(L, LUA_REGISTRYINDEX, LJ_WRAP);
  return 0;
}

static int j_is_script(lua_State *L) {
  lua_pushboolean(L, luaL_testudata(L, 1, LJ_SCRIPT) != NULL);
  return 1;
}

/* }====================================================== */

static const luaL_Reg jit_functions[] = {
    {"load", j_load},
    {"save", j_save},
    {"new", j_new},
    {"source_shape", j_source_shape},
    {"register", j_register},
    {"define", j_define},
    {"call", j_call},
    {"has_method", j_has_method},
    {"methods", j_methods},
    {"named", j_named},
    {"train", j_train},
    {"is_training", j_is_training},
    {"name", j_name},
    {"code", j_code},
    {"set_wrapper", j_set_wrapper},
    {"is_script", j_is_script},
    {"roundtrip", j_roundtrip},
    {"free", script_free},
    {NULL, NULL}};

int luaopen_torch_jit_core(lua_State *L) {
  luaL_requiref(L, "torch.core", luaopen_torch_core, 0);
  lua_pop(L, 1);
  if (luaL_newmetatable(L, LJ_VALUE)) {
    lua_pushcfunction(L, value_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, LJ_SCRIPT)) {
    lua_pushcfunction(L, script_free);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, script_free);
    lua_setfield(L, -2, "__close");
  }
  lua_pop(L, 1);
  luaL_newmetatable(L, LJ_TUPLE); /* setmetatable({a, b}, it): a tuple */
  lua_pop(L, 1);
  lua_newtable(L);
  lt_register(L, jit_functions);
  lj_open_serialize(L);
  lj_open_dispatch(L);
  luaL_getmetatable(L, LJ_TUPLE);
  lua_setfield(L, -2, "tuple_mt");
  return 1;
}
