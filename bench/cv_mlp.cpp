// cv_mlp, libtorch C++ twin: 5-fold stratified cross-validation of the MLP
// 784-256-128-10 on the first 10000 Fashion-MNIST training images, one
// epoch per fold, written as a plain loop: clara.cv's stratified folds
// (each class shuffled with clara's generator, dealt round-robin: the same
// folds), per fold a fresh model trained on the other folds with clara's
// shuffle (the same batches), then the held-out fold evaluated once (loss,
// accuracy) in batches of 128.  Timed: all of it.  CHECK: the mean
// held-out loss over the folds.  Settings: BENCH_ROWS, BENCH_REPS.
#include <torch/torch.h>

#include "data.h"
#include "loop.h"
#include "twin.h"

namespace F = torch::nn::functional;

// clara.cv.stratified_kfold(labels, {k, seed}): the fold (1..k) of each sample
static std::vector<int> stratified_folds(const torch::Tensor &y, int k, uint64_t seed) {
  int64_t n = y.size(0);
  const int64_t *lab = y.data_ptr<int64_t>();
  std::map<int64_t, std::vector<int64_t>> by_class;
  for (int64_t i = 0; i < n; i++) by_class[lab[i]].push_back(i);
  uint64_t s = data::mix(seed);
  const double scale = std::ldexp(1.0, -53);
  std::vector<int> folds(n);
  int64_t j = 0;
  for (auto &[c, l] : by_class) {
    for (int64_t i = (int64_t)l.size(); i >= 2; i--) {  // rng.lua's shuffle, one stream for all classes
      s += data::GOLDEN;
      int64_t r = (int64_t)std::floor((double)(data::mix(s) >> 11) * scale * (double)i) + 1;
      std::swap(l[i - 1], l[r - 1]);
    }
    for (int64_t i : l) folds[i] = (int)(j++ % k) + 1;
  }
  return folds;
}

int main() {
  const int64_t rows = twin::setting("BENCH_ROWS", 10000), bs = 128;
  const int K = 5;
  torch::set_num_threads(1);
  auto [x, y] = data::fashion_mnist(rows);
  const int64_t n = x.size(0);

  // one fold: train one epoch on `train` (0-based rows), evaluate `val`
  auto fold = [&](const torch::Tensor &train, const torch::Tensor &val, int64_t max_steps) {
    torch::manual_seed(1);
    torch::nn::Linear l1(784, 256);  // one statement each: argument order is unspecified
    torch::nn::Linear l2(256, 128);
    torch::nn::Linear l3(128, 10);
    torch::nn::Sequential model(l1, torch::nn::ReLU(), l2, torch::nn::ReLU(), l3);
    torch::optim::SGD opt(model->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
    loop::epoch(model, opt, x, y, train.index_select(0, data::permutation(train.size(0), 1, 1)), bs, max_steps);
    torch::NoGradGuard no_grad;
    double sum = 0, correct = 0;
    int64_t nv = val.size(0);
    for (int64_t start = 0; start < nv; start += bs) {
      torch::Tensor idx = val.narrow(0, start, std::min(bs, nv - start));
      torch::Tensor out = model->forward(x.index_select(0, idx)), yb = y.index_select(0, idx);
      sum += F::cross_entropy(out, yb).item<double>() * idx.size(0);
      correct += out.argmax(1).eq(yb).sum().item<double>();
    }
    return std::pair<double, double>{sum / nv, correct / nv};
  };

  auto cv = [&](int64_t max_steps) {
    std::vector<int> folds = stratified_folds(y, K, 1);
    double loss_sum = 0;
    for (int f = 1; f <= K; f++) {
      std::vector<int64_t> tr, va;
      for (int64_t i = 0; i < n; i++) (folds[i] == f ? va : tr).push_back(i);
      auto [loss, acc] = fold(torch::tensor(tr, torch::kLong), torch::tensor(va, torch::kLong), max_steps);
      (void)acc;
      loss_sum += loss;
    }
    return loss_sum / K;
  };

  twin::serve("cv_mlp", [&] { return twin::Rep{cv(INT64_MAX)}; }, 1, [&] { cv(10); },
              (int)twin::setting("BENCH_REPS", 5));
  return 0;
}
