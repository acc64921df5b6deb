/* libFuzzer target: the NPY parser, and the zip reader under .npz (inputs
   starting with "PK"), on arbitrary bytes */
#include <stdlib.h>
#include <string.h>

#include "parse.h"

static void check_array(const uint8_t *data, size_t size) {
  parse_array a;
  parse_error err;
  if (parse_npy(data, size, &a, &err) == 0) {
    uint64_t count = 1;
    for (int i = 0; i < a.ndim; i++) count *= (uint64_t)a.shape[i];
    if (count * (uint64_t)parse_dtype_size[a.dtype] != a.nbytes) abort();
    volatile uint8_t sum = 0;
    for (size_t i = 0; i < a.nbytes; i++) sum += ((uint8_t *)a.data)[i];
    parse_array_free(&a);
  } else if (strlen(err.msg) == 0) {
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2 || data[0] != 'P' || data[1] != 'K') {
    check_array(data, size);
    return 0;
  }
  zip_entry *es;
  size_t n;
  parse_error err;
  if (zip_list(data, size, &es, &n, &err)) return 0;
  for (size_t i = 0; i < n; i++) {
    uint8_t *bytes;
    size_t len;
    if (zip_extract(data, size, &es[i], &bytes, &len, &err) == 0) {
      check_array(bytes, len);
      free(bytes);
    }
  }
  zip_free_list(es, n);
  return 0;
}
