// autocast.cpp: libtorch's CPU autocast, entered and left the way
// torch.autocast("cpu") does it in PyTorch 1.13 (torch/amp/autocast_mode.py
// __enter__/__exit__): the previous enabled flag and dtype are kept and put
// back, the nesting counted, the cast cache cleared when the outermost
// region ends.
#include <ATen/autocast_mode.h>

#include "internal.h"

int th_autocast_cpu_enter(int enabled, int dtype, th_autocast_state *prev) {
  PROTECT(at::ScalarType st = bridge::scalar_type(dtype);
          prev->enabled = at::autocast::is_cpu_enabled();
          prev->dtype = bridge::dtype_of(at::autocast::get_autocast_cpu_dtype());
          at::autocast::set_cpu_enabled(enabled != 0);
          at::autocast::set_autocast_cpu_dtype(st);
          at::autocast::increment_nesting();)
}

int th_autocast_cpu_exit(const th_autocast_state *prev) {
  PROTECT(if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
          at::autocast::set_cpu_enabled(prev->enabled != 0);
          at::autocast::set_autocast_cpu_dtype(bridge::scalar_type(prev->dtype));)
}

int th_autocast_cpu_enabled(void) { PROTECT_RET(-1, return at::autocast::is_cpu_enabled() ? 1 : 0;) }

int th_autocast_cpu_dtype(void) {
  PROTECT_RET(-1, return bridge::dtype_of(at::autocast::get_autocast_cpu_dtype());)
}
