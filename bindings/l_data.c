/*
** l_data.c: clara.data.core, the C half of clara.data's readers.
**
** Reads a file, hands the bytes to a parser of parse_*.c (pure C) and turns
** the result into tensors through the bridge.  Everything a parser or the
** file reading allocates hangs from a "holder" userdata created first, so a
** Lua error at any point (a bad option, a bridge failure, memory) leaves
** nothing behind: the holder's __gc frees it.  Errors read
**   clara.data.read_csv: data/x.csv:5:9: non-numeric value 'abc' in column 'b'
**   clara.data.read_idx: t.idx: offset 16: truncated: ...
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clara_libs.h"
#include "l_tensor.h"
#include "parse.h"

#define HOLDER "clara.data.holder"

/* what one call owns while it runs */
typedef struct {
  char *bytes;        /* the file */
  size_t len;
  parse_array arr;
  csv_header head;
  csv_result csv;
  zip_entry *zip;
  size_t nzip;
  uint8_t *entry;     /* one extracted zip entry */
  const char **strs[2]; /* option strings (pointing into the Lua strings of
                           the options table, which the call keeps alive) */
  int *cols;
} Holder;

/* frees what the holder owns; the readers call it before returning, so
   large buffers do not wait for a collection the GC cannot see a need for */
static void release(Holder *h) {
  free(h->bytes);
  parse_array_free(&h->arr);
  csv_header_free(&h->head);
  csv_result_free(&h->csv);
  zip_free_list(h->zip, h->nzip);
  free(h->entry);
  free(h->strs[0]);
  free(h->strs[1]);
  free(h->cols);
  memset(h, 0, sizeof *h);
}

static int h_gc(lua_State *L) {
  release(luaL_checkudata(L, 1, HOLDER));
  return 0;
}

