// batches, libtorch C++ twin: one epoch of mini-batch assembly over
// in-memory tensors: x 60000x784 float32, y 60000 int64, batch 128,
// shuffled: clara's shuffle (data.h, a seed drawn from torch's generator
// as clara's unseeded DataLoader draws it), then one index_select per
// tensor per batch (what clara's DataLoader does on its fast path).  Same work, clock and
// repetitions as batches.lua/.py.  A repetition is one
// epoch.  Usage: batches [rows]   (BENCH_SCALE scales)
#include <torch/torch.h>

#include "data.h"
#include "twin.h"

int main(int argc, char **argv) {
  long rows = twin::count(argc, argv, 60000, 1280);
  const long BS = 128;

  torch::set_num_threads(1);
  torch::manual_seed(0);
  torch::Tensor x = torch::rand({rows, 784});
  torch::Tensor y = torch::randint(0, 10, {rows});

  // the sum of every batch's labels: the same whatever the order
  auto epoch = [&]() {
    uint64_t seed = torch::randint(0, (1LL << 31) - 1, {1}).item<int64_t>();
    torch::Tensor perm = data::permutation(rows, seed, 0);
    long s = 0;
    for (long start = 0; start < rows; start += BS) {
      torch::Tensor idx = perm.narrow(0, start, std::min(BS, rows - start));
      torch::Tensor xb = x.index_select(0, idx);
      torch::Tensor yb = y.index_select(0, idx);
      s += yb.sum().item<long>();
    }
    return s;
  };

  twin::serve("batches", [&] { return twin::Rep{(double)epoch()}; });
  return 0;
}
