// mlp_step, libtorch C++ twin: one training step of a tiny MLP written with
// raw tensor ops (no nn modules): forward, MSE loss, backward, SGD update
// under no_grad, zero the grads.  Same work as mlp_step.lua/.py.
// Usage: mlp_step [steps]   (BENCH_SCALE scales)
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
  long steps = argc > 1 ? std::atol(argv[1])
                        : std::max(50L, (long)(2000 * (scale ? std::atof(scale) : 1.0)));
  const int REPS = 5;
  long per_rep = steps / REPS;
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
  };

  run(per_rep / 4);  // warm-up
  double best_wall = std::numeric_limits<double>::infinity(), best_cpu = best_wall;
  for (int r = 0; r < REPS; r++) {
    double w0 = wall_now(), c0 = cpu_now();
    run(per_rep);
    double w1 = wall_now(), c1 = cpu_now();
    best_wall = std::min(best_wall, (w1 - w0) / per_rep);
    best_cpu = std::min(best_cpu, (c1 - c0) / per_rep);
  }
  std::printf("RESULT mlp_step %.6e\n", best_wall);
  std::printf("CPU mlp_step %.6e\n", best_cpu);
  std::printf("CHECK mlp_step %.6g\n", loss.item<double>());
  return 0;
}
