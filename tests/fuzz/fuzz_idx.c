/* libFuzzer target: the IDX parser on arbitrary bytes (bindings/parse_idx.c) */
#include <stdlib.h>
#include <string.h>

#include "parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  parse_array a;
  parse_error err;
  if (parse_idx(data, size, &a, &err) == 0) {
    /* what it returns must be what the header says, every byte readable */
    uint64_t count = 1;
    for (int i = 0; i < a.ndim; i++) count *= (uint64_t)a.shape[i];
    if (count * (uint64_t)parse_dtype_size[a.dtype] != a.nbytes) abort();
    volatile uint8_t sum = 0;
    for (size_t i = 0; i < a.nbytes; i++) sum += ((uint8_t *)a.data)[i];
    parse_array_free(&a);
  } else if (strlen(err.msg) == 0) {
    abort(); /* every error says something */
  }
  return 0;
}
