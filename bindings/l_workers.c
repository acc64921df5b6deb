/*
** l_workers.c: clara.data.workers.core, the DataLoader's background
** loading over the pool of workers.c and the jobs of loader_jobs.c.
**
**   local pool = core.pool(2, 3)     -- 2 threads, 3 batches in flight
**   pool:gather(label, idx, outs, srcs[, plan])
**       queue: outs[k] = rows idx (int64, 0-based) of srcs[k]
**   pool:images(label, paths, out, mode, max_pixels, exif[, plan, c, h, w])
**       queue: out (n, C, H, W) uint8 or float32 = the decoded files
**   pool:next()      -- true once the oldest batch is done; nil, msg if it failed
**   pool:cancel()    -- every batch in flight taken back
**   pool:close()     -- threads joined (also __gc and __close)
** plan: a list of augmentation steps run on field 0 after it is loaded,
** {kind = "crop" | "flip" | "resize" | "rotate" | "jitter" | "normalize" |
** "erase", ...} with the fields of augment.h's aug_step (per-sample
** arrays as tensors: top, left int64; flip, order uint8; box int64;
** angle, values, factors, mean, std float32), drawn by the main thread.
**
** The main thread does everything a lua_State or a tensor handle needs
** (checks, allocating outputs, reading data pointers); a job holds raw
** pointers plus second handles (th_alias) of its tensors, so the memory a
** worker reads or writes stays alive whatever the collector does with the
** Lua tensors; those handles are freed on the main thread when the job is
** handed back.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clara_libs.h"
#include "image.h"
#include "l_tensor.h"
#include "loader_jobs.h"
#include "workers.h"

#define POOL "clara.data.workers.pool"
#define JOBBOX "clara.data.workers.job"
#define MAX_STEPS 16
#define MAX_HANDLES (2 * LJ_MAX_FIELDS + 8 * MAX_STEPS)

typedef struct {
  wk_pool *pool;
} Pool;

typedef struct {
  lj_job job;
  int64_t *idx;
  char **paths;
  aug_step steps[MAX_STEPS];
  th_tensor handles[MAX_HANDLES]; /* the aliases keeping buffers alive */
  int nhandles;
} Job;

static int job_run(void *arg, char *err, size_t errlen) {
  return lj_run(&((Job *)arg)->job, err, errlen);
}

/* on the main thread */
static void job_drop(void *arg) {
  Job *j = arg;
  if (j == NULL) return;
  for (int k = 0; k < j->nhandles; k++) th_free(j->handles[k]);
  if (j->paths)
    for (int64_t i = 0; i < j->job.n; i++) free(j->paths[i]);
  free(j->paths);
  free(j->idx);
  free(j);
}

static size_t elem_size(int dtype) {
  switch (dtype) {
    case TH_FLOAT64: case TH_INT64: return 8;
    case TH_FLOAT32: case TH_INT32: return 4;
    case TH_INT16: case TH_FLOAT16: case TH_BFLOAT16: return 2;
    default: return 1;
  }
}

/* {====================== building a job ====================== */

/* the job under construction hangs from a userdata whose __gc drops it,
   so an error in the checks leaves nothing behind (l_data.c's holder) */
static int jobbox_gc(lua_State *L) {
  Job **box = luaL_checkudata(L, 1, JOBBOX);
  job_drop(*box);
  *box = NULL;
  return 0;
}

static Job **new_job(lua_State *L, int kind, const char *label, int64_t n) {
  Job **box = lua_newuserdatauv(L, sizeof *box, 0);
  *box = NULL;
  luaL_setmetatable(L, JOBBOX);
  *box = calloc(1, sizeof **box);
  if (*box == NULL) luaL_error(L, "DataLoader workers: out of memory");
  (*box)->job.kind = kind;
  (*box)->job.n = n;
  snprintf((*box)->job.label, sizeof (*box)->job.label, "%s", label);
  return box;
}

/* a second handle of t, owned by the job; returns t's data */
static void *keep(lua_State *L, Job *j, th_tensor t) {
  th_tensor alias = NULL;
  if (j->nhandles >= MAX_HANDLES) luaL_error(L, "DataLoader workers: too many tensors in one batch");
  if (th_alias(&alias, t) != 0) lt_fail(L, "DataLoader workers");
  j->handles[j->nhandles++] = alias;
  return (void *)th_data_ptr(t);
}

static void check_cpu(lua_State *L, th_tensor t, const char *what) {
  if (th_device(t) != TH_CPU || !th_is_contiguous(t))
    luaL_error(L, "DataLoader workers: %s must be a contiguous CPU tensor", what);
}

