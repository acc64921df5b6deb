// cnn_epoch, libtorch C++ twin: one training epoch of the small CNN of
// cnn_epoch.lua on the first 10000 Fashion-MNIST training images, batch 64,
// SGD lr 0.05 momentum 0.9, the loop clara's experiment runs, written
// plainly: clara's shuffle (data.h: the same batches), index_select,
// zero_grad, forward, cross-entropy, loss.item(), backward, step.  Timed:
// the epoch; not timed: loading the data, model and optimizer.  CHECK: the
// epoch's mean training loss.  Settings: BENCH_ROWS, BENCH_REPS.
#include <torch/torch.h>

#include "data.h"
#include "loop.h"
#include "twin.h"

namespace nn = torch::nn;

int main() {
  const int64_t rows = twin::setting("BENCH_ROWS", 10000), bs = 64;
  torch::set_num_threads(1);
  auto [x, y] = data::fashion_mnist(rows, false);
  const int64_t n = x.size(0);

  auto epoch = [&](int64_t max_steps) {
    torch::manual_seed(1);
    // one statement per layer: the order of a call's arguments is unspecified
    nn::Conv2d c1(nn::Conv2dOptions(1, 16, 3).padding(1));
    nn::Conv2d c2(nn::Conv2dOptions(16, 32, 3).padding(1));
    nn::Linear l1(32 * 7 * 7, 64);
    nn::Linear l2(64, 10);
    nn::Sequential model(c1, nn::ReLU(), nn::MaxPool2d(2), c2, nn::ReLU(), nn::MaxPool2d(2), nn::Flatten(),
                         l1, nn::ReLU(), l2);
    torch::optim::SGD opt(model->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
    double w0 = twin::wall_now(), c0 = twin::cpu_now();
    torch::Tensor perm = data::permutation(n, 1, 1);
    loop::Epoch e = loop::epoch(model, opt, x, y, perm, bs, max_steps);
    return twin::Rep{e.mean(), twin::wall_now() - w0, twin::cpu_now() - c0};
  };

  twin::serve("cnn_epoch", [&] { return epoch(INT64_MAX); }, 1, [&] { epoch(10); },
              (int)twin::setting("BENCH_REPS", 5));
  return 0;
}
