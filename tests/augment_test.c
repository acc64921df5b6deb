/*
** augment_test.c: the batch kernels of augment.h as the loader workers call
** them, in plain C: padding modes by hand, flips, a plan equal to its steps
** run one by one, and the refusals (-1, nothing written) of bad arguments.
** Pixel values against torch and torchvision: spec/augment_batch_spec.lua.
*/
#include <string.h>

#include <criterion/criterion.h>

#include "augment.h"

/* one 1 x 1 x 3 x 4 image holding 0 .. 11 */
static void ramp(float *x, int n) {
  for (int k = 0; k < n; k++) x[k] = (float)k;
}

Test(augment, padding_modes) {
  float in[12], out[4 * 6];
  aug_dims d = {1, 1, 3, 4};
  int64_t top = -1, left = -1;
  ramp(in, 12);
  /* a 4 x 6 window from (-1, -1): one pixel of padding on the top and left,
     one on the right, none below the last kept row */
  cr_assert_eq(aug_crop_f32(in, d, out, 4, 6, &top, &left, NULL, AUG_PAD_CONSTANT, -1.0f), 0);
  const float constant[] = {-1, -1, -1, -1, -1, -1, -1, 0, 1, 2, 3, -1, -1, 4, 5, 6, 7, -1, -1, 8, 9, 10, 11, -1};
  cr_assert_arr_eq(out, constant, sizeof constant);
  cr_assert_eq(aug_crop_f32(in, d, out, 4, 6, &top, &left, NULL, AUG_PAD_EDGE, 0), 0);
  const float edge[] = {0, 0, 1, 2, 3, 3, 0, 0, 1, 2, 3, 3, 4, 4, 5, 6, 7, 7, 8, 8, 9, 10, 11, 11};
  cr_assert_arr_eq(out, edge, sizeof edge);
  cr_assert_eq(aug_crop_f32(in, d, out, 4, 6, &top, &left, NULL, AUG_PAD_REFLECT, 0), 0);
  const float reflect[] = {5, 4, 5, 6, 7, 6, 1, 0, 1, 2, 3, 2, 5, 4, 5, 6, 7, 6, 9, 8, 9, 10, 11, 10};
  cr_assert_arr_eq(out, reflect, sizeof reflect);
}

Test(augment, flips_in_crop_and_alone) {
  float in[12], a[12], b[12];
  aug_dims d = {1, 1, 3, 4};
  int64_t zero = 0;
  uint8_t both = AUG_FLIP_H | AUG_FLIP_V;
  ramp(in, 12);
  cr_assert_eq(aug_crop_f32(in, d, a, 3, 4, &zero, &zero, &both, AUG_PAD_CONSTANT, 0), 0);
  memcpy(b, in, sizeof b);
  cr_assert_eq(aug_flip_f32(b, d, &both), 0);
  for (int k = 0; k < 12; k++) {
    cr_assert_eq(a[k], (float)(11 - k));
    cr_assert_eq(b[k], (float)(11 - k));
  }
}

Test(augment, uint8_crop) {
  uint8_t in[12], out[4];
  aug_dims d = {1, 1, 3, 4};
  int64_t top = 1, left = 2;
  for (int k = 0; k < 12; k++) in[k] = (uint8_t)(k * 20);
  cr_assert_eq(aug_crop_u8(in, d, out, 2, 2, &top, &left, NULL, AUG_PAD_CONSTANT, 0), 0);
  const uint8_t want[] = {120, 140, 200, 220};
  cr_assert_arr_eq(out, want, sizeof want);
}

/* crop + flip, resize, normalize, erase in a plan = the kernels one by one */
Test(augment, plan_equals_its_steps) {
  enum { N = 2, C = 3, H = 8, W = 9 };
  static float in[N * C * H * W], s1[N * C * 6 * 7], s2[N * C * 4 * 5], want[N * C * 4 * 5], got[N * C * 4 * 5];
  for (int k = 0; k < N * C * H * W; k++) in[k] = (float)((k * 37) % 101) / 100.0f;
  int64_t top[N] = {-1, 2}, left[N] = {0, 3}, box[4 * N] = {0, 0, 6, 7, 1, 2, 4, 4};
  uint8_t flip[N] = {1, 0};
  float mean[C] = {0.5f, 0.4f, 0.3f}, sd[C] = {0.2f, 0.25f, 0.3f}, value[C] = {0, 1, 2};
  int64_t erase[4 * N] = {1, 1, 2, 2, 0, 0, 0, 0};
  aug_dims d = {N, C, H, W}, d1 = {N, C, 6, 7}, d2 = {N, C, 4, 5};
  cr_assert_eq(aug_crop_f32(in, d, s1, 6, 7, top, left, flip, AUG_PAD_REFLECT, 0), 0);
  cr_assert_eq(aug_resize_f32(s1, d1, s2, 4, 5, box, AUG_BILINEAR, 1), 0);
  cr_assert_eq(aug_normalize_f32(s2, d2, want, mean, sd), 0);
  cr_assert_eq(aug_erase_f32(want, d2, erase, value), 0);
  aug_step steps[4] = {
      {.kind = AUG_CROP, .oh = 6, .ow = 7, .top = top, .left = left, .flip = flip, .pad = AUG_PAD_REFLECT},
      {.kind = AUG_RESIZE, .oh = 4, .ow = 5, .box = box, .mode = AUG_BILINEAR, .antialias = 1},
      {.kind = AUG_NORMALIZE, .mean = mean, .std = sd},
      {.kind = AUG_ERASE, .box = erase, .values = value},
  };
  aug_dims od = aug_plan_dims(steps, 4, d);
  cr_assert(od.n == N && od.c == C && od.h == 4 && od.w == 5);
  cr_assert_eq(aug_plan_run(steps, 4, in, d, got), 0);
  cr_assert_arr_eq(got, want, sizeof want);
}

Test(augment, bad_arguments_refused) {
  float in[12] = {0}, out[12];
  aug_dims d = {1, 1, 3, 4};
  int64_t zero = 0, box[4] = {0, 0, 4, 4}; /* 4 rows of a 3-row image */
  uint8_t order[3] = {0, 1, 3};
  float f[3] = {1, 1, 1};
  memset(out, 0x7f, sizeof out);
  cr_assert_eq(aug_crop_f32(in, d, out, 0, 4, &zero, &zero, NULL, AUG_PAD_CONSTANT, 0), -1);
  cr_assert_eq(aug_crop_f32(in, d, out, 3, 4, &zero, &zero, NULL, 7, 0), -1);
  cr_assert_eq(aug_resize_f32(in, d, out, 2, 2, box, AUG_BILINEAR, 0), -1);
  cr_assert_eq(aug_resize_f32(in, d, out, 2, 2, NULL, AUG_NEAREST, 1), -1);
  cr_assert_eq(aug_resize_f32(in, d, out, 2, 2, NULL, 9, 0), -1);
  cr_assert_eq(aug_erase_f32(out, d, box, f), -1);
  cr_assert_eq(aug_jitter_f32(out, d, f, order), -1);
  cr_assert_eq(aug_rotate_f32(in, d, out, f, AUG_BICUBIC, f), -1);
  /* nothing written by a refusal */
  for (int k = 0; k < 12; k++) cr_assert_neq(out[k], 0.0f);
  aug_step bad = {.kind = 42};
  cr_assert_eq(aug_plan_run(&bad, 1, in, d, out), -1);
}
