/*
** image.c: the image decoder's front: reading the file, telling PNG from
** JPEG by their first bytes, and PIL's mode and depth conversions.
** Thread-safe: nothing here is shared between calls.
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image_codec.h"
#include "parse.h"

/* bytes of metadata a file may hold besides its pixels (see decode_file) */
#define FILE_SLACK (64u << 20)

int image_fail(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  if (errlen == 0) return -1;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return -1;
}

int image_check_size(uint64_t w, uint64_t h, const clara_image_opts *o,
                     char *err, size_t errlen) {
  if (w == 0 || h == 0)
    return image_fail(err, errlen, "the header gives an empty image (%llux%llu)",
                      (unsigned long long)w, (unsigned long long)h);
  if (w > INT32_MAX || h > INT32_MAX || (o->max_pixels && w * h > o->max_pixels))
    return image_fail(err, errlen, "the header gives %llux%llu = %llu pixels, over the "
                      "limit clara.limits.image_pixels (%llu)", (unsigned long long)w,
                      (unsigned long long)h, (unsigned long long)(w * h),
                      (unsigned long long)o->max_pixels);
  return 0;
}

int image_alloc(clara_image *img, int c, int h, int w, int depth,
                char *err, size_t errlen) {
  memset(img, 0, sizeof *img);
  img->nbytes = (size_t)c * (size_t)h * (size_t)w * (size_t)(depth / 8);
  img->data = malloc(img->nbytes ? img->nbytes : 1);
  if (img->data == NULL)
    return image_fail(err, errlen, "out of memory for a %dx%d image", w, h);
  img->c = c; img->h = h; img->w = w; img->depth = depth;
  return 0;
}

void clara_image_free(clara_image *img) {
  free(img->data);
  img->data = NULL;
  img->nbytes = 0;
}

void clara_image_opts_default(clara_image_opts *o) {
  o->mode = CLARA_IMAGE_KEEP;
  o->depth = 8;
  o->exif = 1;
  o->max_pixels = 0;
}

int clara_image_format(const uint8_t *buf, size_t len) {
  if (len >= 8 && memcmp(buf, "\x89PNG\r\n\x1a\n", 8) == 0) return CLARA_IMAGE_PNG;
  if (len >= 3 && buf[0] == 0xFF && buf[1] == 0xD8 && buf[2] == 0xFF) return CLARA_IMAGE_JPEG;
  return CLARA_IMAGE_UNKNOWN;
}

/* 16-bit samples to 8 as v >> 8 */
static int image_to8(clara_image *img, char *err, size_t errlen) {
  clara_image t;
  size_t i, n = img->nbytes / 2;
  const uint16_t *s = img->data;
  if (image_alloc(&t, img->c, img->h, img->w, 8, err, errlen) != 0) return -1;
  for (i = 0; i < n; i++) ((uint8_t *)t.data)[i] = (uint8_t)(s[i] >> 8);
  t.format = img->format;
  clara_image_free(img);
  *img = t;
  return 0;
}

static uint32_t sample(const void *d, size_t i, int depth) {
  return depth == 8 ? ((const uint8_t *)d)[i] : ((const uint16_t *)d)[i];
}

/* one pixel's channels s[0..c) as `to` channels, PIL's way (see image.h) */
static void convert_pixel(const uint32_t *s, int c, int to, uint32_t maxv, uint32_t *o) {
  uint32_t l = s[0];
  if (to == CLARA_IMAGE_L) {
    o[0] = c <= 2 ? l : (uint32_t)(((uint64_t)s[0] * 19595 + (uint64_t)s[1] * 38470 +
                                    (uint64_t)s[2] * 7471 + 0x8000) >> 16);
    return;
  }
  if (c <= 2) { o[0] = o[1] = o[2] = l; }
  else { o[0] = s[0]; o[1] = s[1]; o[2] = s[2]; }
  if (to == CLARA_IMAGE_RGBA)
    o[3] = c == 2 ? s[1] : c == 4 ? s[3] : maxv;
}

