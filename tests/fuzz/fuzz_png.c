/* libFuzzer target: the PNG decoder (libspng under bindings/image.c),
   every mode, on arbitrary bytes after the PNG signature */
#include "fuzz_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t *buf = malloc(size + 8);
  memcpy(buf, "\x89PNG\r\n\x1a\n", 8);
  if (size) memcpy(buf + 8, data, size);
  fuzz_image(buf, size + 8);
  free(buf);
  return 0;
}
