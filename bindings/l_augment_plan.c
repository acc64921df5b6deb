/*
** l_augment_plan.c: core.plan(steps, n, c, h, w), a C plan from the steps
** T.batch drew ({kind = "crop", oh =, top = {...}, ...}, as batch.lua's
** APPLY reads them), and plan:run(x).  The arrays are copied into memory
** the plan owns; the userdata exists before any of them is allocated, so
** an error halfway leaves nothing behind (__gc frees what is there).
*/
#include <stdlib.h>
#include <string.h>

#include "l_augment.h"
#include "l_tensor.h"

static int plan_gc(lua_State *L) {
  la_plan *p = luaL_checkudata(L, 1, LA_PLAN);
  for (int k = 0; k < p->nowned; k++) free(p->owned[k]);
  free(p->owned);
  free(p->steps);
  memset(p, 0, sizeof *p);
  return 0;
}

const la_plan *la_checkplan(lua_State *L, int idx) {
  la_plan *p = luaL_checkudata(L, idx, LA_PLAN);
  if (!p->steps && p->nsteps > 0) luaL_argerror(L, idx, "plan already freed");
  return p;
}

/* memory owned by the plan; owned has room for 8 arrays per step */
static void *own(lua_State *L, la_plan *p, size_t size) {
  void *m = malloc(size ? size : 1);
  if (!m) luaL_error(L, "T.batch.plan: out of memory");
  p->owned[p->nowned++] = m;
  return m;
}

/* field `key` of the step table at index t: a list of exactly n numbers,
   or NULL when absent and optional */
#define FIELD_LIST(NAME, T, GET)                                               \
  static T *NAME(lua_State *L, la_plan *p, int t, int k, const char *key,     \
                 int64_t n, int optional) {                                    \
    T *a = NULL;                                                               \
    int type = lua_getfield(L, t, key);                                        \
    if (type == LUA_TNIL && optional) {                                        \
      lua_pop(L, 1);                                                           \
      return NULL;                                                             \
    }                                                                          \
    if (type != LUA_TTABLE || (int64_t)luaL_len(L, -1) != n)                   \
      luaL_error(L, "T.batch.plan: step #%d: %s must be a list of %I numbers", \
                 k, key, (lua_Integer)n);                                      \
    a = own(L, p, (size_t)n * sizeof *a);                                      \
    for (int64_t i = 0; i < n; i++) {                                          \
      lua_rawgeti(L, -1, (lua_Integer)i + 1);                                  \
      a[i] = (T)GET(L, -1);                                                    \
      lua_pop(L, 1);                                                           \
    }                                                                          \
    lua_pop(L, 1);                                                             \
    return a;                                                                  \
  }
FIELD_LIST(field_ints, int64_t, luaL_checkinteger)
FIELD_LIST(field_floats, float, luaL_checknumber)
FIELD_LIST(field_bytes, uint8_t, luaL_checkinteger)

static lua_Integer field_int(lua_State *L, int t, const char *key, lua_Integer def) {
  lua_getfield(L, t, key);
  lua_Integer v = lua_isnoneornil(L, -1) ? def : luaL_checkinteger(L, -1);
  lua_pop(L, 1);
  return v;
}

static const char *const KINDS[] = {"crop", "flip", "resize", "rotate", "jitter", "normalize", "erase", NULL};
static const int KIND[] = {AUG_CROP, AUG_FLIP, AUG_RESIZE, AUG_ROTATE, AUG_JITTER, AUG_NORMALIZE, AUG_ERASE};

/* step k (the table at index t) of a batch of dims d into s */
static void read_step(lua_State *L, la_plan *p, int t, int k, aug_dims d, aug_step *s) {
  lua_getfield(L, t, "kind");
  s->kind = KIND[luaL_checkoption(L, -1, NULL, KINDS)];
  lua_pop(L, 1);
  int64_t n = d.n;
  s->oh = field_int(L, t, "oh", d.h);
  s->ow = field_int(L, t, "ow", d.w);
  if (s->oh < 1 || s->ow < 1) luaL_error(L, "T.batch.plan: step #%d: oh and ow must be >= 1", k);
  switch (s->kind) {
  case AUG_CROP:
    s->top = field_ints(L, p, t, k, "top", n, 0);
    s->left = field_ints(L, p, t, k, "left", n, 0);
    s->flip = field_bytes(L, p, t, k, "flip", n, 1);
    s->pad = (int)field_int(L, t, "pad", AUG_PAD_CONSTANT);
    lua_getfield(L, t, "fill");
    s->fill = (float)luaL_optnumber(L, -1, 0);
    lua_pop(L, 1);
    break;
  case AUG_FLIP: s->flip = field_bytes(L, p, t, k, "flip", n, 0); break;
  case AUG_RESIZE:
    s->box = field_ints(L, p, t, k, "box", 4 * n, 1);
    s->mode = (int)field_int(L, t, "mode", AUG_BILINEAR);
    lua_getfield(L, t, "antialias");
    s->antialias = lua_toboolean(L, -1);
    lua_pop(L, 1);
    break;
  case AUG_ROTATE:
    s->angle = field_floats(L, p, t, k, "angle", n, 0);
    s->mode = (int)field_int(L, t, "mode", AUG_NEAREST);
    s->values = field_floats(L, p, t, k, "fill", d.c, 0);
    break;
  case AUG_JITTER:
    s->factors = field_floats(L, p, t, k, "factors", 3 * n, 0);
    s->order = field_bytes(L, p, t, k, "order", 3 * n, 1);
    break;
  case AUG_NORMALIZE:
    s->mean = field_floats(L, p, t, k, "mean", d.c, 0);
    s->std = field_floats(L, p, t, k, "std", d.c, 0);
    break;
  case AUG_ERASE:
    s->box = field_ints(L, p, t, k, "box", 4 * n, 0);
    s->values = field_floats(L, p, t, k, "value", d.c, 0);
    break;
  }
}

