/*
** l_augment.c: clara.transforms.core, the Lua face of augment.h.
**
** Each function takes an (N, C, H, W) CPU tensor and the per-sample
** parameters stdlib/clara/transforms/batch.lua drew (flat Lua lists), and
** returns a new float32 tensor (crop keeps uint8).  The parameter arrays
** live in userdata, so a Lua error at any point leaves nothing unowned.
** Arguments are checked in Lua first; these checks only keep C safe.
*/
#include <string.h>

#include "augment.h"
#include "clara_libs.h"
#include "l_augment.h"
#include "l_tensor.h"

/* the input as a contiguous float32 (or, if allowed, uint8) batch */
static th_tensor batch(lua_State *L, int arg, aug_dims *d, int keep_u8) {
  th_tensor t = lt_check(L, arg);
  int64_t s[TH_MAX_DIMS];
  if (th_dim(t) != 4) luaL_argerror(L, arg, "expected an (N, C, H, W) batch");
  if (th_device(t) != TH_CPU) luaL_argerror(L, arg, "expected a CPU tensor");
  th_sizes(t, s);
  d->n = s[0], d->c = s[1], d->h = s[2], d->w = s[3];
  if (d->c < 1 || d->h < 1 || d->w < 1) luaL_argerror(L, arg, "empty image");
  int dtype = keep_u8 && th_dtype(t) == TH_UINT8 ? TH_UINT8 : TH_FLOAT32;
  if (th_dtype(t) == dtype && th_is_contiguous(t)) return t;
  th_tensor *slot = lt_newslot(L);
  lt_push(L, slot, th_contiguous_as(slot, t, dtype), "clara.transforms");
  lua_replace(L, arg);
  return *slot;
}

/* a fresh (n, c, h, w) tensor of dtype, pushed; its data (NULL when
   empty: the functions return an empty batch without calling a kernel) */
static void *result(lua_State *L, aug_dims d, int dtype) {
  int64_t s[4] = {d.n, d.c, d.h, d.w};
  th_options o = {dtype, TH_CPU, 0};
  th_tensor *slot = lt_newslot(L);
  lt_push(L, slot, th_new(slot, TH_NEW_EMPTY, s, 4, o), "clara.transforms");
  return (void *)th_data_ptr(*slot);
}

/* a list argument of exactly n numbers, as an array of `size`-byte T */
#define LIST(NAME, T, GET)                                                   \
  static T *NAME(lua_State *L, int arg, int64_t n) {                         \
    luaL_checktype(L, arg, LUA_TTABLE);                                      \
    if ((int64_t)luaL_len(L, arg) != n)                                      \
      luaL_argerror(L, arg, lua_pushfstring(L, "expected %I values", (lua_Integer)n)); \
    T *a = lua_newuserdatauv(L, (size_t)(n > 0 ? n : 1) * sizeof *a, 0);   \
    for (int64_t k = 0; k < n; k++) {                                        \
      lua_rawgeti(L, arg, (lua_Integer)k + 1);                               \
      a[k] = (T)GET(L, -1);                                                  \
      lua_pop(L, 1);                                                         \
    }                                                                        \
    return a;                                                                \
  }
LIST(ints, int64_t, luaL_checkinteger)
LIST(floats, float, luaL_checknumber)
LIST(bytes, uint8_t, luaL_checkinteger)

static int optlist(lua_State *L, int arg) { return !lua_isnoneornil(L, arg); }

static int failed(lua_State *L, const char *what) {
  return luaL_error(L, "clara.transforms: %s: bad parameters", what);
}

/* crop(x, oh, ow, top, left, flip|nil, pad, fill) */
static int a_crop(lua_State *L) {
  aug_dims d, o;
  th_tensor x = batch(L, 1, &d, 1);
  o = d;
  o.h = luaL_checkinteger(L, 2), o.w = luaL_checkinteger(L, 3);
  if (o.h < 1 || o.w < 1) return luaL_argerror(L, 2, "size must be positive");
  int64_t *top = ints(L, 4, d.n), *left = ints(L, 5, d.n);
  uint8_t *flip = optlist(L, 6) ? bytes(L, 6, d.n) : NULL;
  int pad = (int)luaL_checkinteger(L, 7);
  double fill = luaL_checknumber(L, 8);
  int rc;
  if (d.n == 0) { /* an empty batch */
    result(L, o, th_dtype(x));
    return 1;
  }
  if (th_dtype(x) == TH_UINT8)
    rc = aug_crop_u8(th_data_ptr(x), d, result(L, o, TH_UINT8), o.h, o.w, top, left, flip, pad, (uint8_t)fill);
  else
    rc = aug_crop_f32(th_data_ptr(x), d, result(L, o, TH_FLOAT32), o.h, o.w, top, left, flip, pad, (float)fill);
  return rc ? failed(L, "crop") : 1;
}

