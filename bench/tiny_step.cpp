// tiny_step, libtorch C++ twin: one training step of an MLP 10-32-2, batch
// 16, on 4096 in-memory samples, 4 epochs = 1024 steps, the loop clara's
// experiment runs, written plainly: per epoch clara's shuffle (data.h: the
// same batches), per step index_select, zero_grad, forward,
// cross-entropy, loss.item() (the loop logs it), backward, SGD step.
// Timed: the 4 epochs; the time is per step.  CHECK: the last epoch's mean
// training loss.  See tiny_step.lua.
#include <torch/torch.h>

#include "data.h"
#include "loop.h"
#include "twin.h"

int main() {
  const int64_t N = 4096, EPOCHS = 4, BS = 16, STEPS = EPOCHS * ((N + BS - 1) / BS);
  torch::set_num_threads(1);
  torch::manual_seed(0);
  torch::Tensor x = torch::randn({N, 10});
  torch::Tensor y = x.narrow(1, 0, 1).add(x.narrow(1, 1, 1)).gt(0).to(torch::kLong).reshape({N});

  auto train = [&](int64_t max_steps) {
    torch::manual_seed(1);
    torch::nn::Linear l1(10, 32);  // one statement each: argument order is unspecified
    torch::nn::Linear l2(32, 2);
    torch::nn::Sequential model(l1, torch::nn::ReLU(), l2);
    torch::optim::SGD opt(model->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
    double w0 = twin::wall_now(), c0 = twin::cpu_now(), mean = 0;
    int64_t steps = 0;
    for (int64_t epoch = 1; epoch <= EPOCHS && steps < max_steps; epoch++) {
      loop::Epoch e = loop::epoch(model, opt, x, y, data::permutation(N, 1, epoch), BS, max_steps, steps);
      steps += e.steps;
      mean = e.mean();
    }
    return twin::Rep{mean, twin::wall_now() - w0, twin::cpu_now() - c0};
  };

  twin::serve("tiny_step", [&] { return train(INT64_MAX); }, STEPS, [&] { train(100); },
              (int)twin::setting("BENCH_REPS", 5));
  return 0;
}