/* core.plan(steps, n, c, h, w) -> plan */
static int a_plan(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  aug_dims d = {luaL_checkinteger(L, 2), luaL_checkinteger(L, 3), luaL_checkinteger(L, 4),
                luaL_checkinteger(L, 5)};
  if (d.n < 0 || d.c < 1 || d.h < 1 || d.w < 1) return luaL_error(L, "T.batch.plan: bad batch sizes");
  lua_Integer nsteps = luaL_len(L, 1);
  if (nsteps < 0 || nsteps > 1000) return luaL_error(L, "T.batch.plan: at most 1000 steps");
  la_plan *p = lua_newuserdatauv(L, sizeof *p, 0);
  memset(p, 0, sizeof *p);
  if (luaL_newmetatable(L, LA_PLAN)) {
    lua_pushcfunction(L, plan_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushvalue(L, lua_upvalueindex(2)); /* the methods table */
    lua_setfield(L, -2, "__index");
  }
  lua_setmetatable(L, -2);
  p->steps = calloc((size_t)(nsteps ? nsteps : 1), sizeof *p->steps);
  p->owned = calloc((size_t)(8 * nsteps + 1), sizeof *p->owned);
  if (!p->steps || !p->owned) return luaL_error(L, "T.batch.plan: out of memory");
  p->in = d;
  for (lua_Integer k = 1; k <= nsteps; k++) {
    lua_rawgeti(L, 1, k);
    luaL_checktype(L, -1, LUA_TTABLE);
    read_step(L, p, lua_gettop(L), (int)k, d, &p->steps[k - 1]);
    p->nsteps = (int)k;
    lua_pop(L, 1);
    d = aug_plan_dims(&p->steps[k - 1], 1, d);
  }
  p->out = d;
  return 1;
}

/* plan:run(x) -> the batch x (n, c, h, w as drawn for) through the plan */
static int a_run(lua_State *L) {
  const la_plan *p = la_checkplan(L, 1);
  th_tensor x = lt_check(L, 2);
  int64_t s[TH_MAX_DIMS];
  if (th_dim(x) != 4 || th_device(x) != TH_CPU) return luaL_argerror(L, 2, "expected a CPU (N, C, H, W) batch");
  th_sizes(x, s);
  if (s[0] != p->in.n || s[1] != p->in.c || s[2] != p->in.h || s[3] != p->in.w)
    return luaL_error(L, "plan:run: the plan was drawn for a batch (%I, %I, %I, %I)", (lua_Integer)p->in.n,
                      (lua_Integer)p->in.c, (lua_Integer)p->in.h, (lua_Integer)p->in.w);
  th_tensor *in = lt_newslot(L);
  lt_push(L, in, th_contiguous_as(in, x, TH_FLOAT32), "plan:run");
  int64_t o[4] = {p->out.n, p->out.c, p->out.h, p->out.w};
  th_options opt = {TH_FLOAT32, TH_CPU, 0};
  th_tensor *out = lt_newslot(L);
  lt_push(L, out, th_new(out, TH_NEW_EMPTY, o, 4, opt), "plan:run");
  if (p->in.n > 0 && aug_plan_run(p->steps, p->nsteps, th_data_ptr(*in), p->in, (float *)th_data_ptr(*out)))
    return luaL_error(L, "plan:run: a step's parameters are out of range");
  return 1;
}

void la_open_plan(lua_State *L) {
  /* core.plan's upvalues: the tensor metatable (lt_register's), methods */
  luaL_getmetatable(L, LT_TYPENAME);
  lua_newtable(L);
  lua_pushvalue(L, -2);
  lua_pushcclosure(L, a_run, 1);
  lua_setfield(L, -2, "run");
  lua_pushcclosure(L, a_plan, 2);
  lua_setfield(L, -2, "plan");
}
