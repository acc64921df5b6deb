/*
** augment_color.c: colour jitter and normalization (augment.h), in
** torchvision 0.14's tensor formulas (functional_tensor.py):
**   _blend(a, b, r) = (r * a + (1 - r) * b).clamp(0, 1)
**   brightness: _blend(x, 0, f)       contrast: _blend(x, mean(gray(x)), f)
**   saturation: _blend(x, gray(x), f)
**   gray = 0.2989 r + 0.587 g + 0.114 b
** each product and sum in float32 as ATen does with a Python scalar.  The
** contrast mean is summed in double: ATen's float reduction order is its
** own, so that mean (and only it) may differ from torch's in the last bit.
*/
#include <stdlib.h>

#include "augment.h"

static float blend(float a, float b, float r, float rest) {
  float v = r * a + rest * b;
  return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
}

static float gray(const float *p, int64_t plane, int64_t k) {
  return 0.2989f * p[k] + 0.587f * p[plane + k] + 0.114f * p[2 * plane + k];
}

/* one sample x (c planes of `plane` pixels), one adjustment */
static void adjust(float *x, int64_t c, int64_t plane, int what, float f) {
  float rest = (float)(1.0 - (double)f);
  if (what == 0) {
    for (int64_t k = 0; k < c * plane; k++) x[k] = blend(x[k], 0.0f, f, rest);
  } else if (what == 1) {
    double sum = 0.0;
    for (int64_t k = 0; k < plane; k++) sum += c == 3 ? gray(x, plane, k) : x[k];
    float mean = (float)(sum / (double)plane);
    for (int64_t k = 0; k < c * plane; k++) x[k] = blend(x[k], mean, f, rest);
  } else if (c == 3) {
    for (int64_t k = 0; k < plane; k++) {
      float g = gray(x, plane, k);
      for (int64_t ch = 0; ch < 3; ch++) x[ch * plane + k] = blend(x[ch * plane + k], g, f, rest);
    }
  }
}

int aug_jitter_f32(float *x, aug_dims d, const float *factors,
                   const uint8_t *order) {
  static const uint8_t plain[3] = {0, 1, 2};
  if (!x || !factors || (d.c != 1 && d.c != 3)) return -1;
  for (int64_t i = 0; order && i < 3 * d.n; i++)
    if (order[i] > 2) return -1;
  int64_t plane = d.h * d.w;
  for (int64_t i = 0; i < d.n; i++) {
    const uint8_t *o = order ? order + 3 * i : plain;
    for (int k = 0; k < 3; k++) {
      float f = factors[3 * i + o[k]];
      if (f != 1.0f) adjust(x + i * d.c * plane, d.c, plane, o[k], f);
    }
  }
  return 0;
}

int aug_normalize_f32(const float *in, aug_dims d, float *out,
                      const float *mean, const float *std) {
  if (!in || !out || !mean || !std) return -1;
  int64_t plane = d.h * d.w;
  for (int64_t i = 0; i < d.n; i++)
    for (int64_t c = 0; c < d.c; c++) {
      const float *s = in + (i * d.c + c) * plane;
      float *t = out + (i * d.c + c) * plane;
      for (int64_t k = 0; k < plane; k++) t[k] = (s[k] - mean[c]) / std[c];
    }
  return 0;
}
