/* what both image fuzz targets check: every mode and depth decodes or
   fails with a message, and a decoded image's buffer is as large as its
   sizes say (read whole, so ASan sees any short allocation) */
#include <stdlib.h>
#include <string.h>

#include "image.h"

static void fuzz_image(const uint8_t *data, size_t size) {
  static const int modes[] = {CLARA_IMAGE_KEEP, CLARA_IMAGE_L, CLARA_IMAGE_RGB,
                              CLARA_IMAGE_RGBA};
  for (int m = 0; m < 4; m++) {
    clara_image_opts o;
    clara_image img;
    char err[256] = "";
    clara_image_opts_default(&o);
    o.mode = modes[m];
    o.depth = m == 0 ? 16 : 8;
    o.exif = m != 2;
    o.max_pixels = 1u << 22;   /* what a fuzzer may make us allocate */
    if (clara_image_decode(data, size, &o, &img, err, sizeof err) == 0) {
      size_t want = (size_t)img.c * img.h * img.w * (img.depth / 8);
      if (img.nbytes != want || (m && img.c != o.mode)) abort();
      uint8_t *planes = malloc(img.nbytes);
      clara_image_planar(&img, planes);
      volatile uint8_t sum = 0;
      for (size_t i = 0; i < img.nbytes; i++) sum += planes[i];
      free(planes);
      clara_image_free(&img);
    } else if (strlen(err) == 0) {
      abort();
    }
  }
}