/* field `key` of the table at idx: a tensor of dtype with at least count
   elements (NULL when absent and optional) */
static th_tensor param(lua_State *L, int idx, const char *key, int dtype, int64_t count, int optional) {
  lua_getfield(L, idx, key);
  th_tensor t = lt_test(L, -1);
  lua_pop(L, 1);
  if (t == NULL && optional) return NULL;
  if (t == NULL || th_dtype(t) != dtype || th_numel(t) < count || th_device(t) != TH_CPU ||
      !th_is_contiguous(t))
    luaL_error(L, "DataLoader workers: plan step field '%s' must be a contiguous %s tensor of %I values",
               key, th_dtype_name(dtype), (lua_Integer)count);
  return t;
}

static int64_t int_field(lua_State *L, int idx, const char *key, int64_t def) {
  lua_getfield(L, idx, key);
  int64_t v = lua_isnil(L, -1) ? def : (int64_t)luaL_checkinteger(L, -1);
  lua_pop(L, 1);
  return v;
}

static int option_field(lua_State *L, int idx, const char *key, const char *def,
                        const char *const names[]) {
  lua_getfield(L, idx, key);
  int v = luaL_checkoption(L, -1, def, names);
  lua_pop(L, 1);
  return v;
}

static const char *const step_kinds[] = {"crop", "flip", "resize", "rotate", "jitter",
                                         "normalize", "erase", NULL};
static const int step_values[] = {AUG_CROP, AUG_FLIP, AUG_RESIZE, AUG_ROTATE, AUG_JITTER,
                                  AUG_NORMALIZE, AUG_ERASE};
static const char *const pads[] = {"constant", "edge", "reflect", NULL};
static const char *const interps[] = {"nearest", "bilinear", "bicubic", NULL};

#define PARAM(key, type, count, opt) \
  ((t = param(L, idx, key, type, count, opt)) ? keep(L, j, t) : NULL)

/* one step from the table at idx, for a batch of dims d */
static void read_step(lua_State *L, Job *j, int idx, aug_step *s, aug_dims d) {
  th_tensor t;
  memset(s, 0, sizeof *s);
  s->kind = step_values[option_field(L, idx, "kind", NULL, step_kinds)];
  s->oh = int_field(L, idx, "oh", d.h);
  s->ow = int_field(L, idx, "ow", d.w);
  s->pad = option_field(L, idx, "pad", "constant", pads);
  s->mode = option_field(L, idx, "mode", "bilinear", interps);
  lua_getfield(L, idx, "antialias");
  s->antialias = lua_toboolean(L, -1);
  lua_getfield(L, idx, "fill");
  s->fill = (float)luaL_optnumber(L, -1, 0);
  lua_pop(L, 2);
  int crop = s->kind == AUG_CROP, erase = s->kind == AUG_ERASE;
  s->top = PARAM("top", TH_INT64, d.n, !crop);
  s->left = PARAM("left", TH_INT64, d.n, !crop);
  s->flip = PARAM("flip", TH_UINT8, d.n, s->kind != AUG_FLIP);
  s->box = PARAM("box", TH_INT64, 4 * d.n, !erase);
  s->angle = PARAM("angle", TH_FLOAT32, d.n, s->kind != AUG_ROTATE);
  s->values = PARAM("values", TH_FLOAT32, d.c, !erase && s->kind != AUG_ROTATE);
  s->factors = PARAM("factors", TH_FLOAT32, 3 * d.n, s->kind != AUG_JITTER);
  s->order = PARAM("order", TH_UINT8, 3 * d.n, 1);
  s->mean = PARAM("mean", TH_FLOAT32, d.c, s->kind != AUG_NORMALIZE);
  s->std = PARAM("std", TH_FLOAT32, d.c, s->kind != AUG_NORMALIZE);
}

/* the plan at arg (optional) for a stage of dims d writing out (float32,
   its element count checked against the plan's output dims) */
static void read_plan(lua_State *L, Job *j, int arg, aug_dims d, th_tensor out) {
  if (lua_isnoneornil(L, arg)) return;
  luaL_checktype(L, arg, LUA_TTABLE);
  int n = (int)lua_rawlen(L, arg);
  if (n > MAX_STEPS) luaL_error(L, "DataLoader workers: at most %d augmentation steps", MAX_STEPS);
  aug_dims cur = d;
  for (int k = 0; k < n; k++) {
    lua_rawgeti(L, arg, k + 1);
    luaL_checktype(L, -1, LUA_TTABLE);
    read_step(L, j, lua_gettop(L), &j->steps[k], cur);
    lua_pop(L, 1);
    cur = aug_plan_dims(&j->steps[k], 1, cur);
  }
  if (n == 0) return;
  if (th_dtype(out) != TH_FLOAT32 || th_numel(out) != cur.n * cur.c * cur.h * cur.w)
    luaL_error(L, "DataLoader workers: the augmented batch must be float32 of %I x %I x %I x %I",
               (lua_Integer)cur.n, (lua_Integer)cur.c, (lua_Integer)cur.h, (lua_Integer)cur.w);
  j->job.steps = j->steps;
  j->job.nsteps = n;
  j->job.plan_in = d;
}

