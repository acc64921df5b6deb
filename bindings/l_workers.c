/*
** l_workers.c: clara.data.workers.core, the DataLoader's background
** loading over the pool of workers.c.
**
**   local pool = core.pool(2, 3)            -- 2 threads, 3 batches in flight
**   pool:gather("batch 7", idx, outs, srcs)  -- queue: outs[k] = srcs[k] rows idx
**   pool:next()        -- true once the oldest batch is filled; nil, msg if it failed
**   pool:cancel()      -- every batch in flight taken back
**   pool:close()       -- threads joined (also __gc and __close)
**
** The main thread does everything a lua_State or a tensor handle needs
** (checks, allocating the outputs, reading data pointers); a job holds raw
** pointers plus second handles (th_alias) of its tensors, so the storage a
** worker writes stays alive whatever the collector does with the Lua
** tensors; the handles are freed on the main thread when the job is
** handed back.
*/
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clara_libs.h"
#include "l_tensor.h"
#include "workers.h"

#define POOL "clara.data.workers.pool"
#define MAX_FIELDS 16

typedef struct {
  wk_pool *pool;
} Pool;

/* one gathered field: rows of src copied to consecutive rows of out */
typedef struct {
  const char *src;
  char *out;
  size_t row_bytes;
  int64_t src_rows;
} Field;

typedef struct {
  char label[64];
  int64_t *idx;
  int64_t n;
  int nfields;
  Field fields[MAX_FIELDS];
  th_tensor handles[2 * MAX_FIELDS]; /* the aliases keeping buffers alive */
  int nhandles;
} GatherJob;

static size_t elem_size(int dtype) {
  switch (dtype) {
    case TH_FLOAT64: case TH_INT64: return 8;
    case TH_FLOAT32: case TH_INT32: return 4;
    case TH_INT16: case TH_FLOAT16: case TH_BFLOAT16: return 2;
    default: return 1;
  }
}

/* in a worker thread: raw memory only */
static int gather_run(void *arg, char *err, size_t errlen) {
  GatherJob *j = arg;
  for (int k = 0; k < j->nfields; k++) {
    const Field *f = &j->fields[k];
    for (int64_t r = 0; r < j->n; r++) {
      int64_t i = j->idx[r];
      if (i < 0 || i >= f->src_rows) {
        snprintf(err, errlen, "%s: index %" PRId64 " out of range for %" PRId64 " rows",
                 j->label, i, f->src_rows);
        return 1;
      }
      memcpy(f->out + (size_t)r * f->row_bytes, f->src + (size_t)i * f->row_bytes, f->row_bytes);
    }
  }
  return 0;
}

/* on the main thread */
static void gather_drop(void *arg) {
  GatherJob *j = arg;
  if (j == NULL) return;
  for (int k = 0; k < j->nhandles; k++) th_free(j->handles[k]);
  free(j->idx);
  free(j);
}

static Pool *check_pool(lua_State *L) {
  Pool *p = luaL_checkudata(L, 1, POOL);
  if (p->pool == NULL) luaL_error(L, "the DataLoader's workers are closed");
  return p;
}

/* a second handle of t, owned by the job */
static void *keep(lua_State *L, GatherJob *j, th_tensor t) {
  th_tensor alias = NULL;
  if (th_alias(&alias, t) != 0) lt_fail(L, "DataLoader workers");
  j->handles[j->nhandles++] = alias;
  return (void *)th_data_ptr(t);
}

static th_tensor list_tensor(lua_State *L, int list, int k, const char *what) {
  lua_rawgeti(L, list, k);
  th_tensor t = lt_test(L, -1);
  lua_pop(L, 1);
  if (t == NULL) luaL_error(L, "DataLoader workers: %s #%d is not a tensor", what, k);
  if (th_device(t) != TH_CPU || !th_is_contiguous(t))
    luaL_error(L, "DataLoader workers: %s #%d must be a contiguous CPU tensor", what, k);
  return t;
}

