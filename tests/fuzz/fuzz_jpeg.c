/* libFuzzer target: the JPEG decoder (libturbojpeg, and the EXIF and
   marker walk of bindings/parse_jpeg.c), every mode, on arbitrary bytes */
#include "fuzz_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_image(data, size);
  return 0;
}
