// mlp_epoch, libtorch C++ twin: one Fashion-MNIST training epoch of an MLP
// 784-H-H/2-10, ReLU, cross-entropy, SGD lr 0.1 momentum 0.9, batch 128,
// the loop clara's experiment runs, written plainly: clara's shuffle
// (data.h: the same permutation, so the same batches and loss), one
// index_select per tensor per batch, zero_grad, forward, loss, loss.item()
// (the loop logs it), backward, step.  Timed: the epoch (shuffle
// included); not timed: loading the data, building model and optimizer.
// CHECK: the epoch's mean training loss.  Settings as mlp_epoch.lua:
// BENCH_ROWS, BENCH_BATCH, BENCH_HIDDEN, BENCH_REPS.
#include <torch/torch.h>

#include "data.h"
#include "loop.h"
#include "twin.h"

int main() {
  const int64_t rows = twin::setting("BENCH_ROWS", 60000);
  const int64_t bs = twin::setting("BENCH_BATCH", 128);
  const int64_t hidden = twin::setting("BENCH_HIDDEN", 256);
  torch::set_num_threads(1);
  auto [x, y] = data::fashion_mnist(rows);
  const int64_t n = x.size(0);

  // one epoch of a fresh model, seeded as the experiment seeds it
  auto epoch = [&](int64_t max_steps) {
    torch::manual_seed(1);
    // one statement per layer: the order of a call's arguments is
    // unspecified in C++ (g++ goes right to left), the initial weights not
    torch::nn::Linear l1(784, hidden);
    torch::nn::Linear l2(hidden, hidden / 2);
    torch::nn::Linear l3(hidden / 2, 10);
    torch::nn::Sequential model(l1, torch::nn::ReLU(), l2, torch::nn::ReLU(), l3);
    torch::optim::SGD opt(model->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
    double w0 = twin::wall_now(), c0 = twin::cpu_now();
    torch::Tensor perm = data::permutation(n, 1, 1);  // seed 1, epoch 1
    loop::Epoch e = loop::epoch(model, opt, x, y, perm, bs, max_steps);
    return twin::Rep{e.mean(), twin::wall_now() - w0, twin::cpu_now() - c0};
  };

  twin::serve("mlp_epoch", [&] { return epoch(INT64_MAX); }, 1, [&] { epoch(20); },
              (int)twin::setting("BENCH_REPS", 5));
  return 0;
}