/* the checks of one field: out has idx's rows of src's row shape */
static void check_field(lua_State *L, th_tensor src, th_tensor out, int64_t n, int k) {
  int64_t ss[TH_MAX_DIMS], os[TH_MAX_DIMS];
  int sd = th_sizes(src, ss), od = th_sizes(out, os);
  int same = sd == od && sd >= 1 && os[0] == n && th_dtype(src) == th_dtype(out);
  for (int d = 1; same && d < sd; d++) same = ss[d] == os[d];
  if (!same) luaL_error(L, "DataLoader workers: output #%d does not match its source's rows", k);
}

/* the job under construction hangs from a userdata whose __gc drops it,
   so an error in the checks leaves nothing behind (l_data.c's holder) */
#define JOBBOX "clara.data.workers.job"

static int jobbox_gc(lua_State *L) {
  GatherJob **box = luaL_checkudata(L, 1, JOBBOX);
  gather_drop(*box);
  *box = NULL;
  return 0;
}

static GatherJob **new_job(lua_State *L, int64_t n) {
  GatherJob **box = lua_newuserdatauv(L, sizeof *box, 0);
  *box = NULL;
  luaL_setmetatable(L, JOBBOX);
  GatherJob *j = calloc(1, sizeof *j);
  *box = j;
  if (j == NULL || (j->idx = malloc((size_t)(n > 0 ? n : 1) * sizeof(int64_t))) == NULL)
    luaL_error(L, "DataLoader workers: out of memory");
  j->n = n;
  return box;
}

/* pool:gather(label, idx, outs, srcs) */
static int p_gather(lua_State *L) {
  Pool *p = check_pool(L);
  const char *label = luaL_checkstring(L, 2);
  th_tensor idx = lt_check(L, 3);
  luaL_checktype(L, 4, LUA_TTABLE);
  luaL_checktype(L, 5, LUA_TTABLE);
  int nf = (int)lua_rawlen(L, 4);
  if (nf < 1 || nf > MAX_FIELDS || (int)lua_rawlen(L, 5) != nf)
    return luaL_error(L, "DataLoader workers: 1..%d outputs, one per source", MAX_FIELDS);
  if (th_dtype(idx) != TH_INT64 || th_dim(idx) != 1 || !th_is_contiguous(idx))
    return luaL_argerror(L, 3, "a contiguous 1-d int64 tensor of indices");
  int64_t n = th_numel(idx);
  GatherJob **box = new_job(L, n), *j = *box;
  snprintf(j->label, sizeof j->label, "%s", label);
  if (n > 0) memcpy(j->idx, th_data_ptr(idx), (size_t)n * sizeof(int64_t));
  for (int k = 1; k <= nf; k++) {
    th_tensor out = list_tensor(L, 4, k, "output"), src = list_tensor(L, 5, k, "source");
    check_field(L, src, out, n, k);
    int64_t ss[TH_MAX_DIMS];
    th_sizes(src, ss);
    Field *f = &j->fields[j->nfields++];
    f->src_rows = ss[0];
    f->row_bytes = (size_t)(ss[0] > 0 ? th_numel(src) / ss[0] : 0) * elem_size(th_dtype(src));
    f->src = keep(L, j, src);
    f->out = keep(L, j, out);
  }
  if (wk_submit(p->pool, gather_run, gather_drop, j) != 0)
    return luaL_error(L, "DataLoader workers: cannot queue the batch (%d in flight)", wk_inflight(p->pool));
  *box = NULL; /* the pool's now */
  return 0;
}

/* pool:next() -> true, or nil, message when the oldest batch failed (every
   batch in flight is then taken back) */
static int p_next(lua_State *L) {
  Pool *p = check_pool(L);
  void *job = NULL;
  char err[WK_ERRLEN];
  int rc = wk_next(p->pool, &job, err, sizeof err);
  if (rc < 0) return luaL_error(L, "DataLoader workers: no batch in flight");
  gather_drop(job);
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
    {"gather", p_gather}, {"next", p_next}, {"cancel", p_cancel},
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
  return 1;
}