static int image_convert(clara_image *img, int to, char *err, size_t errlen) {
  clara_image t;
  size_t i, n = (size_t)img->h * img->w;
  int j, c = img->c, d = img->depth;
  uint32_t s[4], o[4], maxv = d == 8 ? 255 : 65535;
  if (to == CLARA_IMAGE_KEEP || to == c) return 0;
  if (image_alloc(&t, to, img->h, img->w, d, err, errlen) != 0) return -1;
  for (i = 0; i < n; i++) {
    for (j = 0; j < c; j++) s[j] = sample(img->data, i * c + j, d);
    convert_pixel(s, c, to, maxv, o);
    for (j = 0; j < to; j++) {
      if (d == 8) ((uint8_t *)t.data)[i * to + j] = (uint8_t)o[j];
      else ((uint16_t *)t.data)[i * to + j] = (uint16_t)o[j];
    }
  }
  t.format = img->format;
  clara_image_free(img);
  *img = t;
  return 0;
}

int clara_image_decode(const uint8_t *buf, size_t len, const clara_image_opts *o,
                       clara_image *out, char *err, size_t errlen) {
  clara_image_opts def;
  int f = clara_image_format(buf, len), r;
  memset(out, 0, sizeof *out);
  if (o == NULL) { clara_image_opts_default(&def); o = &def; }
  if (o->mode != CLARA_IMAGE_KEEP && o->mode != CLARA_IMAGE_L &&
      o->mode != CLARA_IMAGE_RGB && o->mode != CLARA_IMAGE_RGBA)
    return image_fail(err, errlen, "unknown image mode %d", o->mode);
  if (len == 0) return image_fail(err, errlen, "empty file, not an image");
  if (f == CLARA_IMAGE_PNG) r = image_png_decode(buf, len, o, out, err, errlen);
  else if (f == CLARA_IMAGE_JPEG) r = image_jpeg_decode(buf, len, o, out, err, errlen);
  else return image_fail(err, errlen, "not a PNG or JPEG file (its first bytes are neither signature)");
  if (r != 0) return -1;
  if ((out->depth == 16 && o->depth != 16 && image_to8(out, err, errlen) != 0) ||
      image_convert(out, o->mode, err, errlen) != 0) {
    clara_image_free(out);
    return -1;
  }
  return 0;
}

int clara_image_decode_file(const char *path, const clara_image_opts *o,
                            clara_image *out, char *err, size_t errlen) {
  parse_error pe;
  uint64_t size;
  uint8_t *buf;
  char why[256];
  int fd = parse_open(path, &size, &pe), r;
  memset(out, 0, sizeof *out);
  if (fd < 0) return image_fail(err, errlen, "%s: %s", path, pe.msg);
  /* no image under the pixel limit needs more bytes than 8 per pixel (a
     16-bit RGBA one stored raw) plus its ancillary chunks */
  if (o && o->max_pixels && size > o->max_pixels * 8 + FILE_SLACK) {
    close(fd);
    return image_fail(err, errlen, "%s: a file of %llu bytes is larger than any image under "
                      "the limit clara.limits.image_pixels (%llu)", path,
                      (unsigned long long)size, (unsigned long long)o->max_pixels);
  }
  if (size > SIZE_MAX / 2 || (buf = malloc(size ? size : 1)) == NULL) {
    close(fd);
    return image_fail(err, errlen, "%s: out of memory for %llu bytes", path,
                      (unsigned long long)size);
  }
  r = parse_read_all(fd, buf, size, &pe);
  close(fd);
  if (r != 0) {
    free(buf);
    return image_fail(err, errlen, "%s: %s", path, pe.msg);
  }
  r = clara_image_decode(buf, (size_t)size, o, out, why, sizeof why);
  free(buf);
  return r != 0 ? image_fail(err, errlen, "%s: %s", path, why) : 0;
}

void clara_image_planar(const clara_image *img, void *dst) {
  size_t i, n = (size_t)img->h * img->w;
  int j, c = img->c;
  if (img->depth == 8) {
    const uint8_t *s = img->data;
    uint8_t *d = dst;
    if (c == 1) { memcpy(d, s, n); return; }
    for (j = 0; j < c; j++)
      for (i = 0; i < n; i++) d[j * n + i] = s[i * c + j];
  } else {
    const uint16_t *s = img->data;
    uint16_t *d = dst;
    for (j = 0; j < c; j++)
      for (i = 0; i < n; i++) d[j * n + i] = s[i * c + j];
  }
}
