/*
** parse_util.c: what the data parsers share (dtype tables, errors, freeing).
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

const int parse_dtype_size[PD_NTYPES] = {1, 1, 2, 4, 8, 2, 4, 8, 1};
const char *const parse_dtype_name[PD_NTYPES] = {
    "uint8", "int8", "int16", "int32", "int64",
    "float16", "float32", "float64", "bool"};

void parse_array_free(parse_array *a) {
  free(a->data);
  a->data = NULL;
  a->nbytes = 0;
}

static void vfill(parse_error *err, const char *fmt, va_list ap) {
  vsnprintf(err->msg, sizeof err->msg, fmt, ap);
}

int parse_fail(parse_error *err, int64_t offset, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfill(err, fmt, ap);
  va_end(ap);
  err->offset = offset;
  err->line = err->col = 0;
  return -1;
}

int parse_fail_at(parse_error *err, int64_t line, int64_t col,
                  const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfill(err, fmt, ap);
  va_end(ap);
  err->offset = -1;
  err->line = line;
  err->col = col;
  return -1;
}
