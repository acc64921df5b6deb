// transformer_step, libtorch C++ twin: one training step of a small
// Transformer encoder (torch::nn::TransformerEncoder of 2
// TransformerEncoderLayer: d_model 64, nhead 4, dim_feedforward 128, ReLU,
// post-norm, dropout 0), sequence 32, batch 16, (S, N, E) layout: forward,
// MSE loss against a fixed random target, backward, Adam (lr 1e-3) step,
// zero the grads.  Same work as transformer_step.lua/.py (see there for the
// weights).  A repetition is `steps` (10) steps, continuing the same
// weights; the time is per step.
// Usage: transformer_step [steps]   (BENCH_SCALE scales)
#include <torch/torch.h>

#include <algorithm>
#include <regex>

#include "twin.h"

int main(int argc, char **argv) {
  long steps = twin::count(argc, argv, 10, 2);
  const int64_t S = 32, N = 16, E = 64, HEADS = 4, FF = 128, LAYERS = 2;

  torch::set_num_threads(1);
  torch::nn::TransformerEncoder model(
      torch::nn::TransformerEncoderOptions(
          torch::nn::TransformerEncoderLayerOptions(E, HEADS).dim_feedforward(FF).dropout(0.0), LAYERS));

  torch::manual_seed(0);
  {
    torch::NoGradGuard no_grad;
    auto named = model->named_parameters();
    std::vector<std::string> names;
    for (auto &kv : named) names.push_back(kv.key());
    std::sort(names.begin(), names.end());
    std::regex norm_weight("norm\\d\\.weight$");
    for (auto &name : names) {
      torch::Tensor p = named[name];
      if (std::regex_search(name, norm_weight)) p.fill_(1);
      else p.copy_(torch::randn(p.sizes()) * 0.05);
    }
  }
  torch::Tensor x = torch::randn({S, N, E});
  torch::Tensor y = torch::randn({S, N, E});
  torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(1e-3));
  torch::Tensor loss;

  auto step = [&]() {
    loss = torch::mse_loss(model(x), y);
    loss.backward();
    opt.step();
    opt.zero_grad();
  };
  auto run = [&](long n) {
    for (long i = 0; i < n; i++) step();
    return twin::Rep{loss.item<double>()};
  };

  twin::serve("transformer_step", [&] { return run(steps); }, steps, [&] { run(3); });
  return 0;
}
