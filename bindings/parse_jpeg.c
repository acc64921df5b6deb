/*
** parse_jpeg.c: JPEG decoding through libturbojpeg, and EXIF orientation:
** the Orientation tag (read here, bounded by the APP1 segment, or by a
** PNG's eXIf chunk) and the 8 transposes it asks for.
**
** libjpeg-turbo's default decoder (accurate integer IDCT, fancy upsampling)
** is the one PIL uses, so pixels match PIL's.  A warning (truncated data,
** a corrupt segment) fails the decode as PIL fails "image file is
** truncated"; progressive files are limited in scans (TJFLAG_LIMITSCANS)
** so a crafted one cannot make the decoder loop for minutes.
*/
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "image_codec.h"

/* ---- EXIF orientation: the first APP1 "Exif" segment before the scan ---- */

static uint32_t exif_u16(const uint8_t *p, int be) {
  return be ? (uint32_t)p[0] << 8 | p[1] : (uint32_t)p[1] << 8 | p[0];
}
static uint32_t exif_u32(const uint8_t *p, int be) {
  return be ? exif_u16(p, 1) << 16 | exif_u16(p + 2, 1)
            : exif_u16(p + 2, 0) << 16 | exif_u16(p, 0);
}

/* IFD0's Orientation tag in a TIFF structure of n bytes, or 1 */
int image_exif_orientation(const uint8_t *t, size_t n) {
  int be;
  uint32_t ifd, count, i;
  if (n < 8) return 1;
  if (memcmp(t, "MM", 2) == 0) be = 1;
  else if (memcmp(t, "II", 2) == 0) be = 0;
  else return 1;
  if (exif_u16(t + 2, be) != 42) return 1;
  ifd = exif_u32(t + 4, be);
  if (ifd > n - 2) return 1;
  count = exif_u16(t + ifd, be);
  for (i = 0; i < count && (size_t)ifd + 2 + 12 * ((size_t)i + 1) <= n; i++) {
    const uint8_t *e = t + ifd + 2 + 12 * (size_t)i;
    uint32_t type = exif_u16(e + 2, be), v;
    if (exif_u16(e, be) != 0x0112) continue;
    if (type == 3) v = exif_u16(e + 8, be);       /* SHORT */
    else if (type == 4) v = exif_u32(e + 8, be);  /* LONG */
    else return 1;
    return v >= 1 && v <= 8 ? (int)v : 1;
  }
  return 1;
}

/* walk the marker segments from SOI to SOS, each bounded by the file */
static int jpeg_orientation(const uint8_t *b, size_t len) {
  size_t p = 2, seg;
  if (len < 4 || b[0] != 0xFF || b[1] != 0xD8) return 1;
  while (p + 4 <= len) {
    uint8_t m = b[p + 1];
    if (b[p] != 0xFF) return 1;
    if (m == 0xFF) { p++; continue; }                  /* fill byte */
    if (m == 0x01 || (m >= 0xD0 && m <= 0xD8)) { p += 2; continue; }
    if (m == 0xDA || m == 0xD9) return 1;              /* scan, or end */
    seg = (size_t)b[p + 2] << 8 | b[p + 3];
    if (seg < 2 || seg > len - p - 2) return 1;
    if (m == 0xE1 && seg >= 8 && memcmp(b + p + 4, "Exif\0\0", 6) == 0)
      return image_exif_orientation(b + p + 10, seg - 8);
    p += 2 + seg;
  }
  return 1;
}

/* where output pixel (y, x) comes from, for PIL's exif_transpose of each
   orientation (2 FLIP_LEFT_RIGHT, 3 ROTATE_180, 4 FLIP_TOP_BOTTOM,
   5 TRANSPOSE, 6 ROTATE_270, 7 TRANSVERSE, 8 ROTATE_90); h, w the source's */
static void orient_source(int o, int y, int x, int h, int w, int *sy, int *sx) {
  switch (o) {
  case 2: *sy = y; *sx = w - 1 - x; break;
  case 3: *sy = h - 1 - y; *sx = w - 1 - x; break;
  case 4: *sy = h - 1 - y; *sx = x; break;
  case 5: *sy = x; *sx = y; break;
  case 6: *sy = h - 1 - x; *sx = y; break;
  case 7: *sy = h - 1 - x; *sx = w - 1 - y; break;
  case 8: *sy = x; *sx = w - 1 - y; break;
  default: *sy = y; *sx = x; break;
  }
}

