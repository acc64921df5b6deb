/*
** augment_resize.c: aug_resize_f32, ATen's CPU upsampling on boxes.
**
** The arithmetic follows ATen 1.13 (UpSample.h, UpSampleKernel.cpp) step by
** step, in the same float/double mix: a per-dimension table of taps (source
** index, weight) for each output position, then
**   plain kernels: out = sum_ky (sum_kx src * wx) * wy, in that order;
**   antialias:     separable, the width pass first, each a running sum
**                  over the taps (_separable_upsample_generic_Nd).
** ATen's CPU kernels are built with FMA contraction, so the sums are fmaf's
** where theirs were contracted.  Measured against torch (spec/
** augment_batch_spec.lua): nearest and bilinear bitwise (1-channel images
** through ATen's channels-last formula, as ATen does); antialias within an
** ulp; bicubic within 1e-5 (ATen's bicubic sums in an order not found).
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"

#include "augment_fma.h"

/* taps of one dimension: k per output position */
typedef struct {
  int64_t k;       /* taps per output position */
  int64_t *idx;    /* first tap's index (antialias) or every tap's index */
  int64_t *len;    /* antialias: taps in use at each position */
  float *wt;
} taps;

static void taps_free(taps *t) {
  free(t->idx);
  free(t->len);
  free(t->wt);
  memset(t, 0, sizeof *t);
}

static int taps_alloc(taps *t, int64_t out, int64_t k, int with_len) {
  t->k = k;
  t->idx = malloc((size_t)(out * k) * sizeof *t->idx);
  t->wt = malloc((size_t)(out * k) * sizeof *t->wt);
  t->len = with_len ? malloc((size_t)out * sizeof *t->len) : NULL;
  if (!t->idx || !t->wt || (with_len && !t->len)) {
    taps_free(t);
    return -1;
  }
  return 0;
}

/* area_pixel_compute_source_index, in float (cubic) */
static float source_index(float scale, int64_t o) {
  return scale * (o + 0.5f) - 0.5f;
}

static int64_t bounded(int64_t k, int64_t n) {
  return k < 0 ? 0 : (k > n - 1 ? n - 1 : k);
}

static float cubic1(float x, float A) { return ((A + 2) * x - (A + 3)) * x * x + 1; }
static float cubic2(float x, float A) { return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A; }

/* the plain kernels' taps of a side of n input pixels resized to out */
static int plain_taps(taps *t, int64_t n, int64_t out, int mode) {
  static const int64_t K[] = {1, 2, 4};
  if (taps_alloc(t, out, K[mode], 0)) return -1;
  float scale = (float)n / (float)out;
  for (int64_t o = 0; o < out; o++) {
    int64_t *ix = t->idx + o * t->k;
    float *w = t->wt + o * t->k;
    if (mode == AUG_NEAREST) {
      /* nearest_idx */
      if (out == n) ix[0] = o;
      else if (out == 2 * n) ix[0] = o >> 1;
      else ix[0] = bounded((int64_t)floorf(o * scale), n);
      w[0] = 1.0f;
    } else if (mode == AUG_BILINEAR) {
      if (out == n) {
        ix[0] = ix[1] = o;
        w[0] = 1.0f, w[1] = 0.0f;
        continue;
      }
      /* compute_source_index_and_lambda: the index in double */
      double real = (double)scale * (o + 0.5) - 0.5;
      real = real < 0 ? 0 : real;
      ix[0] = (int64_t)real;
      ix[1] = ix[0] + (ix[0] < n - 1 ? 1 : 0);
      float l1 = (float)(real - (double)ix[0]);
      w[0] = 1.0f - l1, w[1] = l1;
    } else {
      float real = source_index(scale, o);
      int64_t i0 = (int64_t)floorf(real);
      float tt = real - (float)i0, A = -0.75f;
      float x1 = tt, x2 = (float)(1.0 - tt);
      w[0] = cubic2((float)(x1 + 1.0), A);
      w[1] = cubic1(x1, A);
      w[2] = cubic1(x2, A);
      w[3] = cubic2((float)(x2 + 1.0), A);
      for (int j = 0; j < 4; j++) ix[j] = bounded(i0 - 1 + j, n);
    }
  }
  return 0;
}

/* the antialiasing filters (HelperInterpLinear/Cubic::aa_filter) */
static float aa_filter(float x, int mode) {
  double a = -0.5;
  if (x < 0.0) x = -x;
  if (mode == AUG_BILINEAR) return x < 1.0 ? (float)(1.0 - x) : 0.0f;
  if (x < 1.0) return (float)(((a + 2.0) * x - (a + 3.0)) * x * x + 1);
  if (x < 2.0) return (float)((((x - 5) * x + 8) * x - 4) * a);
  return 0.0f;
}

