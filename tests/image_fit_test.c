/*
** image_fit_test.c: bindings/image_fit.c against values worked out by
** hand: torchvision's sizes for Resize(N), the centre crop's offsets
** rounded half to even as Python's round, uint8 results rounded half to
** even and clamped, an image already of the size left alone, a crop that
** does not fit or a resize past max_pixels refused with a message.
*/
#include <string.h>

#include <criterion/criterion.h>

#include "augment.h"
#include "image_fit.h"

static void size_is(clara_fit f, int64_t h, int64_t w, int64_t oh, int64_t ow) {
  int64_t rh, rw, gh, gw;
  char err[200];
  cr_assert_eq(clara_fit_size(&f, h, w, &rh, &rw, &gh, &gw, err, sizeof err), 0, "%s", err);
  cr_assert(gh == oh && gw == ow, "%ldx%ld -> %ldx%ld, expected %ldx%ld", (long)h, (long)w, (long)gh,
            (long)gw, (long)oh, (long)ow);
}

Test(image_fit, the_smaller_edge_gets_n_and_the_other_int_n_long_over_short) {
  clara_fit f = {.shorter = 20, .mode = AUG_BILINEAR};
  size_is(f, 30, 40, 20, 26);  /* 26.67 */
  size_is(f, 17, 64, 20, 75);  /* 75.29 */
  size_is(f, 64, 17, 75, 20);
  size_is(f, 24, 24, 20, 20);
  clara_fit exact = {.h = 5, .w = 9};
  size_is(exact, 30, 40, 5, 9);
  clara_fit crop = {.shorter = 20, .crop_h = 16, .crop_w = 10};
  size_is(crop, 30, 40, 16, 10);
}

Test(image_fit, a_crop_larger_than_the_image_is_refused) {
  clara_fit f = {.crop_h = 5, .crop_w = 5};
  int64_t rh, rw, oh, ow;
  char err[200];
  cr_assert_eq(clara_fit_size(&f, 4, 9, &rh, &rw, &oh, &ow, err, sizeof err), 1);
  cr_assert(strstr(err, "crop 5x5 is larger than the image, 4x9") != NULL, "%s", err);
  float in[36] = {0};
  float out[25];
  cr_assert_eq(clara_fit_run(&f, in, 1, 4, 9, out, 0, err, sizeof err), 1);
}

Test(image_fit, the_centre_crop_rounds_its_offset_half_to_even) {
  float row[6] = {0, 1, 2, 3, 4, 5}, out[1];
  char err[200];
  clara_fit f = {.crop_h = 1, .crop_w = 1};
  /* (4 - 1) / 2 = 1.5 -> 2; (6 - 1) / 2 = 2.5 -> 2; (5 - 1) / 2 = 2 */
  for (int w = 4; w <= 6; w++) {
    cr_assert_eq(clara_fit_run(&f, row, 1, 1, w, out, 0, err, sizeof err), 0, "%s", err);
    cr_assert_eq(out[0], 2.0f, "width %d: %g", w, out[0]);
  }
}

Test(image_fit, uint8_results_round_half_to_even_and_clamp) {
  float in[6] = {0.5f, 1.5f, 2.5f, -3.0f, 300.0f, 254.6f};
  uint8_t out[6], want[6] = {0, 2, 2, 0, 255, 255};
  char err[200];
  clara_fit f = {.mode = AUG_BILINEAR};
  cr_assert_eq(clara_fit_run(&f, in, 1, 2, 3, out, 1, err, sizeof err), 0, "%s", err);
  cr_assert_arr_eq(out, want, 6);
}

Test(image_fit, an_image_of_the_target_size_is_left_alone) {
  float in[12], out[12];
  char err[200];
  for (int k = 0; k < 12; k++) in[k] = (float)k / 7.0f;
  clara_fit f = {.shorter = 3, .mode = AUG_BICUBIC, .antialias = 1};
  cr_assert_eq(clara_fit_run(&f, in, 1, 3, 4, out, 0, err, sizeof err), 0, "%s", err);
  cr_assert_arr_eq(out, in, sizeof in);
}

Test(image_fit, bilinear_without_antialias_samples_pixel_centres) {
  /* width 4 -> 2, align_corners = false: x = 0 reads 0.5, x = 1 reads 2.5 */
  float in[4] = {0, 1, 2, 3}, out[2];
  char err[200];
  clara_fit f = {.h = 1, .w = 2, .mode = AUG_BILINEAR};
  cr_assert_eq(clara_fit_run(&f, in, 1, 1, 4, out, 0, err, sizeof err), 0, "%s", err);
  cr_assert(out[0] == 0.5f && out[1] == 2.5f, "%g %g", out[0], out[1]);
}

Test(image_fit, a_resize_past_max_pixels_is_refused) {
  clara_fit f = {.shorter = 1000, .mode = AUG_BILINEAR, .max_pixels = 1000 * 1999};
  int64_t rh, rw, oh, ow;
  char err[200];
  cr_assert_eq(clara_fit_size(&f, 10, 20, &rh, &rw, &oh, &ow, err, sizeof err), 1);
  cr_assert(strstr(err, "resizes to 1000x2000, more than 1999000 pixels") != NULL, "%s", err);
  f.max_pixels = 1000 * 2000;
  size_is(f, 10, 20, 1000, 2000);
}
