// op_overhead, libtorch C++ twin: cost of one small op, c = a.add(b), on
// 16-element float32 tensors.  Same work as op_overhead.lua/.py.  A
// repetition is `calls` (200000) calls; the time is per call.
// Usage: op_overhead [calls]   (BENCH_SCALE scales)
#include <torch/torch.h>

#include "twin.h"

int main(int argc, char **argv) {
  long calls = twin::count(argc, argv, 2e5, 1000);

  torch::set_num_threads(1);
  torch::manual_seed(0);
  torch::Tensor a = torch::randn({16});
  torch::Tensor b = torch::randn({16});

  auto run = [&](long n) {
    torch::Tensor c;
    for (long i = 0; i < n; i++) c = a.add(b);
    return twin::Rep{c.sum().item<double>()};
  };
  twin::serve("op_overhead", [&] { return run(calls); }, calls, [&] { run(calls / 5); });
  return 0;
}
