/*
** parse_png.c: PNG decoding and encoding through libspng.
**
** libspng reads from the buffer it is given and no further; its chunk
** limits bound what ancillary chunks (text, ICC profiles) may make it hold,
** and the IHDR's size is checked against the caller's pixel limit before
** the pixel buffer exists.
*/
#include <spng.h>
#include <stdlib.h>
#include <string.h>

#include "image_codec.h"

/* ancillary chunk bytes libspng may hold (one chunk, all cached ones) */
#define PNG_CHUNK_LIMIT (64u << 20)
#define PNG_CACHE_LIMIT (128u << 20)

static int png_fail(spng_ctx *ctx, char *err, size_t errlen, const char *what,
                    int ret) {
  spng_ctx_free(ctx);
  return image_fail(err, errlen, "not a valid PNG file (%s: %s)", what,
                    spng_strerror(ret));
}

/* the format to decode to, and its channels and depth: the file's own
   channels, except that a palette becomes RGB (RGBA with tRNS) and a tRNS
   on gray or RGB becomes an alpha channel only when RGBA is asked for, as
   PIL's convert("RGBA") applies it */
static void png_layout(const struct spng_ihdr *ih, int has_trns, int mode,
                       int *fmt, int *flags, int *c, int *depth) {
  int d16 = ih->bit_depth == 16;
  *flags = 0;
  *depth = d16 ? 16 : 8;
  if (ih->color_type == SPNG_COLOR_TYPE_INDEXED) {
    *depth = 8;
    if (has_trns) { *fmt = SPNG_FMT_RGBA8; *flags = SPNG_DECODE_TRNS; *c = 4; }
    else { *fmt = SPNG_FMT_RGB8; *c = 3; }
    return;
  }
  if (has_trns && mode == CLARA_IMAGE_RGBA &&
      (ih->color_type == SPNG_COLOR_TYPE_GRAYSCALE ||
       ih->color_type == SPNG_COLOR_TYPE_TRUECOLOR)) {
    *fmt = d16 ? SPNG_FMT_RGBA16 : SPNG_FMT_RGBA8;
    *flags = SPNG_DECODE_TRNS; *c = 4;
    return;
  }
  switch (ih->color_type) {
  case SPNG_COLOR_TYPE_GRAYSCALE:
    *fmt = d16 ? SPNG_FMT_PNG : SPNG_FMT_G8; *c = 1; break;
  case SPNG_COLOR_TYPE_GRAYSCALE_ALPHA: *fmt = SPNG_FMT_PNG; *c = 2; break;
  case SPNG_COLOR_TYPE_TRUECOLOR: *fmt = SPNG_FMT_PNG; *c = 3; break;
  default: *fmt = SPNG_FMT_PNG; *c = 4; break;
  }
}

/* an eXIf chunk's orientation applied, as PIL's exif_transpose does for PNG */
static int png_orient(spng_ctx *ctx, clara_image *img, char *err, size_t errlen) {
  struct spng_exif exif;
  if (spng_get_exif(ctx, &exif) != 0) return 0;
  return image_orient(img, image_exif_orientation((const uint8_t *)exif.data, exif.length),
                      err, errlen);
}

int image_png_decode(const uint8_t *buf, size_t len, const clara_image_opts *o,
                     clara_image *out, char *err, size_t errlen) {
  spng_ctx *ctx = spng_ctx_new(0);
  struct spng_ihdr ih;
  struct spng_trns trns;
  int ret, fmt, flags, c, depth;
  size_t size;
  if (ctx == NULL) return image_fail(err, errlen, "out of memory");
  spng_set_chunk_limits(ctx, PNG_CHUNK_LIMIT, PNG_CACHE_LIMIT);
  if ((ret = spng_set_png_buffer(ctx, buf, len)) != 0 ||
      (ret = spng_get_ihdr(ctx, &ih)) != 0)
    return png_fail(ctx, err, errlen, "header", ret);
  if (image_check_size(ih.width, ih.height, o, err, errlen) != 0) {
    spng_ctx_free(ctx);
    return -1;
  }
  ret = spng_get_trns(ctx, &trns);
  if (ret != 0 && ret != SPNG_ECHUNKAVAIL)
    return png_fail(ctx, err, errlen, "tRNS chunk", ret);
  png_layout(&ih, ret == 0, o->mode, &fmt, &flags, &c, &depth);
  if ((ret = spng_decoded_image_size(ctx, fmt, &size)) != 0)
    return png_fail(ctx, err, errlen, "image size", ret);
  if (image_alloc(out, c, (int)ih.height, (int)ih.width, depth, err, errlen) != 0) {
    spng_ctx_free(ctx);
    return -1;
  }
  if (size != out->nbytes) {
    clara_image_free(out);
    spng_ctx_free(ctx);
    return image_fail(err, errlen, "PNG layout mismatch (%zu bytes, expected %zu)",
                      size, out->nbytes);
  }
  if ((ret = spng_decode_image(ctx, out->data, size, fmt, flags)) != 0) {
    clara_image_free(out);
    return png_fail(ctx, err, errlen, "image data", ret);
  }
  out->format = CLARA_IMAGE_PNG;
  if (o->exif && png_orient(ctx, out, err, errlen) != 0) {
    clara_image_free(out);
    spng_ctx_free(ctx);
    return -1;
  }
  spng_ctx_free(ctx);
  return 0;
}

static const int png_color_type[5] = {
  0, SPNG_COLOR_TYPE_GRAYSCALE, SPNG_COLOR_TYPE_GRAYSCALE_ALPHA,
  SPNG_COLOR_TYPE_TRUECOLOR, SPNG_COLOR_TYPE_TRUECOLOR_ALPHA
};

int clara_image_encode_png(const clara_image *img, uint8_t **png, size_t *len,
                           char *err, size_t errlen) {
  spng_ctx *ctx;
  struct spng_ihdr ih;
  void *bytes;
  int ret;
  *png = NULL; *len = 0;
  if (img->c < 1 || img->c > 4 || (img->depth != 8 && img->depth != 16) ||
      img->h < 1 || img->w < 1)
    return image_fail(err, errlen, "cannot write a PNG of %d channels, %d bits, %dx%d",
                      img->c, img->depth, img->w, img->h);
  if ((ctx = spng_ctx_new(SPNG_CTX_ENCODER)) == NULL)
    return image_fail(err, errlen, "out of memory");
  memset(&ih, 0, sizeof ih);
  ih.width = (uint32_t)img->w;
  ih.height = (uint32_t)img->h;
  ih.bit_depth = (uint8_t)img->depth;
  ih.color_type = (uint8_t)png_color_type[img->c];
  if ((ret = spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1)) != 0 ||
      (ret = spng_set_ihdr(ctx, &ih)) != 0 ||
      (ret = spng_encode_image(ctx, img->data, img->nbytes, SPNG_FMT_PNG,
                               SPNG_ENCODE_FINALIZE)) != 0) {
    spng_ctx_free(ctx);
    return image_fail(err, errlen, "PNG encoding failed: %s", spng_strerror(ret));
  }
  bytes = spng_get_png_buffer(ctx, len, &ret);
  spng_ctx_free(ctx);
  if (bytes == NULL)
    return image_fail(err, errlen, "PNG encoding failed: %s", spng_strerror(ret));
  *png = bytes;
  return 0;
}