/* _compute_indices_min_size_weights_aa: taps start at idx[o], len[o] of them */
static int aa_taps(taps *t, int64_t n, int64_t out, int mode) {
  int size = mode == AUG_BILINEAR ? 2 : 4;
  float scale = (float)n / (float)out;
  float support = (float)(scale >= 1.0 ? (size * 0.5) * scale : size * 0.5);
  int64_t k = (int64_t)ceilf(support) * 2 + 1;
  if (taps_alloc(t, out, k, 1)) return -1;
  float invscale = (float)(scale >= 1.0 ? 1.0 / scale : 1.0);
  for (int64_t o = 0; o < out; o++) {
    float *w = t->wt + o * k, total = 0.0f;
    float center = (float)(scale * (o + 0.5));
    int64_t lo = (int64_t)(center - support + 0.5);
    int64_t hi = (int64_t)(center + support + 0.5);
    lo = lo < 0 ? 0 : lo;
    int64_t len = (hi < n ? hi : n) - lo;
    for (int64_t j = 0; j < len; j++) {
      w[j] = aa_filter((float)(((float)(j + lo) - center + 0.5) * invscale), mode);
      total += w[j];
    }
    for (int64_t j = 0; j < len; j++)
      if (total != 0.0f) w[j] /= total;
    t->idx[o] = lo, t->len[o] = len;
  }
  return 0;
}

/* the plain kernels' sum of taps: ATen's CPU kernels are built with FMA
   contraction (AVX2/AVX-512), so its a0 * w0 + a1 * w1 is
   fma(a0, w0, a1 * w1), and longer sums are running fmas */
static inline __attribute__((always_inline)) float combine(const float *a, const float *w, int64_t k) {
  if (k == 1) return a[0] * w[0];
  if (k == 2) return fmaf(a[0], w[0], a[1] * w[1]);
  float acc = a[0] * w[0];
  for (int64_t j = 1; j < k; j++) acc = fmaf(a[j], w[j], acc);
  return acc;
}

/* bilinear as ATen's channels-last kernel computes it, which it takes for a
   1-channel image (contiguous in both layouts): the four weights are float
   products, the sum of the four terms is accumulated in double */
static void bilinear_cl(const float *src, int64_t stride, float *dst,
                        const taps *ty, const taps *tx, int64_t oh,
                        int64_t ow) {
  for (int64_t y = 0; y < oh; y++) {
    const float *a = src + ty->idx[2 * y] * stride, *b = src + ty->idx[2 * y + 1] * stride;
    float h0 = ty->wt[2 * y], h1 = ty->wt[2 * y + 1];
    for (int64_t x = 0; x < ow; x++) {
      const int64_t *ix = tx->idx + 2 * x;
      float w0 = tx->wt[2 * x], w1 = tx->wt[2 * x + 1];
      float w00 = h0 * w0, w01 = h0 * w1, w10 = h1 * w0, w11 = h1 * w1;
      dst[y * ow + x] = (float)((double)a[ix[0]] * w00 + (double)a[ix[1]] * w01 +
                                (double)b[ix[0]] * w10 + (double)b[ix[1]] * w11);
    }
  }
}

/* plain: one (h, w) plane from the window at src with row stride `stride` */
FMA_CLONES static void plain_plane(const float *src, int64_t stride, float *dst,
                        const taps *ty, const taps *tx, int64_t oh,
                        int64_t ow) {
  float row[4], px[4];
  if (tx->k == 2 && ty->k == 2) { /* bilinear: the same sums, unrolled */
    for (int64_t y = 0; y < oh; y++) {
      const float *a = src + ty->idx[2 * y] * stride, *b = src + ty->idx[2 * y + 1] * stride;
      float wy0 = ty->wt[2 * y], wy1 = ty->wt[2 * y + 1];
      for (int64_t x = 0; x < ow; x++) {
        const int64_t *ix = tx->idx + 2 * x;
        const float *wx = tx->wt + 2 * x;
        float t0 = fmaf(a[ix[0]], wx[0], a[ix[1]] * wx[1]);
        float t1 = fmaf(b[ix[0]], wx[0], b[ix[1]] * wx[1]);
        dst[y * ow + x] = fmaf(t0, wy0, t1 * wy1);
      }
    }
    return;
  }
  for (int64_t y = 0; y < oh; y++)
    for (int64_t x = 0; x < ow; x++) {
      const int64_t *ix = tx->idx + x * tx->k;
      for (int64_t a = 0; a < ty->k; a++) {
        const float *line = src + ty->idx[y * ty->k + a] * stride;
        for (int64_t b = 0; b < tx->k; b++) px[b] = line[ix[b]];
        row[a] = combine(px, tx->wt + x * tx->k, tx->k);
      }
      dst[y * ow + x] = combine(row, ty->wt + y * ty->k, ty->k);
    }
}

