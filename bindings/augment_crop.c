/*
** augment_crop.c: crops with padding, flips, erasing (augment.h).
**
** A crop is a gather: each output pixel reads one input pixel, or the fill.
** The source index of each output column is computed once per sample (it
** folds in the padding mode and the flip), so the inner loop is a lookup.
*/
#include <stdlib.h>
#include <string.h>

#include "augment.h"

/* the input index that output position k (0-based, in image coordinates
   starting at `start`) reads along a side of n pixels; -1 for the fill */
static int64_t crop_source(int64_t k, int64_t n, int pad) {
  if (k >= 0 && k < n) return k;
  switch (pad) {
  case AUG_PAD_EDGE: return k < 0 ? 0 : n - 1;
  case AUG_PAD_REFLECT:
    if (n == 1) return 0;
    /* mirror about the edge pixels until inside (period 2 (n - 1)) */
    k %= 2 * (n - 1);
    if (k < 0) k += 2 * (n - 1);
    return k < n ? k : 2 * (n - 1) - k;
  default: return -1;
  }
}

/* the source rows and columns of one sample's window */
static void crop_index(int64_t *rows, int64_t *cols, aug_dims d, int64_t oh,
                       int64_t ow, int64_t top, int64_t left, int flip,
                       int pad) {
  for (int64_t y = 0; y < oh; y++)
    rows[(flip & AUG_FLIP_V) ? oh - 1 - y : y] = crop_source(top + y, d.h, pad);
  for (int64_t x = 0; x < ow; x++)
    cols[(flip & AUG_FLIP_H) ? ow - 1 - x : x] = crop_source(left + x, d.w, pad);
}

static int crop_args(const void *in, aug_dims d, const void *out, int64_t oh,
                     int64_t ow, const int64_t *top, const int64_t *left,
                     int pad) {
  if (!in || !out || !top || !left || oh < 1 || ow < 1) return -1;
  if (d.n < 0 || d.c < 1 || d.h < 1 || d.w < 1) return -1;
  return pad < AUG_PAD_CONSTANT || pad > AUG_PAD_REFLECT ? -1 : 0;
}

/* one crop function per element type */
#define CROP_KERNEL(NAME, T)                                                  \
  int NAME(const T *in, aug_dims d, T *out, int64_t oh, int64_t ow,           \
           const int64_t *top, const int64_t *left, const uint8_t *flip,      \
           int pad, T fill) {                                                 \
    if (crop_args(in, d, out, oh, ow, top, left, pad)) return -1;             \
    int64_t *rows = malloc((size_t)(oh + ow) * sizeof *rows);                 \
    if (!rows) return -1;                                                     \
    int64_t *cols = rows + oh;                                                \
    for (int64_t i = 0; i < d.n; i++) {                                       \
      crop_index(rows, cols, d, oh, ow, top[i], left[i], flip ? flip[i] : 0,  \
                 pad);                                                        \
      for (int64_t c = 0; c < d.c; c++) {                                     \
        const T *src = in + (i * d.c + c) * d.h * d.w;                        \
        T *dst = out + (i * d.c + c) * oh * ow;                               \
        for (int64_t y = 0; y < oh; y++, dst += ow) {                         \
          if (rows[y] < 0) {                                                  \
            for (int64_t x = 0; x < ow; x++) dst[x] = fill;                   \
            continue;                                                         \
          }                                                                   \
          const T *line = src + rows[y] * d.w;                                \
          for (int64_t x = 0; x < ow; x++)                                    \
            dst[x] = cols[x] < 0 ? fill : line[cols[x]];                      \
        }                                                                     \
      }                                                                       \
    }                                                                         \
    free(rows);                                                               \
    return 0;                                                                 \
  }

CROP_KERNEL(aug_crop_f32, float)
CROP_KERNEL(aug_crop_u8, uint8_t)

static void reverse(float *a, int64_t n) {
  for (int64_t k = 0; k < n / 2; k++) {
    float t = a[k];
    a[k] = a[n - 1 - k];
    a[n - 1 - k] = t;
  }
}

/* mirrors one (h, w) plane */
static void flip_plane(float *p, int64_t h, int64_t w, int flip) {
  if (flip & AUG_FLIP_H)
    for (int64_t y = 0; y < h; y++) reverse(p + y * w, w);
  if (flip & AUG_FLIP_V)
    for (int64_t y = 0; y < h / 2; y++)
      for (int64_t x = 0; x < w; x++) {
        float t = p[y * w + x];
        p[y * w + x] = p[(h - 1 - y) * w + x];
        p[(h - 1 - y) * w + x] = t;
      }
}

int aug_flip_f32(float *x, aug_dims d, const uint8_t *flip) {
  if (!x || !flip) return -1;
  for (int64_t i = 0; i < d.n; i++)
    for (int64_t c = 0; c < d.c; c++)
      flip_plane(x + (i * d.c + c) * d.h * d.w, d.h, d.w, flip[i]);
  return 0;
}

int aug_erase_f32(float *x, aug_dims d, const int64_t *box,
                  const float *value) {
  if (!x || !box || !value) return -1;
  for (int64_t i = 0; i < d.n; i++) {
    const int64_t *b = box + 4 * i;
    if (b[2] > 0 && b[3] > 0 &&
        (b[0] < 0 || b[1] < 0 || b[0] + b[2] > d.h || b[1] + b[3] > d.w))
      return -1;
  }
  for (int64_t i = 0; i < d.n; i++) {
    const int64_t *b = box + 4 * i;
    if (b[2] <= 0 || b[3] <= 0) continue;
    for (int64_t c = 0; c < d.c; c++) {
      float *p = x + (i * d.c + c) * d.h * d.w;
      for (int64_t y = b[0]; y < b[0] + b[2]; y++)
        for (int64_t k = b[1]; k < b[1] + b[3]; k++) p[y * d.w + k] = value[c];
    }
  }
  return 0;
}
