// profile_epoch, C++: the phases of the mlp_epoch (or cnn_epoch) loop, as
// bench/profile_epoch.lua measures them in clara (not part of make bench).
// Build: g++ -O2 -std=c++17 -isystem /usr/include/torch/csrc/api/include \
//          -o build/bench/profile_epoch bench/profile_epoch.cpp -ltorch -ltorch_cpu -lc10 -lz
// Run:   OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
//        LD_PRELOAD=libtcmalloc_minimal.so.4 build/bench/profile_epoch [mlp|cnn] [reps]
// Settings (environment): BENCH_ROWS, BENCH_HIDDEN (mlp: 784-H-H/2-10)
#include <torch/torch.h>

#include "data.h"
#include "twin.h"

namespace F = torch::nn::functional;
namespace nn = torch::nn;

static nn::Sequential make_model(bool cnn, int64_t h) {
  if (cnn) {
    nn::Conv2d c1(nn::Conv2dOptions(1, 16, 3).padding(1));
    nn::Conv2d c2(nn::Conv2dOptions(16, 32, 3).padding(1));
    nn::Linear l1(32 * 7 * 7, 64);
    nn::Linear l2(64, 10);
    return nn::Sequential(c1, nn::ReLU(), nn::MaxPool2d(2), c2, nn::ReLU(), nn::MaxPool2d(2), nn::Flatten(),
                          l1, nn::ReLU(), l2);
  }
  nn::Linear l1(784, h);
  nn::Linear l2(h, h / 2);
  nn::Linear l3(h / 2, 10);
  return nn::Sequential(l1, nn::ReLU(), l2, nn::ReLU(), l3);
}

int main(int argc, char **argv) {
  bool cnn = argc > 1 && std::string(argv[1]) == "cnn";
  int reps = argc > 2 ? std::atoi(argv[2]) : 5;
  const int64_t rows = twin::setting("BENCH_ROWS", cnn ? 10000 : 60000), bs = cnn ? 64 : 128;
  const int64_t hidden = twin::setting("BENCH_HIDDEN", 256);
  torch::set_num_threads(1);
  auto [x, y] = data::fashion_mnist(rows, !cnn);
  const int64_t n = x.size(0), steps = (n + bs - 1) / bs;
  const char *names[] = {"batch", "forward", "loss", "item", "backward", "step"};
  std::vector<std::vector<double>> phase(6);
  std::vector<double> total;
  double mean = 0;
  for (int r = 0; r <= reps; r++) {  // r == 0: warm-up
    torch::manual_seed(1);
    nn::Sequential model = make_model(cnn, hidden);
    torch::optim::SGD opt(model->parameters(), torch::optim::SGDOptions(cnn ? 0.05 : 0.1).momentum(0.9));
    double acc[6] = {0}, sum = 0, t0 = twin::cpu_now();
    torch::Tensor perm = data::permutation(n, 1, 1);
    for (int64_t start = 0; start < n; start += bs) {
      double a = twin::cpu_now();
      torch::Tensor idx = perm.narrow(0, start, std::min(bs, n - start));
      torch::Tensor xb = x.index_select(0, idx), yb = y.index_select(0, idx);
      double b = twin::cpu_now();
      opt.zero_grad();
      torch::Tensor out = model->forward(xb);
      double f = twin::cpu_now();
      torch::Tensor loss = F::cross_entropy(out, yb);
      double l = twin::cpu_now();
      sum += loss.item<double>() * idx.size(0);
      double i = twin::cpu_now();
      loss.backward();
      double k = twin::cpu_now();
      opt.step();
      double s = twin::cpu_now();
      double d[6] = {b - a, f - b, l - f, i - l, k - i, s - k};
      for (int p = 0; p < 6; p++) acc[p] += d[p];
    }
    if (r == 0) continue;
    total.push_back(twin::cpu_now() - t0);
    for (int p = 0; p < 6; p++) phase[p].push_back(acc[p]);
    mean = sum / n;
  }
  std::printf("%s epoch (C++): %ld steps, loss %.6g\n", cnn ? "cnn" : "mlp", (long)steps, mean);
  std::printf("phases       %8.3f s  %7.1f us/step\n", twin::median(total), twin::median(total) / steps * 1e6);
  for (int p = 0; p < 6; p++)
    std::printf("  %-10s %8.3f s  %7.1f us/step\n", names[p], twin::median(phase[p]),
                twin::median(phase[p]) / steps * 1e6);
  return 0;
}
