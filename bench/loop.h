// bench/loop.h: the training epoch every C++ twin runs, the loop clara's
// experiment runs written plainly: batches by index_select along `perm`
// (0-based rows of x and y), zero_grad, forward, cross-entropy,
// loss.item() (every loop logs its loss), backward, step.
#pragma once

#include <torch/torch.h>

#include <algorithm>
#include <cstdint>

namespace loop {

struct Epoch {
  double loss_sum = 0;  // sum over batches of loss * batch size
  int64_t seen = 0, steps = 0;
  double mean() const { return seen ? loss_sum / seen : 0; }
};

// at most max_steps steps; `steps_before` counts toward max_steps (epochs in a row)
template <class Model>
Epoch epoch(Model &model, torch::optim::Optimizer &opt, const torch::Tensor &x, const torch::Tensor &y,
            const torch::Tensor &perm, int64_t bs, int64_t max_steps, int64_t steps_before = 0) {
  Epoch e;
  const int64_t n = perm.size(0);
  for (int64_t start = 0; start < n && steps_before + e.steps < max_steps; start += bs, e.steps++) {
    torch::Tensor idx = perm.narrow(0, start, std::min(bs, n - start));
    torch::Tensor xb = x.index_select(0, idx), yb = y.index_select(0, idx);
    opt.zero_grad();
    torch::Tensor loss = torch::nn::functional::cross_entropy(model->forward(xb), yb);
    e.loss_sum += loss.item<double>() * idx.size(0);
    e.seen += idx.size(0);
    loss.backward();
    opt.step();
  }
  return e;
}

}  // namespace loop
