/* libFuzzer target: the CSV parser.  The first byte chooses the options
   (separator, header, kind of label, missing-value policy); the rest is
   the text. */
#include <stdlib.h>
#include <string.h>

#include "parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char seps[] = {',', ';', '\t', '|'};
  static const char *const classes[] = {"a", "b", "c"};
  static const char *const na[] = {"-", "missing"};
  if (size < 1) return 0;
  uint8_t cfg = data[0];
  const char *text = (const char *)data + 1;
  size_t len = size - 1;
  csv_spec s = {0};
  s.sep = seps[cfg & 3];
  s.header = (cfg >> 2) & 1;
  int label = (cfg >> 3) & 3; /* none, number, category, given classes */
  s.missing = (cfg >> 5) & 3;
  if (cfg & 0x80) s.na = na, s.nna = 2;

  csv_header h;
  parse_error err;
  if (parse_csv_header(text, len, s.sep, &h, &err)) return 0;
  int *inputs = malloc(sizeof *inputs * (size_t)h.n);
  s.inputs = inputs;
  s.label = label ? h.n - 1 : -1;
  s.label_kind = label == 1 ? CSV_LABEL_NUMBER : CSV_LABEL_CATEGORY;
  if (label == 3) s.classes = classes, s.nclasses = 3;
  for (int c = 0; c < h.n; c++)
    if (c != s.label) inputs[s.ninputs++] = c;
  if (s.header) s.colnames = (const char *const *)h.names;

  csv_result r;
  if (parse_csv(text, len, &s, &r, &err) == 0) {
    if (r.rows <= 0) abort();
    volatile float sum = 0;
    for (int64_t i = 0; i < r.rows * s.ninputs; i++) sum += r.x[i];
    if (r.ids)
      for (int64_t i = 0; i < r.rows; i++)
        if (r.ids[i] < 0 || r.ids[i] >= r.nclasses) abort();
    if (r.y) for (int64_t i = 0; i < r.rows; i++) sum += r.y[i];
    csv_result_free(&r);
  } else if (strlen(err.msg) == 0) {
    abort();
  }
  free(inputs);
  csv_header_free(&h);
  return 0;
}
