/*
** l_image.c: clara.image.core, the Lua face of image.h.
**
**   core.decode(path, mode, depth, exif, max_pixels) -> (C, H, W) tensor
**       mode "keep" | "L" | "RGB" | "RGBA"; depth 8 gives uint8, 16 keeps a
**       16-bit PNG's samples (int32 tensor, torch has no uint16)
**   core.encode_png(hwc, h, w, c) -> PNG bytes (a string); hwc a contiguous
**       uint8 CPU tensor in H, W, C order
**   core.fit(chw, fit, u8) -> the contiguous float32 CPU (C, H, W) image
**       resized and cropped as fit says (image_fit.h; fit as l_image.h),
**       float32, or uint8 when u8; nil, message when the crop does not fit
** The decoded buffer hangs from a holder userdata, so a Lua error between
** decoding and the tensor's creation leaves nothing behind.
*/
#include <stdlib.h>
#include <string.h>

#include "clara_libs.h"
#include "augment.h"
#include "image.h"
#include "l_image.h"
#include "l_tensor.h"

#define IMG_HOLDER "clara.image.holder"

typedef struct {
  clara_image img;
  void *planes;
  uint8_t *png;
} ImgHolder;

static void img_release(ImgHolder *h) {
  clara_image_free(&h->img);
  free(h->planes);
  free(h->png);
  h->planes = NULL;
  h->png = NULL;
}

static int img_gc(lua_State *L) {
  img_release(luaL_checkudata(L, 1, IMG_HOLDER));
  return 0;
}

