// libFuzzer target: clara's unpickler (bindings/bridge/unpickle.cpp) on
// arbitrary bytes, as torch.load reads them and as the TorchScript check
// scans them.  Any input must give a value or a C++ exception (which the
// bridge turns into a Lua error): never a crash, a leak or a sanitizer
// report.  Storage records are all 4096 bytes with no data behind them: the
// reader must never read a storage's bytes.
#include <stdexcept>

#include <c10/util/Exception.h>

#include "bridge/unpickle.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  bridge::load_limits.pickle_depth = 200;
  bridge::Records records = [](const std::string &) {
    return std::make_pair(at::DataPtr(), (size_t)4096);
  };
  for (bool scan : {false, true}) {
    try {
      c10::IValue v = bridge::unpickle((const char *)data, size, records, scan, "fuzz.pkl");
    } catch (const std::runtime_error &) {
    } catch (const c10::Error &) {
    }
  }
  return 0;
}
