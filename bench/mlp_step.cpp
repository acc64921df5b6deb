// mlp_step, libtorch C++ twin: one training step of a tiny MLP written with
// raw tensor ops (no nn modules): forward, MSE loss, backward, SGD update
// under no_grad, zero the grads.  Same work as mlp_step.lua/.py.  A
// repetition is `steps` (400) steps, continuing the same weights; the time
// is per step.  Usage: mlp_step [steps]   (BENCH_SCALE scales)
#include <torch/torch.h>

#include "twin.h"

int main(int argc, char **argv) {
  long steps = twin::count(argc, argv, 400, 10);
  const double lr = 0.01;

  torch::set_num_threads(1);
  torch::manual_seed(0);
  auto rg = torch::TensorOptions().requires_grad(true);
  torch::Tensor x = torch::randn({64, 32});
  torch::Tensor y = torch::randn({64, 10});
  torch::Tensor W1 = torch::randn({32, 64}, rg);
  torch::Tensor b1 = torch::zeros({64}, rg);
  torch::Tensor W2 = torch::randn({64, 10}, rg);
  torch::Tensor b2 = torch::zeros({10}, rg);
  torch::Tensor loss;

  auto step = [&]() {
    torch::Tensor h = (x.matmul(W1) + b1).relu();
    torch::Tensor out = h.matmul(W2) + b2;
    loss = (out - y).pow(2).mean();
    loss.backward();
    {
      torch::NoGradGuard no_grad;
      W1.sub_(W1.grad() * lr);
      b1.sub_(b1.grad() * lr);
      W2.sub_(W2.grad() * lr);
      b2.sub_(b2.grad() * lr);
    }
    W1.grad().zero_();
    b1.grad().zero_();
    W2.grad().zero_();
    b2.grad().zero_();
  };
  auto run = [&](long n) {
    for (long i = 0; i < n; i++) step();
    return twin::Rep{loss.item<double>()};
  };

  twin::serve("mlp_step", [&] { return run(steps); }, steps, [&] { run(steps / 4); });
  return 0;
}
