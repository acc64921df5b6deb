// libFuzzer target: the TorchScript source scanner (bindings/bridge/
// source.cpp) that torch.jit.compile and torch.jit.load's archive check
// share, on arbitrary bytes.  It never fails; its measures must be sane:
// the lines it names exist, and no statement has more terms than bytes.
#include <cstdlib>

#include "bridge/source.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  bridge::SourceShape sh = bridge::source_shape((const char *)data, size);
  int64_t lines = 1;
  for (size_t i = 0; i < size; i++) lines += data[i] == '\n';
  if (sh.depth < 0 || sh.terms < 0 || sh.terms > (int64_t)size || sh.depth > (int64_t)size + 1 ||
      sh.depth_line < 1 || sh.depth_line > lines || sh.terms_line < 1 || sh.terms_line > lines)
    abort();
  return 0;
}
