/*
** augment_rotate.c: aug_rotate_f32, torchvision 0.14's F.rotate on tensors.
**
** torchvision builds the inverse rotation matrix (_get_inverse_affine_matrix
** with angle -a), a grid of pixel centres scaled to [-1, 1] (_gen_affine_grid,
** a float32 bmm), samples with grid_sample (zeros padding, align_corners =
** false) and blends the fill by a sampled mask of ones.  The grid point and
** the sampling are computed here as those kernels do, FMA contractions
** included (fmaf): the pixels are bitwise torchvision's.
*/
#include <math.h>
#include <stdlib.h>

#include "augment.h"
#include "augment_fma.h"

/* one output pixel of one plane: value and mask (the in-image weight) */
static inline __attribute__((always_inline)) void sample(const float *p, int64_t h, int64_t w, float ix, float iy,
                   int mode, float *value, float *mask) {
  if (mode == AUG_NEAREST) {
    int64_t x = (int64_t)nearbyintf(ix), y = (int64_t)nearbyintf(iy);
    int in = x >= 0 && x < w && y >= 0 && y < h;
    *value = in ? p[y * w + x] : 0.0f;
    *mask = in ? 1.0f : 0.0f;
    return;
  }
  float xw = floorf(ix), yn = floorf(iy);
  float e1 = ix - xw, e0 = 1.0f - e1, n1 = iy - yn, n0 = 1.0f - n1;
  float wt[4] = {n0 * e0, n0 * e1, n1 * e0, n1 * e1}; /* nw ne sw se */
  int64_t x0 = (int64_t)xw, y0 = (int64_t)yn;
  float pv[4], in[4];
  for (int k = 0; k < 4; k++) {
    int64_t x = x0 + (k & 1), y = y0 + (k >> 1);
    in[k] = x >= 0 && x < w && y >= 0 && y < h;
    pv[k] = in[k] ? p[y * w + x] : 0.0f;
  }
  /* ATen's nw_val * nw + ne_val * ne + sw_val * sw + se_val * se, contracted */
  float v = fmaf(pv[3], wt[3], fmaf(pv[2], wt[2], fmaf(pv[1], wt[1], pv[0] * wt[0])));
  float m = fmaf(in[3], wt[3], fmaf(in[2], wt[2], fmaf(in[1], wt[1], in[0] * wt[0])));
  *value = v, *mask = m;
}

/* the grid-sample coordinates (ix, iy) of output pixel (y, x) */
static inline __attribute__((always_inline)) void source(const float r[6], int64_t h, int64_t w, int64_t y,
                   int64_t x, float *ix, float *iy) {
  float bx = (float)(-w * 0.5 + 0.5) + (float)x;
  float by = (float)(-h * 0.5 + 0.5) + (float)y;
  /* torch's bmm: x r0 + y r1 contracted, then + r2 */
  float gx = fmaf(by, r[1], bx * r[0]) + r[2];
  float gy = fmaf(by, r[4], bx * r[3]) + r[5];
  *ix = fmaf(gx + 1.0f, (float)w / 2, -0.5f);
  *iy = fmaf(gy + 1.0f, (float)h / 2, -0.5f);
}

/* the pixels of one sample (r: its rescaled inverse matrix) */
FMA_CLONES static void rotate_one(const float *in, aug_dims d, float *out,
                                  const float r[6], int mode, const float *fill) {
  int64_t plane = d.h * d.w;
  for (int64_t y = 0; y < d.h; y++)
    for (int64_t x = 0; x < d.w; x++) {
      float ix, iy;
      source(r, d.h, d.w, y, x, &ix, &iy);
      for (int64_t c = 0; c < d.c; c++) {
        float v, mk;
        sample(in + c * plane, d.h, d.w, ix, iy, mode, &v, &mk);
        float *o = out + c * plane + y * d.w + x;
        if (mode == AUG_NEAREST) *o = mk < 0.5f ? fill[c] : v;
        else *o = v * mk + (1.0f - mk) * fill[c];
      }
    }
}

int aug_rotate_f32(const float *in, aug_dims d, float *out,
                   const float *angle, int mode, const float *fill) {
  if (!in || !out || !angle || !fill || (mode != AUG_NEAREST && mode != AUG_BILINEAR)) return -1;
  int64_t plane = d.h * d.w;
  for (int64_t i = 0; i < d.n; i++) {
    /* the inverse matrix of rotation by -angle, as torchvision's, then
       rescaled_theta = theta^T / (w / 2, h / 2) */
    double rot = -(double)angle[i] * (M_PI / 180.0); /* math.radians(-angle) */
    float m[6] = {(float)cos(rot), (float)sin(rot), 0.0f, (float)-sin(rot), (float)cos(rot), 0.0f};
    float sx = (float)(0.5 * d.w), sy = (float)(0.5 * d.h);
    float r[6] = {m[0] / sx, m[1] / sx, m[2] / sx, m[3] / sy, m[4] / sy, m[5] / sy};
    rotate_one(in + i * d.c * plane, d, out + i * d.c * plane, r, mode, fill);
  }
  return 0;
}
