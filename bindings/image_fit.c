/*
** image_fit.c: the resize and centre crop of image_fit.h.
*/
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"
#include "image_fit.h"

int clara_fit_size(const clara_fit *f, int64_t h, int64_t w, int64_t *rh,
                   int64_t *rw, int64_t *oh, int64_t *ow, char *err,
                   size_t errlen) {
  *rh = h, *rw = w;
  if (f->h > 0) {
    *rh = f->h, *rw = f->w;
  } else if (f->shorter > 0) {
    /* torchvision's int(new_short * long / short): the product is exact,
       the division rounded once, as Python's true division of ints */
    int64_t s = w <= h ? w : h, l = w <= h ? h : w;
    int64_t nl = (int64_t)((double)(f->shorter * l) / (double)s);
    if (w <= h) *rw = f->shorter, *rh = nl;
    else *rh = f->shorter, *rw = nl;
  }
  if (f->max_pixels > 0 && *rh * *rw > f->max_pixels) {
    snprintf(err, errlen, "a %" PRId64 "x%" PRId64 " image resizes to %" PRId64 "x%" PRId64 ", more than %" PRId64
             " pixels (clara.limits.image_pixels; give a smaller size)", h, w, *rh, *rw, f->max_pixels);
    return 1;
  }
  *oh = *rh, *ow = *rw;
  if (f->crop_h > 0) {
    if (f->crop_h > *rh || f->crop_w > *rw) {
      snprintf(err, errlen, "crop %" PRId64 "x%" PRId64 " is larger than the %simage, %" PRId64 "x%" PRId64
               " (give a smaller crop, or a larger size)", f->crop_h, f->crop_w,
               (*rh != h || *rw != w) ? "resized " : "", *rh, *rw);
      return 1;
    }
    *oh = f->crop_h, *ow = f->crop_w;
  }
  if (*rh < 1 || *rw < 1) {
    snprintf(err, errlen, "a %" PRId64 "x%" PRId64 " image resizes to %" PRId64 "x%" PRId64
             ", an empty one", h, w, *rh, *rw);
    return 1;
  }
  return 0;
}

/* Python's round() of (n - c) / 2: halves to even */
static int64_t centre(int64_t n, int64_t c) { return (int64_t)nearbyint((double)(n - c) / 2.0); }

static void to_u8(const float *x, size_t n, uint8_t *out) {
  for (size_t k = 0; k < n; k++) {
    float v = nearbyintf(x[k]);
    out[k] = (uint8_t)(v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v);
  }
}

int clara_fit_run(const clara_fit *f, const float *in, int64_t c, int64_t h,
                  int64_t w, void *out, int u8, char *err, size_t errlen) {
  int64_t rh, rw, oh, ow;
  if (clara_fit_size(f, h, w, &rh, &rw, &oh, &ow, err, errlen)) return 1;
  size_t nres = (size_t)(c * rh * rw), nout = (size_t)(c * oh * ow);
  int resize = rh != h || rw != w, crop = oh != rh || ow != rw;
  /* buffers: the resized image (unless it is the output), the crop's float
     output when the result is uint8 */
  float *resized = NULL, *cropped = NULL;
  int rc = 0;
  if (resize && (crop || u8)) resized = malloc(nres * sizeof *resized);
  if (crop && u8) cropped = malloc(nout * sizeof *cropped);
  if ((resize && (crop || u8) && !resized) || (crop && u8 && !cropped)) {
    snprintf(err, errlen, "out of memory resizing a %" PRId64 "x%" PRId64 " image", h, w);
    rc = 1;
    goto done;
  }
  const float *src = in;
  if (resize) {
    float *dst = (crop || u8) ? resized : out;
    int aa = f->antialias && f->mode != AUG_NEAREST;
    if (aug_resize_f32(in, (aug_dims){1, c, h, w}, dst, rh, rw, NULL, f->mode, aa) != 0) {
      snprintf(err, errlen, "the resize failed (no memory)");
      rc = 1;
      goto done;
    }
    src = dst;
  }
  if (crop) {
    int64_t top = centre(rh, oh), left = centre(rw, ow);
    float *dst = u8 ? cropped : out;
    aug_crop_f32(src, (aug_dims){1, c, rh, rw}, dst, oh, ow, &top, &left, NULL, AUG_PAD_CONSTANT, 0.0f);
    src = dst;
  }
  if (u8) to_u8(src, nout, out);
  else if (src == in) memcpy(out, in, nout * sizeof(float));
done:
  free(resized);
  free(cropped);
  return rc;
}
