/*
** image_test.c: the C image API of bindings/image.h, as the loader's
** worker threads use it: no Lua, no torch.  Round trips through the PNG
** encoder, PIL's conversions on known pixels, the pixel limit checked
** before allocation, the planar copy, and four threads decoding at once
** (each result equal to the single-threaded one).
*/
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "image.h"

#define W 16
#define H 9

static uint8_t *encoded(int c, int depth, size_t *len) {
  clara_image img = {c, H, W, depth, CLARA_IMAGE_PNG, NULL, (size_t)c * H * W * (depth / 8)};
  char err[256];
  uint8_t *png;
  img.data = malloc(img.nbytes);
  for (size_t i = 0; i < img.nbytes / (depth / 8); i++) {
    if (depth == 8) ((uint8_t *)img.data)[i] = (uint8_t)(i * 37 + 11);
    else ((uint16_t *)img.data)[i] = (uint16_t)(i * 4099 + 7);
  }
  cr_assert_eq(clara_image_encode_png(&img, &png, len, err, sizeof err), 0, "%s", err);
  free(img.data);
  return png;
}

Test(image, png_round_trip_and_modes) {
  size_t len;
  uint8_t *png = encoded(3, 8, &len);
  clara_image img;
  clara_image_opts o;
  char err[256];
  clara_image_opts_default(&o);
  cr_assert_eq(clara_image_format(png, len), CLARA_IMAGE_PNG);
  cr_assert_eq(clara_image_decode(png, len, &o, &img, err, sizeof err), 0, "%s", err);
  cr_assert(img.c == 3 && img.h == H && img.w == W && img.depth == 8);
  for (size_t i = 0; i < img.nbytes; i++) cr_assert_eq(((uint8_t *)img.data)[i], (uint8_t)(i * 37 + 11));
  /* planar: channel planes of H * W */
  uint8_t *planes = malloc(img.nbytes);
  clara_image_planar(&img, planes);
  cr_assert_eq(planes[H * W + 5], ((uint8_t *)img.data)[5 * 3 + 1]);
  free(planes);
  const uint8_t *p = img.data;
  unsigned luma = (p[0] * 19595u + p[1] * 38470u + p[2] * 7471u + 0x8000u) >> 16;
  clara_image_free(&img);
  o.mode = CLARA_IMAGE_L;
  cr_assert_eq(clara_image_decode(png, len, &o, &img, err, sizeof err), 0, "%s", err);
  cr_assert_eq(img.c, 1);
  cr_assert_eq(((uint8_t *)img.data)[0], luma);
  clara_image_free(&img);
  o.mode = CLARA_IMAGE_RGBA;
  cr_assert_eq(clara_image_decode(png, len, &o, &img, err, sizeof err), 0, "%s", err);
  cr_assert_eq(img.c, 4);
  cr_assert_eq(((uint8_t *)img.data)[3], 255);
  clara_image_free(&img);
  free(png);
}

Test(image, sixteen_bit) {
  size_t len;
  uint8_t *png = encoded(1, 16, &len);
  clara_image img;
  clara_image_opts o;
  char err[256];
  clara_image_opts_default(&o);
  o.depth = 16;
  cr_assert_eq(clara_image_decode(png, len, &o, &img, err, sizeof err), 0, "%s", err);
  cr_assert_eq(img.depth, 16);
  cr_assert_eq(((uint16_t *)img.data)[3], (uint16_t)(3 * 4099 + 7));
  clara_image_free(&img);
  o.depth = 8;
  cr_assert_eq(clara_image_decode(png, len, &o, &img, err, sizeof err), 0, "%s", err);
  cr_assert_eq(((uint8_t *)img.data)[3], (uint16_t)(3 * 4099 + 7) >> 8);
  clara_image_free(&img);
  free(png);
}

Test(image, errors) {
  size_t len;
  uint8_t *png = encoded(3, 8, &len);
  clara_image img;
  clara_image_opts o;
  char err[256] = "";
  clara_image_opts_default(&o);
  o.max_pixels = W * H - 1;
  cr_assert_eq(clara_image_decode(png, len, &o, &img, err, sizeof err), -1);
  cr_assert(strstr(err, "over the limit clara.limits.image_pixels") != NULL, "%s", err);
  cr_assert_null(img.data);
  o.max_pixels = 0;
  cr_assert_eq(clara_image_decode(png, len / 2, &o, &img, err, sizeof err), -1);
  cr_assert(strstr(err, "not a valid PNG file") != NULL, "%s", err);
  cr_assert_eq(clara_image_decode((const uint8_t *)"GIF89a", 6, &o, &img, err, sizeof err), -1);
  cr_assert(strstr(err, "not a PNG or JPEG file") != NULL, "%s", err);
  cr_assert_eq(clara_image_decode_file("/nonexistent/x.png", &o, &img, err, sizeof err), -1);
  cr_assert(strncmp(err, "/nonexistent/x.png: cannot open", 31) == 0, "%s", err);
  cr_assert_eq(clara_image_decode_file("/tmp", &o, &img, err, sizeof err), -1);
  cr_assert(strstr(err, "is a directory") != NULL, "%s", err);
  free(png);
}

typedef struct {
  const char *path;
  const clara_image *want;
  int bad;
} job;

static void *decode_many(void *arg) {
  job *j = arg;
  for (int k = 0; k < 200; k++) {
    clara_image img;
    char err[256];
    if (clara_image_decode_file(j->path, NULL, &img, err, sizeof err) != 0 ||
        img.nbytes != j->want->nbytes || memcmp(img.data, j->want->data, img.nbytes) != 0)
      j->bad++;
    clara_image_free(&img);
  }
  return NULL;
}

Test(image, threads_decode_alike) {
  size_t len;
  uint8_t *png = encoded(4, 8, &len);
  char path[] = "/tmp/clara_image_test_XXXXXX";
  int fd = mkstemp(path);
  cr_assert(fd >= 0);
  cr_assert_eq(write(fd, png, len), (ssize_t)len);
  close(fd);
  clara_image want;
  char err[256];
  cr_assert_eq(clara_image_decode_file(path, NULL, &want, err, sizeof err), 0, "%s", err);
  pthread_t t[4];
  job jobs[4];
  for (int i = 0; i < 4; i++) {
    jobs[i] = (job){path, &want, 0};
    pthread_create(&t[i], NULL, decode_many, &jobs[i]);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(t[i], NULL);
    cr_assert_eq(jobs[i].bad, 0, "thread %d: %d decodes differ", i, jobs[i].bad);
  }
  clara_image_free(&want);
  unlink(path);
  free(png);
}