/* pushes a fresh holder */
static Holder *holder(lua_State *L) {
  Holder *h = lua_newuserdatauv(L, sizeof *h, 0);
  memset(h, 0, sizeof *h);
  if (luaL_newmetatable(L, HOLDER)) {
    lua_pushcfunction(L, h_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  return h;
}

static int fail(lua_State *L, const char *fname, const char *path,
                const parse_error *e) {
  if (e->line > 0)
    return luaL_error(L, "clara.data.%s: %s:%I:%I: %s", fname, path,
                      (lua_Integer)e->line, (lua_Integer)e->col, e->msg);
  if (e->offset >= 0)
    return luaL_error(L, "clara.data.%s: %s: offset %I: %s", fname, path,
                      (lua_Integer)e->offset, e->msg);
  return luaL_error(L, "clara.data.%s: %s: %s", fname, path, e->msg);
}

/* the whole file into h->bytes (a regular file only: never blocks) */
static void slurp(lua_State *L, Holder *h, const char *fname, const char *path) {
  parse_error e;
  uint64_t size;
  int fd = parse_open(path, &size, &e);
  if (fd < 0) fail(L, fname, path, &e);
  h->bytes = malloc((size_t)size + 1);
  if (!h->bytes) {
    close(fd);
    luaL_error(L, "clara.data.%s: %s: out of memory", fname, path);
  }
  int rc = parse_read_all(fd, h->bytes, size, &e);
  close(fd);
  if (rc) fail(L, fname, path, &e);
  h->len = (size_t)size;
}

static int th_dtype_of(int pd) {
  static const int map[PD_NTYPES] = {TH_UINT8, TH_INT8, TH_INT16, TH_INT32, TH_INT64,
                                     TH_FLOAT16, TH_FLOAT32, TH_FLOAT64, TH_BOOL};
  return map[pd];
}

/* pushes a tensor holding a copy of data */
static void push_tensor(lua_State *L, const void *data, int pd, const int64_t *shape,
                        int ndim, const char *fname) {
  th_options o = {th_dtype_of(pd), TH_CPU, 0};
  th_tensor *slot = lt_newslot(L);
  lt_push(L, slot, th_from_data(slot, data, o.dtype, shape, ndim, o), fname);
}

/* ---- IDX, NPY, NPZ ---- */

/* core.read_idx(path) -> tensor */
static int d_read_idx(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  Holder *h = holder(L);
  parse_error e;
  if (parse_idx_file(path, &h->arr, &e)) return fail(L, "read_idx", path, &e);
  push_tensor(L, h->arr.data, h->arr.dtype, h->arr.shape, h->arr.ndim, "clara.data.read_idx");
  release(h);
  return 1;
}

/* core.parse_idx(bytes[, name]) -> tensor: IDX bytes already in memory */
static int d_parse_idx(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  const char *name = luaL_optstring(L, 2, "(string)");
  Holder *h = holder(L);
  parse_error e;
  if (parse_idx((const uint8_t *)s, len, &h->arr, &e)) return fail(L, "parse_idx", name, &e);
  push_tensor(L, h->arr.data, h->arr.dtype, h->arr.shape, h->arr.ndim, "clara.data.parse_idx");
  release(h);
  return 1;
}

/* core.check_file(path): raises unless path is a regular file (for the
   Lua readers, whose io.open would block on a named pipe) */
static int d_check_file(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  const char *fname = luaL_optstring(L, 2, "read");
  parse_error e;
  uint64_t size;
  int fd = parse_open(path, &size, &e);
  if (fd < 0) return fail(L, fname, path, &e);
  close(fd);
  return 0;
}

/* core.read_npy(path) -> tensor */
static int d_read_npy(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  Holder *h = holder(L);
  parse_error e;
  slurp(L, h, "read_npy", path);
  if (parse_npy((uint8_t *)h->bytes, h->len, &h->arr, &e)) return fail(L, "read_npy", path, &e);
  push_tensor(L, h->arr.data, h->arr.dtype, h->arr.shape, h->arr.ndim, "clara.data.read_npy");
  release(h);
  return 1;
}

/* members inflating past `limit` bytes together are refused before any
   is inflated, naming the member that crosses it */
static void npz_total(lua_State *L, Holder *h, const char *path, lua_Integer limit) {
  uint64_t total = 0;
  for (size_t i = 0; i < h->nzip; i++) {
    total += h->zip[i].usize;
    if (total > (uint64_t)limit)
      luaL_error(L, "clara.data.read_npz: %s: member '%s' brings the inflated size to "
                 "%I bytes, over the limit clara.limits.npz_bytes = %I (raise it with "
                 "clara.limits.npz_bytes = n)", path, h->zip[i].name,
                 (lua_Integer)total, limit);
  }
}

/* core.read_npz(path[, limit]) -> {name = tensor} (names without ".npy");
   limit: the inflated bytes of all members together */
static int d_read_npz(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  lua_Integer limit = luaL_optinteger(L, 2, LUA_MAXINTEGER);
  lua_settop(L, 2);
  Holder *h = holder(L);
  parse_error e;
  slurp(L, h, "read_npz", path);
  if (zip_list((uint8_t *)h->bytes, h->len, &h->zip, &h->nzip, &e) ||
      zip_check_layout((uint8_t *)h->bytes, h->len, h->zip, h->nzip, &e))
    return fail(L, "read_npz", path, &e);
  npz_total(L, h, path, limit);
  lua_createtable(L, 0, (int)h->nzip);
  for (size_t i = 0; i < h->nzip; i++) {
    size_t size, n = strlen(h->zip[i].name);
    if (zip_extract((uint8_t *)h->bytes, h->len, &h->zip[i], &h->entry, &size, &e))
      return fail(L, "read_npz", path, &e);
    if (parse_npy(h->entry, size, &h->arr, &e)) {
      lua_pushfstring(L, "%s(%s)", path, h->zip[i].name);
      return fail(L, "read_npz", lua_tostring(L, -1), &e);
    }
    if (n > 4 && strcmp(h->zip[i].name + n - 4, ".npy") == 0) n -= 4;
    lua_pushlstring(L, h->zip[i].name, n);
    push_tensor(L, h->arr.data, h->arr.dtype, h->arr.shape, h->arr.ndim, "clara.data.read_npz");
    lua_rawset(L, -3);
    free(h->entry);
    h->entry = NULL;
    parse_array_free(&h->arr);
  }
  release(h);
  return 1;
}

/* ---- CSV ---- */

/* the 0-based column named or numbered (1-based, negative from the end) by
   the value at idx */
static int column(lua_State *L, Holder *h, int idx, int header, const char *what) {
  if (lua_isinteger(L, idx)) {
    lua_Integer c = lua_tointeger(L, idx);
    if (c < 0) c += h->head.n + 1;
    if (c < 1 || c > h->head.n)
      luaL_error(L, "clara.data.read_csv: %s column %d out of range (the file has "
                 "%d columns)", what, (int)lua_tointeger(L, idx), h->head.n);
    return (int)c - 1;
  }
  if (lua_type(L, idx) != LUA_TSTRING)
    luaL_error(L, "clara.data.read_csv: %s column must be a name or a position, "
               "got %s", what, luaL_typename(L, idx));
  const char *name = lua_tostring(L, idx);
  if (!header)
    luaL_error(L, "clara.data.read_csv: %s column '%s' given by name, but "
               "header = false", what, name);
  for (int c = 0; c < h->head.n; c++)
    if (strcmp(h->head.names[c], name) == 0) return c;
  return luaL_error(L, "clara.data.read_csv: no %s column named '%s'", what, name);
}

/* a list of strings at opts[key] into h->strs[which] (NULL when absent) */
static const char *const *strings(lua_State *L, Holder *h, int which, int opts,
                                  const char *key, int *n) {
  if (lua_getfield(L, opts, key) == LUA_TNIL) { lua_pop(L, 1); *n = 0; return NULL; }
  if (!lua_istable(L, -1))
    luaL_error(L, "clara.data.read_csv: option '%s' must be a list of strings", key);
  *n = (int)luaL_len(L, -1);
  const char **strs = h->strs[which] = calloc((size_t)*n + 1, sizeof *strs);
  if (!strs) luaL_error(L, "clara.data.read_csv: out of memory");
  for (int i = 0; i < *n; i++) {
    if (lua_rawgeti(L, -1, i + 1) != LUA_TSTRING)
      luaL_error(L, "clara.data.read_csv: option '%s' must be a list of strings "
                 "(item %d is %s)", key, i + 1, luaL_typename(L, -1));
    strs[i] = lua_tostring(L, -1);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return strs;
}

static void push_strings(lua_State *L, char **s, int n) {
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    lua_pushstring(L, s[i]);
    lua_rawseti(L, -2, i + 1);
  }
}

/* core.read_csv(path, opts) -> inputs (rows x k float32), labels or nil,
   classes or nil, input column names, rows dropped.  opts (checked by
   clara.data.read_csv): sep, header, input (list), label, label_kind
   ("number" | "category"), classes, missing, na */
static int d_read_csv(lua_State *L) {
  static const char *const missing[] = {"error", "drop", "zero", "mean", NULL};
  static const char *const kinds[] = {"number", "category", NULL};
  const char *path = luaL_checkstring(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  Holder *h = holder(L); /* 3 */
  csv_spec s;
  parse_error e;
  memset(&s, 0, sizeof s);
  lua_getfield(L, 2, "sep");
  s.sep = lua_isstring(L, -1) ? lua_tostring(L, -1)[0] : ',';
  lua_getfield(L, 2, "header");
  s.header = lua_toboolean(L, -1);
  lua_getfield(L, 2, "missing");
  s.missing = luaL_checkoption(L, -1, "error", missing);
  lua_getfield(L, 2, "label_kind");
  s.label_kind = luaL_checkoption(L, -1, "number", kinds) == 0 ? CSV_LABEL_NUMBER
                                                               : CSV_LABEL_CATEGORY;
  lua_settop(L, 3);
  /* 1. the file and its first line: the column names and count */
  slurp(L, h, "read_csv", path);
  if (parse_csv_header(h->bytes, h->len, s.sep, &h->head, &e))
    return fail(L, "read_csv", path, &e);
  s.colnames = s.header ? (const char *const *)h->head.names : NULL;
  /* 2. the columns: label, then inputs (default: all others) */
  s.label = -1;
  if (lua_getfield(L, 2, "label") != LUA_TNIL) s.label = column(L, h, -1, s.header, "label");
  lua_pop(L, 1);
  h->cols = malloc(sizeof *h->cols * (size_t)(h->head.n + 1));
  if (!h->cols) return luaL_error(L, "clara.data.read_csv: out of memory");
  if (lua_getfield(L, 2, "input") == LUA_TTABLE) {
    int n = (int)luaL_len(L, -1);
    if (n > h->head.n) return luaL_error(L, "clara.data.read_csv: %d input columns "
                                         "given, the file has %d", n, h->head.n);
    for (int i = 0; i < n; i++) {
      lua_rawgeti(L, -1, i + 1);
      h->cols[s.ninputs++] = column(L, h, -1, s.header, "input");
      lua_pop(L, 1);
    }
  } else {
    for (int c = 0; c < h->head.n; c++)
      if (c != s.label) h->cols[s.ninputs++] = c;
  }
  lua_pop(L, 1);
  s.inputs = h->cols;
  /* 3. class names and missing-value strings */
  s.classes = strings(L, h, 0, 2, "classes", &s.nclasses);
  s.na = strings(L, h, 1, 2, "na", &s.nna);
  if (parse_csv(h->bytes, h->len, &s, &h->csv, &e)) return fail(L, "read_csv", path, &e);
  /* 4. the results */
  int64_t shape[2] = {h->csv.rows, s.ninputs};
  push_tensor(L, h->csv.x, PD_FLOAT32, shape, 2, "clara.data.read_csv");
  if (h->csv.y) push_tensor(L, h->csv.y, PD_FLOAT32, shape, 1, "clara.data.read_csv");
  else if (h->csv.ids) push_tensor(L, h->csv.ids, PD_INT64, shape, 1, "clara.data.read_csv");
  else lua_pushnil(L);
  if (h->csv.ids) push_strings(L, h->csv.classes, h->csv.nclasses);
  else lua_pushnil(L);
  lua_createtable(L, s.ninputs, 0);
  for (int k = 0; k < s.ninputs; k++) {
    if (s.header) lua_pushstring(L, h->head.names[s.inputs[k]]);
    else lua_pushfstring(L, "%d", s.inputs[k] + 1);
    lua_rawseti(L, -2, k + 1);
  }
  lua_pushinteger(L, h->csv.dropped);
  release(h);
  return 5;
}

/* core.csv_header(path[, sep]) -> list of the first line's fields */
static int d_csv_header(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  const char *sep = luaL_optstring(L, 2, ",");
  Holder *h = holder(L);
  parse_error e;
  slurp(L, h, "read_csv", path);
  if (parse_csv_header(h->bytes, h->len, sep[0], &h->head, &e))
    return fail(L, "read_csv", path, &e);
  push_strings(L, h->head.names, h->head.n);
  release(h);
  return 1;
}

static const luaL_Reg data_functions[] = {
    {"read_idx", d_read_idx},     {"parse_idx", d_parse_idx},
    {"read_npy", d_read_npy},     {"read_npz", d_read_npz},
    {"read_csv", d_read_csv},     {"csv_header", d_csv_header},
    {"check_file", d_check_file},
    {NULL, NULL}};

int luaopen_clara_data_core(lua_State *L) {
  luaL_requiref(L, "torch.core", luaopen_torch_core, 0); /* the tensor metatable */
  lua_pop(L, 1);
  lua_newtable(L);
  lt_register(L, data_functions);
  return 1;
}
