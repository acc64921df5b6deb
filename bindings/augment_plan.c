/*
** augment_plan.c: aug_plan_run, a list of steps over one batch (augment.h).
** Each step reads the previous step's buffer and writes a fresh one (the
** in-place kernels copy first), so the caller's input is never changed.
*/
#include <stdlib.h>
#include <string.h>

#include "augment.h"

static int64_t count(aug_dims d) { return d.n * d.c * d.h * d.w; }

aug_dims aug_plan_dims(const aug_step *steps, int nsteps, aug_dims d) {
  for (int k = 0; k < nsteps; k++)
    if (steps[k].kind == AUG_CROP || steps[k].kind == AUG_RESIZE)
      d.h = steps[k].oh, d.w = steps[k].ow;
  return d;
}

static int run_step(const aug_step *s, const float *in, aug_dims d,
                    float *out) {
  switch (s->kind) {
  case AUG_CROP:
    return aug_crop_f32(in, d, out, s->oh, s->ow, s->top, s->left, s->flip, s->pad, s->fill);
  case AUG_RESIZE:
    return aug_resize_f32(in, d, out, s->oh, s->ow, s->box, s->mode, s->antialias);
  case AUG_ROTATE:
    return aug_rotate_f32(in, d, out, s->angle, s->mode, s->values);
  case AUG_NORMALIZE:
    return aug_normalize_f32(in, d, out, s->mean, s->std);
  }
  if (s->kind != AUG_FLIP && s->kind != AUG_JITTER && s->kind != AUG_ERASE) return -1;
  memcpy(out, in, (size_t)count(d) * sizeof *out);
  switch (s->kind) {
  case AUG_FLIP: return aug_flip_f32(out, d, s->flip);
  case AUG_JITTER: return aug_jitter_f32(out, d, s->factors, s->order);
  case AUG_ERASE: return aug_erase_f32(out, d, s->box, s->values);
  }
  return -1;
}

int aug_plan_run(const aug_step *steps, int nsteps, const float *in,
                 aug_dims d, float *out) {
  if (!in || !out || nsteps < 0) return -1;
  if (nsteps == 0) {
    memcpy(out, in, (size_t)count(d) * sizeof *out);
    return 0;
  }
  const float *src = in;
  float *held = NULL; /* the buffer src points to, when it is ours */
  for (int k = 0; k < nsteps; k++) {
    aug_dims next = aug_plan_dims(steps + k, 1, d);
    float *dst = k == nsteps - 1 ? out : malloc((size_t)count(next) * sizeof *dst);
    int rc = dst ? run_step(steps + k, src, d, dst) : -1;
    free(held);
    held = k == nsteps - 1 ? NULL : dst;
    if (rc) {
      free(held);
      return -1;
    }
    src = dst, d = next;
  }
  return 0;
}