/* antialias, one pass along one side: `lines` lines of `n` input pixels
   (consecutive pixels `step` apart, lines `gap` apart) into lines of `out`
   pixels laid out the same way in dst */
FMA_CLONES static void aa_pass(const float *src, int64_t lines, int64_t step,
                    int64_t gap, float *dst, int64_t dstep, int64_t dgap,
                    const taps *t, int64_t out) {
  for (int64_t l = 0; l < lines; l++)
    for (int64_t o = 0; o < out; o++) {
      const float *s = src + l * gap + t->idx[o] * step;
      const float *w = t->wt + o * t->k;
      float acc = s[0] * w[0];
      for (int64_t j = 1; j < t->len[o]; j++) acc = fmaf(s[j * step], w[j], acc);
      dst[l * dgap + o * dstep] = acc;
    }
}

/* antialias: one plane; tmp holds bh * ow floats */
static void aa_plane(const float *src, int64_t stride, int64_t bh, int64_t bw,
                     float *dst, const taps *ty, const taps *tx, int64_t oh,
                     int64_t ow, float *tmp) {
  if (bw == ow && bh == oh) {
    for (int64_t y = 0; y < oh; y++) memcpy(dst + y * ow, src + y * stride, (size_t)ow * sizeof *dst);
    return;
  }
  if (bw != ow) {
    float *to = bh == oh ? dst : tmp;
    aa_pass(src, bh, 1, stride, to, 1, ow, tx, ow);
    src = to, stride = ow;
  }
  if (bh != oh) aa_pass(src, ow, stride, 1, dst, ow, 1, ty, oh);
}

int aug_resize_f32(const float *in, aug_dims d, float *out, int64_t oh,
                   int64_t ow, const int64_t *box, int mode, int antialias) {
  if (!in || !out || oh < 1 || ow < 1 || mode < AUG_NEAREST || mode > AUG_BICUBIC) return -1;
  if (antialias && mode == AUG_NEAREST) return -1;
  for (int64_t i = 0; box && i < d.n; i++) {
    const int64_t *b = box + 4 * i;
    if (b[0] < 0 || b[1] < 0 || b[2] < 1 || b[3] < 1 || b[0] + b[2] > d.h || b[1] + b[3] > d.w)
      return -1;
  }
  taps ty = {0}, tx = {0};
  float *tmp = NULL;
  int rc = 0;
  int64_t last_h = -1, last_w = -1;
  for (int64_t i = 0; i < d.n && rc == 0; i++) {
    int64_t top = box ? box[4 * i] : 0, left = box ? box[4 * i + 1] : 0;
    int64_t bh = box ? box[4 * i + 2] : d.h, bw = box ? box[4 * i + 3] : d.w;
    if (bh != last_h || bw != last_w) { /* a new box size: new taps */
      taps_free(&ty), taps_free(&tx), free(tmp);
      tmp = antialias ? malloc((size_t)(bh * ow) * sizeof *tmp) : NULL;
      rc = antialias ? (aa_taps(&ty, bh, oh, mode) | aa_taps(&tx, bw, ow, mode) | !tmp)
                     : (plain_taps(&ty, bh, oh, mode) | plain_taps(&tx, bw, ow, mode));
      if (rc) break;
      last_h = bh, last_w = bw;
    }
    for (int64_t c = 0; c < d.c; c++) {
      const float *src = in + (i * d.c + c) * d.h * d.w + top * d.w + left;
      float *dst = out + (i * d.c + c) * oh * ow;
      if (antialias) aa_plane(src, d.w, bh, bw, dst, &ty, &tx, oh, ow, tmp);
      else if (mode == AUG_BILINEAR && d.c == 1 && (bw == d.w || bh == 1))
        bilinear_cl(src, d.w, dst, &ty, &tx, oh, ow); /* ATen's channels-last case */
      else plain_plane(src, d.w, dst, &ty, &tx, oh, ow);
    }
  }
  taps_free(&ty), taps_free(&tx), free(tmp);
  return rc ? -1 : 0;
}