static ImgHolder *img_holder(lua_State *L) {
  ImgHolder *h = lua_newuserdatauv(L, sizeof *h, 0);
  memset(h, 0, sizeof *h);
  if (luaL_newmetatable(L, IMG_HOLDER)) {
    lua_pushcfunction(L, img_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  return h;
}

static const char *const img_modes[] = {"keep", "L", "RGB", "RGBA", NULL};
static const int img_mode_values[] = {CLARA_IMAGE_KEEP, CLARA_IMAGE_L,
                                      CLARA_IMAGE_RGB, CLARA_IMAGE_RGBA};

/* 16-bit samples widened to int32, planar */
static void *img_planes32(const clara_image *img) {
  size_t i, n = img->nbytes / 2;
  uint16_t *p16 = malloc(img->nbytes);
  int32_t *p32 = malloc(n * sizeof *p32);
  if (p16 && p32) {
    clara_image_planar(img, p16);
    for (i = 0; i < n; i++) p32[i] = p16[i];
  }
  free(p16);
  if (!p16) { free(p32); return NULL; }
  return p32;
}

static int img_decode(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  clara_image_opts o;
  char err[512];
  ImgHolder *h;
  clara_image_opts_default(&o);
  o.mode = img_mode_values[luaL_checkoption(L, 2, "keep", img_modes)];
  o.depth = (int)luaL_optinteger(L, 3, 8);
  o.exif = lua_isnoneornil(L, 4) ? 1 : lua_toboolean(L, 4);
  o.max_pixels = (uint64_t)luaL_optinteger(L, 5, 0);
  luaL_argcheck(L, o.depth == 8 || o.depth == 16, 3, "depth must be 8 or 16");
  h = img_holder(L);
  if (clara_image_decode_file(path, &o, &h->img, err, sizeof err) != 0)
    return luaL_error(L, "clara.data.read_image: %s", err);
  int64_t shape[3] = {h->img.c, h->img.h, h->img.w};
  int dtype = h->img.depth == 8 ? TH_UINT8 : TH_INT32;
  h->planes = h->img.depth == 8 ? malloc(h->img.nbytes) : img_planes32(&h->img);
  if (h->planes == NULL) return luaL_error(L, "clara.data.read_image: %s: out of memory", path);
  if (h->img.depth == 8) clara_image_planar(&h->img, h->planes);
  th_options to = {dtype, TH_CPU, 0};
  th_tensor *slot = lt_newslot(L);
  lt_push(L, slot, th_from_data(slot, h->planes, dtype, shape, 3, to), "clara.data.read_image");
  img_release(h);
  return 1;
}

static int img_encode_png(lua_State *L) {
  th_tensor t = lt_check(L, 1);
  lua_Integer hh = luaL_checkinteger(L, 2), ww = luaL_checkinteger(L, 3),
              cc = luaL_checkinteger(L, 4);
  char err[256];
  size_t len;
  ImgHolder *h;
  luaL_argcheck(L, th_dtype(t) == TH_UINT8 && th_is_contiguous(t), 1,
                "a contiguous uint8 tensor expected");
  luaL_argcheck(L, hh >= 1 && ww >= 1 && hh <= INT32_MAX && ww <= INT32_MAX &&
                cc >= 1 && cc <= 4 && th_numel(t) == hh * ww * cc, 2,
                "sizes do not match the tensor");
  h = img_holder(L);
  clara_image img = {(int)cc, (int)hh, (int)ww, 8, CLARA_IMAGE_PNG,
                     (void *)th_data_ptr(t), (size_t)(hh * ww * cc)};
  if (clara_image_encode_png(&img, &h->png, &len, err, sizeof err) != 0)
    return luaL_error(L, "clara.data.write_image: %s", err);
  lua_pushlstring(L, (const char *)h->png, len);
  img_release(h);
  return 1;
}

static int64_t fit_field(lua_State *L, int arg, const char *k) {
  lua_getfield(L, arg, k);
  lua_Integer v = lua_isnil(L, -1) ? 0 : luaL_checkinteger(L, -1);
  lua_pop(L, 1);
  if (v < 0 || v > INT32_MAX) luaL_error(L, "image fit: %s out of range", k);
  return (int64_t)v;
}

void limg_checkfit(lua_State *L, int arg, clara_fit *f) {
  static const char *const modes[] = {"nearest", "bilinear", "bicubic", NULL};
  luaL_checktype(L, arg, LUA_TTABLE);
  f->h = fit_field(L, arg, "h"), f->w = fit_field(L, arg, "w");
  f->shorter = fit_field(L, arg, "shorter");
  f->crop_h = fit_field(L, arg, "crop_h"), f->crop_w = fit_field(L, arg, "crop_w");
  lua_getfield(L, arg, "max_pixels");
  f->max_pixels = lua_isnil(L, -1) ? 0 : (int64_t)luaL_checkinteger(L, -1);
  lua_pop(L, 1);
  lua_getfield(L, arg, "mode");
  f->mode = luaL_checkoption(L, -1, "bilinear", modes); /* AUG_* in this order */
  lua_getfield(L, arg, "antialias");
  f->antialias = lua_toboolean(L, -1);
  lua_pop(L, 2);
  if ((f->h > 0) != (f->w > 0) || (f->crop_h > 0) != (f->crop_w > 0))
    luaL_error(L, "image fit: give both h and w, both crop_h and crop_w");
}

static int img_fit(lua_State *L) {
  th_tensor t = lt_check(L, 1);
  clara_fit f;
  char err[256];
  int64_t s[3], rh, rw, oh, ow;
  limg_checkfit(L, 2, &f);
  int u8 = lua_toboolean(L, 3);
  luaL_argcheck(L, th_dtype(t) == TH_FLOAT32 && th_device(t) == TH_CPU && th_is_contiguous(t) &&
                th_dim(t) == 3, 1, "a contiguous float32 CPU (C, H, W) tensor expected");
  th_sizes(t, s);
  if (clara_fit_size(&f, s[1], s[2], &rh, &rw, &oh, &ow, err, sizeof err) != 0) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
  }
  ImgHolder *h = img_holder(L);
  h->planes = malloc((size_t)(s[0] * oh * ow) * (u8 ? 1 : sizeof(float)));
  if (h->planes == NULL) return luaL_error(L, "image fit: out of memory");
  if (clara_fit_run(&f, th_data_ptr(t), s[0], s[1], s[2], h->planes, u8, err, sizeof err) != 0)
    return luaL_error(L, "image fit: %s", err);
  int64_t shape[3] = {s[0], oh, ow};
  int dtype = u8 ? TH_UINT8 : TH_FLOAT32;
  th_options to = {dtype, TH_CPU, 0};
  th_tensor *slot = lt_newslot(L);
  lt_push(L, slot, th_from_data(slot, h->planes, dtype, shape, 3, to), "image fit");
  img_release(h);
  return 1;
}

static const luaL_Reg img_functions[] = {
    {"decode", img_decode},
    {"fit", img_fit},
    {"encode_png", img_encode_png},
    {NULL, NULL}};

int luaopen_clara_image_core(lua_State *L) {
  luaL_requiref(L, "torch.core", luaopen_torch_core, 0); /* the tensor metatable */
  lua_pop(L, 1);
  lua_newtable(L);
  lt_register(L, img_functions);
  return 1;
}
