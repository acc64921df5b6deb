// rng.cpp: the state of libtorch's default CPU generator, as a uint8
// tensor, so a checkpoint can resume with the same random numbers.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <mutex>

#include "internal.h"

using bridge::T;

int th_get_rng_state(th_tensor *out) {
  PROTECT(auto gen = at::detail::getDefaultCPUGenerator();
          std::lock_guard<std::mutex> lock(gen.mutex());
          *out = bridge::wrap(gen.get_state());)
}

int th_set_rng_state(th_tensor state) {
  PROTECT(auto gen = at::detail::getDefaultCPUGenerator();
          std::lock_guard<std::mutex> lock(gen.mutex());
          gen.set_state(T(state));)
}
