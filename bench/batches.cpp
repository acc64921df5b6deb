// batches, libtorch C++ twin: one epoch of mini-batch assembly over
// in-memory tensors: x 60000x784 float32, y 60000 int64, batch 128,
// shuffled: randperm, then one index_select per tensor per batch (what
// clara's DataLoader does on its fast path).  Same work, clock and
// repetitions as batches.lua/.py.  Usage: batches [rows]   (BENCH_SCALE scales)
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
  long rows = argc > 1 ? std::atol(argv[1])
                       : std::max(1280L, (long)(60000 * (scale ? std::atof(scale) : 1.0)));
  const int REPS = 5;
  const long BS = 128;

  torch::set_num_threads(1);
  torch::manual_seed(0);
  torch::Tensor x = torch::rand({rows, 784});
  torch::Tensor y = torch::randint(0, 10, {rows});

  // the sum of every batch's labels: the same whatever the order
  auto epoch = [&]() {
    torch::Tensor perm = torch::randperm(rows);
    long s = 0;
    for (long start = 0; start < rows; start += BS) {
      torch::Tensor idx = perm.narrow(0, start, std::min(BS, rows - start));
      torch::Tensor xb = x.index_select(0, idx);
      torch::Tensor yb = y.index_select(0, idx);
      s += yb.sum().item<long>();
    }
    return s;
  };

  epoch();  // warm-up
  double best_wall = std::numeric_limits<double>::infinity(), best_cpu = best_wall;
  long check = 0;
  for (int r = 0; r < REPS; r++) {
    double w0 = wall_now(), c0 = cpu_now();
    check = epoch();
    double w1 = wall_now(), c1 = cpu_now();
    best_wall = std::min(best_wall, w1 - w0);
    best_cpu = std::min(best_cpu, c1 - c0);
  }
  std::printf("RESULT batches %.6e\n", best_wall);
  std::printf("CPU batches %.6e\n", best_cpu);
  std::printf("CHECK batches %.6g\n", (double)check);
  return 0;
}
