// internal.h: what every bridge translation unit shares: handle
// conversion, the PROTECT macros, dtype/scalar translation.
#ifndef BRIDGE_INTERNAL_H
#define BRIDGE_INTERNAL_H

#include <ATen/ATen.h>
#include <string>

#include "torch_bridge.h"

namespace bridge {

void set_error(const char *msg);

inline at::Tensor &T(th_tensor t) { return *reinterpret_cast<at::Tensor *>(t); }

inline th_tensor wrap(at::Tensor &&t) {
  return reinterpret_cast<th_tensor>(new at::Tensor(std::move(t)));
}

at::ScalarType scalar_type(int dtype); // TH_* -> at::ScalarType (throws)
int dtype_of(at::ScalarType st);       // at::ScalarType -> TH_* or -1
at::TensorOptions options(const th_options &o);
at::Device device_of(int code);          // TH_CPU, TH_CUDA_INDEX(k) -> at::Device (throws)
int device_code(const at::Device &d);    // at::Device -> TH_CPU, TH_CUDA_INDEX(k)
at::Scalar to_scalar(const th_scalar &s);
at::IntArrayRef dims(const int64_t *v, int n);

} // namespace bridge

// Every entry point's body runs inside one of these: a C++ exception ends
// here, as a stored message and a sentinel, and never reaches C.
#define PROTECT_RET(sentinel, ...)                                  \
  try {                                                             \
    __VA_ARGS__                                                     \
  } catch (const c10::Error &e) {                                   \
    bridge::set_error(e.what_without_backtrace());                  \
  } catch (const std::exception &e) {                               \
    bridge::set_error(e.what());                                    \
  } catch (...) {                                                   \
    bridge::set_error("unknown C++ exception");                     \
  }                                                                 \
  return sentinel;

#define PROTECT(...) PROTECT_RET(-1, __VA_ARGS__ return 0;)

#endif
