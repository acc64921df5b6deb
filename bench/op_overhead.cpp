// op_overhead, libtorch C++ twin: cost of one small op, c = a.add(b), on
// 16-element float32 tensors.  Same work, clock and repetitions as
// op_overhead.lua/.py.  Usage: op_overhead [calls]   (BENCH_SCALE scales)
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <limits>

static double wall_now() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}
static double cpu_now() { return (double)std::clock() / CLOCKS_PER_SEC; }

int main(int argc, char **argv) {
  const char *scale = std::getenv("BENCH_SCALE");
  long calls = argc > 1 ? std::atol(argv[1])
                        : std::max(1000L, (long)(1e6 * (scale ? std::atof(scale) : 1.0)));
  const int REPS = 5;
  long per_rep = calls / REPS;

  torch::set_num_threads(1);
  torch::manual_seed(0);
  torch::Tensor a = torch::randn({16});
  torch::Tensor b = torch::randn({16});
  torch::Tensor c;

  auto run = [&](long n) {
    for (long i = 0; i < n; i++) c = a.add(b);
  };

  run(per_rep / 5);  // warm-up
  double best_wall = std::numeric_limits<double>::infinity(), best_cpu = best_wall;
  for (int r = 0; r < REPS; r++) {
    double w0 = wall_now(), c0 = cpu_now();
    run(per_rep);
    double w1 = wall_now(), c1 = cpu_now();
    best_wall = std::min(best_wall, (w1 - w0) / per_rep);
    best_cpu = std::min(best_cpu, (c1 - c0) / per_rep);
  }
  std::printf("RESULT op_overhead %.6e\n", best_wall);
  std::printf("CPU op_overhead %.6e\n", best_cpu);
  std::printf("CHECK op_overhead %.6g\n", c.sum().item<double>());
  return 0;
}