static th_tensor list_tensor(lua_State *L, int list, int k, const char *what) {
  lua_rawgeti(L, list, k);
  th_tensor t = lt_test(L, -1);
  lua_pop(L, 1);
  if (t == NULL) luaL_error(L, "DataLoader workers: %s #%d is not a tensor", what, k);
  check_cpu(L, t, what);
  return t;
}

/* the dims of a tensor seen as (n, c, h, w): (n, h, w) has one channel */
static aug_dims dims_of(th_tensor t) {
  int64_t s[TH_MAX_DIMS];
  int nd = th_sizes(t, s);
  if (nd == 4) return (aug_dims){s[0], s[1], s[2], s[3]};
  if (nd == 3) return (aug_dims){s[0], 1, s[1], s[2]};
  aug_dims d = {nd > 0 ? s[0] : 1, 1, 1, 1};
  for (int k = 1; k < nd; k++) d.w *= s[k];
  return d;
}

/* queue the job in box (the pool's from then on) */
static int submit(lua_State *L, Pool *p, Job **box) {
  if (wk_submit(p->pool, job_run, job_drop, *box) != 0)
    return luaL_error(L, "DataLoader workers: cannot queue the batch (%d in flight)", wk_inflight(p->pool));
  *box = NULL;
  return 0;
}

/* }================================================================ */

static Pool *check_pool(lua_State *L) {
  Pool *p = luaL_checkudata(L, 1, POOL);
  if (p->pool == NULL) luaL_error(L, "the DataLoader's workers are closed");
  return p;
}

/* the output of field k has n rows of its source's row shape */
static void check_field(lua_State *L, th_tensor src, th_tensor out, int64_t n, int k, int planned) {
  int64_t ss[TH_MAX_DIMS], os[TH_MAX_DIMS];
  int sd = th_sizes(src, ss), od = th_sizes(out, os);
  if (planned) { /* field 0 with a plan: float32 source; read_plan checks out */
    if (th_dtype(src) != TH_FLOAT32 || sd < 1)
      luaL_error(L, "DataLoader workers: augmentation in workers needs float32 inputs");
    return;
  }
  int same = sd == od && sd >= 1 && os[0] == n && th_dtype(src) == th_dtype(out);
  for (int d = 1; same && d < sd; d++) same = ss[d] == os[d];
  if (!same) luaL_error(L, "DataLoader workers: output #%d does not match its source's rows", k);
}

/* pool:gather(label, idx, outs, srcs[, plan]) */
static int p_gather(lua_State *L) {
  Pool *p = check_pool(L);
  const char *label = luaL_checkstring(L, 2);
  th_tensor idx = lt_check(L, 3);
  luaL_checktype(L, 4, LUA_TTABLE);
  luaL_checktype(L, 5, LUA_TTABLE);
  int nf = (int)lua_rawlen(L, 4), planned = !lua_isnoneornil(L, 6) && lua_rawlen(L, 6) > 0;
  if (nf < 1 || nf > LJ_MAX_FIELDS || (int)lua_rawlen(L, 5) != nf)
    return luaL_error(L, "DataLoader workers: 1..%d outputs, one per source", LJ_MAX_FIELDS);
  if (th_dtype(idx) != TH_INT64 || th_dim(idx) != 1 || !th_is_contiguous(idx))
    return luaL_argerror(L, 3, "a contiguous 1-d int64 tensor of indices");
  int64_t n = th_numel(idx);
  Job **box = new_job(L, LJ_GATHER, label, n), *j = *box;
  if ((j->idx = malloc((size_t)(n > 0 ? n : 1) * sizeof(int64_t))) == NULL)
    return luaL_error(L, "DataLoader workers: out of memory");
  if (n > 0) memcpy(j->idx, th_data_ptr(idx), (size_t)n * sizeof(int64_t));
  j->job.idx = j->idx;
  for (int k = 1; k <= nf; k++) {
    th_tensor out = list_tensor(L, 4, k, "output"), src = list_tensor(L, 5, k, "source");
    check_field(L, src, out, n, k, planned && k == 1);
    int64_t ss[TH_MAX_DIMS];
    th_sizes(src, ss);
    lj_field *f = &j->job.fields[j->job.nfields++];
    f->src_rows = ss[0];
    f->row_bytes = (size_t)(ss[0] > 0 ? th_numel(src) / ss[0] : 0) * elem_size(th_dtype(src));
    f->src = keep(L, j, src);
    f->out = keep(L, j, out);
    if (k == 1 && planned) {
      aug_dims d = dims_of(src);
      d.n = n;
      read_plan(L, j, 6, d, out);
    }
  }
  return submit(L, p, box);
}