int image_orient(clara_image *img, int o, char *err, size_t errlen) {
  clara_image t;
  int swap = o >= 5, y, x, sy, sx;
  size_t px = (size_t)img->c * (size_t)(img->depth / 8);
  if (o == 1) return 0;
  if (image_alloc(&t, img->c, swap ? img->w : img->h, swap ? img->h : img->w,
                  img->depth, err, errlen) != 0)
    return -1;
  for (y = 0; y < t.h; y++)
    for (x = 0; x < t.w; x++) {
      orient_source(o, y, x, img->h, img->w, &sy, &sx);
      memcpy((uint8_t *)t.data + ((size_t)y * t.w + x) * px,
             (const uint8_t *)img->data + ((size_t)sy * img->w + sx) * px, px);
    }
  t.format = img->format;
  clara_image_free(img);
  *img = t;
  return 0;
}

/* PIL reads CMYK JPEGs inverted (Adobe's convention, "CMYK;I") and converts
   CMYK to RGB as nk - c * nk / 255 with nk = 255 - k, rounded its way */
static int jpeg_cmyk_to_rgb(clara_image *img, char *err, size_t errlen) {
  clara_image t;
  size_t i, n = (size_t)img->h * img->w;
  const uint8_t *s = img->data;
  if (image_alloc(&t, 3, img->h, img->w, 8, err, errlen) != 0) return -1;
  for (i = 0; i < n; i++, s += 4) {
    int nk = s[3], j;  /* = 255 - (255 - raw k) */
    for (j = 0; j < 3; j++) {
      int tmp = (255 - s[j]) * nk + 128;
      int v = nk - (((tmp >> 8) + tmp) >> 8);
      ((uint8_t *)t.data)[3 * i + j] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
  }
  t.format = img->format;
  clara_image_free(img);
  *img = t;
  return 0;
}

static int jpeg_fail(tjhandle tj, char *err, size_t errlen, const char *what) {
  image_fail(err, errlen, "not a valid JPEG file (%s: %s)", what, tjGetErrorStr2(tj));
  tjDestroy(tj);
  return -1;
}

int image_jpeg_decode(const uint8_t *buf, size_t len, const clara_image_opts *o,
                      clara_image *out, char *err, size_t errlen) {
  tjhandle tj = tjInitDecompress();
  int w = 0, h = 0, subsamp = -1, cs = -1, pf, c; /* unset when the header is tables only */
  if (tj == NULL) return image_fail(err, errlen, "cannot start the JPEG decoder");
  if (tjDecompressHeader3(tj, buf, (unsigned long)len, &w, &h, &subsamp, &cs) != 0)
    return jpeg_fail(tj, err, errlen, "header");
  if (w < 1 || h < 1) {
    tjDestroy(tj);
    return image_fail(err, errlen, "not a valid JPEG file (no frame header before the end)");
  }
  if (image_check_size((uint64_t)w, (uint64_t)h, o, err, errlen) != 0) {
    tjDestroy(tj);
    return -1;
  }
  if (cs == TJCS_GRAY) { pf = TJPF_GRAY; c = 1; }
  else if (cs == TJCS_CMYK || cs == TJCS_YCCK) { pf = TJPF_CMYK; c = 4; }
  else { pf = TJPF_RGB; c = 3; }
  if (image_alloc(out, c, h, w, 8, err, errlen) != 0) {
    tjDestroy(tj);
    return -1;
  }
  if (tjDecompress2(tj, buf, (unsigned long)len, out->data, w, 0, h, pf,
                    TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS) != 0) {
    clara_image_free(out);
    return jpeg_fail(tj, err, errlen, "image data");
  }
  tjDestroy(tj);
  out->format = CLARA_IMAGE_JPEG;
  if ((pf == TJPF_CMYK && jpeg_cmyk_to_rgb(out, err, errlen) != 0) ||
      (o->exif && image_orient(out, jpeg_orientation(buf, len), err, errlen) != 0)) {
    clara_image_free(out);
    return -1;
  }
  return 0;
}
