/*
** l_workers.c: clara.data.workers.core, the DataLoader's background
** loading over the pool of workers.c and the jobs of loader_jobs.c.
**
**   local pool = core.pool(2, 3)     -- 2 threads, 3 batches in flight
**   pool:gather(label, idx, outs, srcs[, plan])
**       queue: outs[k] = rows idx (int64, 0-based) of srcs[k]
**   pool:images(label, paths, out, mode, max_pixels, exif[, plan, c, h, w[, fit]])
**       queue: out (n, C, H, W) uint8 or float32 = the decoded files, each
**       resized and cropped as fit says (l_image.h) when given
**   pool:next()      -- true once the oldest batch is done; nil, msg if it failed
**   pool:cancel()    -- every batch in flight taken back
**   pool:close()     -- threads joined (also __gc and __close)
**   core.plan_out(plan) -> n, c, h, w of the batch a plan makes
** plan: a T.batch.plan (bindings/l_augment.h) drawn on the main thread for
** field 0, run in the worker after the batch is loaded.  The job takes the
** plan's arrays over (the plan is spent: a finalizer of the Lua value,
** which may run in any order at collection, then frees nothing a worker
** still reads).
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
#include "l_augment.h"
#include "l_image.h"
#include "l_tensor.h"
#include "loader_jobs.h"
#include "workers.h"

#define POOL "clara.data.workers.pool"
#define JOBBOX "clara.data.workers.job"
#define MAX_HANDLES (2 * LJ_MAX_FIELDS + 1)

typedef struct {
  wk_pool *pool;
} Pool;

typedef struct {
  lj_job job;
  int64_t *idx;
  char **paths;
  aug_step *steps;  /* a plan's, taken over */
  void **owned;
  int nowned;
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
  for (int k = 0; k < j->nowned; k++) free(j->owned[k]);
  free(j->owned);
  free(j->steps);
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

/* the plan at arg (optional), drawn for a batch of dims d, taken over by
   the job; out (float32) must hold what it makes */
static void take_plan(lua_State *L, Job *j, int arg, aug_dims d, th_tensor out) {
  if (lua_isnoneornil(L, arg)) return;
  la_plan *p = (la_plan *)la_checkplan(L, arg);
  if (p->in.n != d.n || p->in.c != d.c || p->in.h != d.h || p->in.w != d.w)
    luaL_error(L, "DataLoader workers: the plan was drawn for another batch size");
  if (th_dtype(out) != TH_FLOAT32 || th_numel(out) != p->out.n * p->out.c * p->out.h * p->out.w)
    luaL_error(L, "DataLoader workers: the augmented batch must be float32 of the plan's size");
  j->steps = p->steps, j->owned = p->owned, j->nowned = p->nowned;
  p->steps = NULL, p->owned = NULL, p->nowned = 0; /* spent: la_checkplan refuses it now */
  j->job.steps = j->steps;
  j->job.nsteps = p->nsteps;
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
  if (planned) { /* field 0 with a plan: float32 source; take_plan checks out */
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
  int nf = (int)lua_rawlen(L, 4), planned = !lua_isnoneornil(L, 6);
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
      take_plan(L, j, 6, d, out);
    }
  }
  return submit(L, p, box);
}

static const char *const img_modes[] = {"keep", "L", "RGB", "RGBA", NULL};
static const int img_mode_values[] = {CLARA_IMAGE_KEEP, CLARA_IMAGE_L, CLARA_IMAGE_RGB,
                                      CLARA_IMAGE_RGBA};

/* pool:images(label, paths, out, mode, max_pixels, exif[, plan, c, h, w[, fit]]):
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
  int planned = !lua_isnoneornil(L, 8);
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
  if (!lua_isnoneornil(L, 12)) {
    limg_checkfit(L, 12, &jj->fit);
    jj->has_fit = 1;
  }
  jj->c = (int)d.c, jj->h = (int)d.h, jj->w = (int)d.w;
  jj->dtype = th_dtype(out) == TH_UINT8 ? LJ_UINT8 : LJ_FLOAT32;
  jj->max_pixels = max_pixels > 0 ? (uint64_t)max_pixels : 0;
  jj->images_out = keep(L, j, out);
  if (planned) take_plan(L, j, 8, d, out);
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

/* core.plan_out(plan) -> n, c, h, w of the batch it makes */
static int w_plan_out(lua_State *L) {
  const la_plan *p = la_checkplan(L, 1);
  lua_pushinteger(L, p->out.n);
  lua_pushinteger(L, p->out.c);
  lua_pushinteger(L, p->out.h);
  lua_pushinteger(L, p->out.w);
  return 4;
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
  lua_pushcfunction(L, w_plan_out);
  lua_setfield(L, -2, "plan_out");
  return 1;
}