/* a float32 copy of the batch, for the in-place kernels */
static float *copy(lua_State *L, th_tensor x, aug_dims d) {
  float *out = result(L, d, TH_FLOAT32);
  if (d.n == 0) return out;
  memcpy(out, th_data_ptr(x), (size_t)(d.n * d.c * d.h * d.w) * sizeof *out);
  return out;
}

/* flip(x, flags) */
static int a_flip(lua_State *L) {
  aug_dims d;
  th_tensor x = batch(L, 1, &d, 0);
  uint8_t *flip = bytes(L, 2, d.n);
  float *out = copy(L, x, d);
  return d.n > 0 && aug_flip_f32(out, d, flip) ? failed(L, "flip") : 1;
}

/* resize(x, oh, ow, boxes|nil, mode, antialias) */
static int a_resize(lua_State *L) {
  aug_dims d, o;
  th_tensor x = batch(L, 1, &d, 0);
  o = d;
  o.h = luaL_checkinteger(L, 2), o.w = luaL_checkinteger(L, 3);
  if (o.h < 1 || o.w < 1) return luaL_argerror(L, 2, "size must be positive");
  int64_t *box = optlist(L, 4) ? ints(L, 4, 4 * d.n) : NULL;
  int mode = (int)luaL_checkinteger(L, 5), aa = lua_toboolean(L, 6);
  float *out = result(L, o, TH_FLOAT32);
  return d.n > 0 && aug_resize_f32(th_data_ptr(x), d, out, o.h, o.w, box, mode, aa) ? failed(L, "resize") : 1;
}

/* rotate(x, angles, mode, fill) */
static int a_rotate(lua_State *L) {
  aug_dims d;
  th_tensor x = batch(L, 1, &d, 0);
  float *angle = floats(L, 2, d.n);
  int mode = (int)luaL_checkinteger(L, 3);
  float *fill = floats(L, 4, d.c);
  float *out = result(L, d, TH_FLOAT32);
  return d.n > 0 && aug_rotate_f32(th_data_ptr(x), d, out, angle, mode, fill) ? failed(L, "rotate") : 1;
}

/* jitter(x, factors, order|nil) */
static int a_jitter(lua_State *L) {
  aug_dims d;
  th_tensor x = batch(L, 1, &d, 0);
  float *factors = floats(L, 2, 3 * d.n);
  uint8_t *order = optlist(L, 3) ? bytes(L, 3, 3 * d.n) : NULL;
  float *out = copy(L, x, d);
  return d.n > 0 && aug_jitter_f32(out, d, factors, order) ? failed(L, "color jitter") : 1;
}

/* normalize(x, mean, std) */
static int a_normalize(lua_State *L) {
  aug_dims d;
  th_tensor x = batch(L, 1, &d, 0);
  float *mean = floats(L, 2, d.c), *std = floats(L, 3, d.c);
  float *out = result(L, d, TH_FLOAT32);
  return d.n > 0 && aug_normalize_f32(th_data_ptr(x), d, out, mean, std) ? failed(L, "normalize") : 1;
}

/* erase(x, boxes, value) */
static int a_erase(lua_State *L) {
  aug_dims d;
  th_tensor x = batch(L, 1, &d, 0);
  int64_t *box = ints(L, 2, 4 * d.n);
  float *value = floats(L, 3, d.c);
  float *out = copy(L, x, d);
  return d.n > 0 && aug_erase_f32(out, d, box, value) ? failed(L, "erase") : 1;
}

static const luaL_Reg augment_functions[] = {
    {"crop", a_crop},     {"flip", a_flip},           {"resize", a_resize},
    {"rotate", a_rotate}, {"jitter", a_jitter},       {"normalize", a_normalize},
    {"erase", a_erase},   {NULL, NULL}};

int luaopen_clara_transforms_core(lua_State *L) {
  luaL_requiref(L, "torch.core", luaopen_torch_core, 0); /* the tensor metatable */
  lua_pop(L, 1);
  lua_newtable(L);
  lt_register(L, augment_functions);
  la_open_plan(L);
  return 1;
}