static const char *const img_modes[] = {"keep", "L", "RGB", "RGBA", NULL};
static const int img_mode_values[] = {CLARA_IMAGE_KEEP, CLARA_IMAGE_L, CLARA_IMAGE_RGB,
                                      CLARA_IMAGE_RGBA};

/* pool:images(label, paths, out, mode, max_pixels, exif[, plan, c, h, w]):
   out is (n, C, H, W) uint8 or float32; with a plan, the decoded size is
   c, h, w (out is the plan's output) */
static int p_images(lua_State *L) {
  Pool *p = check_pool(L);
  const char *label = luaL_checkstring(L, 2);
  luaL_checktype(L, 3, LUA_TTABLE);
  th_tensor out = lt_check(L, 4);
  int mode = img_mode_values[luaL_checkoption(L, 5, "keep", img_modes)];
  lua_Integer max_pixels = luaL_optinteger(L, 6, 0);
  int exif = lua_toboolean(L, 7);
  check_cpu(L, out, "the image batch");
  int64_t n = (int64_t)lua_rawlen(L, 3);
  aug_dims d = dims_of(out);
  int planned = !lua_isnoneornil(L, 8) && lua_rawlen(L, 8) > 0;
  if (planned) {
    d.c = luaL_checkinteger(L, 9), d.h = luaL_checkinteger(L, 10), d.w = luaL_checkinteger(L, 11);
  } else if (th_dim(out) != 4 || d.n != n || (th_dtype(out) != TH_UINT8 && th_dtype(out) != TH_FLOAT32)) {
    return luaL_error(L, "DataLoader workers: the image batch must be (%I, C, H, W) uint8 or float32",
                      (lua_Integer)n);
  }
  d.n = n;
  Job **box = new_job(L, LJ_IMAGES, label, n), *j = *box;
  if ((j->paths = calloc((size_t)(n > 0 ? n : 1), sizeof(char *))) == NULL)
    return luaL_error(L, "DataLoader workers: out of memory");
  for (int64_t i = 0; i < n; i++) {
    lua_rawgeti(L, 3, i + 1);
    const char *path = lua_tostring(L, -1);
    if (path == NULL) return luaL_error(L, "DataLoader workers: path #%I is not a string", (lua_Integer)i + 1);
    if ((j->paths[i] = strdup(path)) == NULL) return luaL_error(L, "DataLoader workers: out of memory");
    lua_pop(L, 1);
  }
  lj_job *jj = &j->job;
  jj->paths = j->paths;
  jj->mode = mode;
  jj->exif = exif;
  jj->c = (int)d.c, jj->h = (int)d.h, jj->w = (int)d.w;
  jj->dtype = th_dtype(out) == TH_UINT8 ? LJ_UINT8 : LJ_FLOAT32;
  jj->max_pixels = max_pixels > 0 ? (uint64_t)max_pixels : 0;
  jj->images_out = keep(L, j, out);
  if (planned) read_plan(L, j, 8, d, out);
  return submit(L, p, box);
}

/* pool:next() -> true, or nil, message when the oldest batch failed (every
   batch in flight is then taken back) */
static int p_next(lua_State *L) {
  Pool *p = check_pool(L);
  void *job = NULL;
  char err[WK_ERRLEN];
  int rc = wk_next(p->pool, &job, err, sizeof err);
  if (rc < 0) return luaL_error(L, "DataLoader workers: no batch in flight");
  job_drop(job);
  if (rc == 0) {
    lua_pushboolean(L, 1);
    return 1;
  }
  wk_cancel(p->pool);
  lua_pushnil(L);
  lua_pushstring(L, err);
  return 2;
}

static int p_cancel(lua_State *L) {
  Pool *p = luaL_checkudata(L, 1, POOL);
  if (p->pool) wk_cancel(p->pool);
  return 0;
}

static int p_inflight(lua_State *L) {
  Pool *p = luaL_checkudata(L, 1, POOL);
  lua_pushinteger(L, p->pool ? wk_inflight(p->pool) : 0);
  return 1;
}

