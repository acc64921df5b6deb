// libFuzzer target: the check a TorchScript archive passes before libtorch
// reads it (bindings/bridge/archive.cpp: the zip layout, every pickle, the
// code's nesting and statement length by source.cpp) on arbitrary bytes.
// It either accepts or throws.
#include <stdexcept>

#include <c10/util/Exception.h>

#include "bridge/unpickle.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  bridge::load_limits.pickle_depth = 200;
  bridge::load_limits.script_depth = 100;
  bridge::load_limits.script_terms = 2000;
  try {
    bridge::check_archive((const char *)data, size);
  } catch (const std::runtime_error &) {
  } catch (const c10::Error &) {
  }
  return 0;
}