/* close, __gc and __close: idempotent */
static int p_close(lua_State *L) {
  Pool *p = luaL_checkudata(L, 1, POOL);
  wk_close(p->pool);
  p->pool = NULL;
  return 0;
}

static int p_tostring(lua_State *L) {
  Pool *p = luaL_checkudata(L, 1, POOL);
  if (p->pool == NULL) lua_pushstring(L, "DataLoader workers (closed)");
  else lua_pushfstring(L, "DataLoader workers (%d batches in flight)", wk_inflight(p->pool));
  return 1;
}

/* core.plan_dims(steps, n, c, h, w) -> n, c, h, w of the batch the steps make */
static int w_plan_dims(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  aug_dims d = {luaL_checkinteger(L, 2), luaL_checkinteger(L, 3), luaL_checkinteger(L, 4),
                luaL_checkinteger(L, 5)};
  Job **box = new_job(L, LJ_GATHER, "plan", d.n);
  int n = (int)lua_rawlen(L, 1);
  if (n > MAX_STEPS) return luaL_error(L, "DataLoader workers: at most %d augmentation steps", MAX_STEPS);
  for (int k = 0; k < n; k++) {
    lua_rawgeti(L, 1, k + 1);
    luaL_checktype(L, -1, LUA_TTABLE);
    read_step(L, *box, lua_gettop(L), &(*box)->steps[k], d);
    lua_pop(L, 1);
    d = aug_plan_dims(&(*box)->steps[k], 1, d);
  }
  lua_pushinteger(L, d.n);
  lua_pushinteger(L, d.c);
  lua_pushinteger(L, d.h);
  lua_pushinteger(L, d.w);
  return 4;
}

/* core.augment(x, out, steps): the steps on the calling thread (a loader
   without workers), x float32 (n, c, h, w) or (n, h, w) */
static int w_augment(lua_State *L) {
  th_tensor x = lt_check(L, 1), out = lt_check(L, 2);
  check_cpu(L, x, "the batch");
  check_cpu(L, out, "the augmented batch");
  if (th_dtype(x) != TH_FLOAT32) return luaL_error(L, "DataLoader: augmentation needs float32 inputs");
  aug_dims d = dims_of(x);
  Job **box = new_job(L, LJ_GATHER, "augment", d.n), *j = *box;
  read_plan(L, j, 3, d, out);
  int rc = j->job.nsteps == 0 ? 0
         : aug_plan_run(j->job.steps, j->job.nsteps, th_data_ptr(x), d, (float *)th_data_ptr(out));
  job_drop(j);
  *box = NULL;
  if (rc != 0) return luaL_error(L, "DataLoader: the augmentation plan failed (a bad step or no memory)");
  return 0;
}

/* core.pool(threads, capacity) */
static int w_pool(lua_State *L) {
  int n = (int)luaL_checkinteger(L, 1), cap = (int)luaL_checkinteger(L, 2);
  Pool *p = lua_newuserdatauv(L, sizeof *p, 0);
  p->pool = NULL;
  luaL_setmetatable(L, POOL);
  char err[WK_ERRLEN];
  p->pool = wk_open(n, cap, err, sizeof err);
  if (p->pool == NULL) return luaL_error(L, "DataLoader workers: %s", err);
  return 1;
}

static const luaL_Reg pool_methods[] = {
    {"gather", p_gather}, {"images", p_images}, {"next", p_next}, {"cancel", p_cancel},
    {"inflight", p_inflight}, {"close", p_close}, {NULL, NULL}};

static const luaL_Reg pool_meta[] = {
    {"__gc", p_close}, {"__close", p_close}, {"__tostring", p_tostring}, {NULL, NULL}};

int luaopen_clara_data_workers_core(lua_State *L) {
  luaL_newmetatable(L, JOBBOX);
  lua_pushcfunction(L, jobbox_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  luaL_newmetatable(L, POOL);
  luaL_setfuncs(L, pool_meta, 0);
  luaL_newlib(L, pool_methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  lua_newtable(L);
  lua_pushinteger(L, WK_MAX_THREADS);
  lua_setfield(L, -2, "max_threads");
  lua_pushinteger(L, WK_MAX_INFLIGHT);
  lua_setfield(L, -2, "max_inflight");
  lua_pushcfunction(L, w_pool);
  lua_setfield(L, -2, "pool");
  lua_pushcfunction(L, w_plan_dims);
  lua_setfield(L, -2, "plan_dims");
  lua_pushcfunction(L, w_augment);
  lua_setfield(L, -2, "augment");
  return 1;
}
