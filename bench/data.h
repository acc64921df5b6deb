// bench/data.h: what the C++ twins share with clara's Lua side, so they do
// the same work: Fashion-MNIST read from Debian's IDX files and scaled to
// [0,1] float32 exactly as bench/data.lua does, and the shuffle of
// clara.data.rng (SplitMix64 Fisher-Yates), so a C++ epoch visits the
// batches in clara's order and the losses agree to the last digit.
#pragma once

#include <torch/torch.h>
#include <zlib.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace data {

// the whole decompressed content of a .gz file
inline std::vector<uint8_t> gunzip(const std::string &path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw std::runtime_error("cannot open " + path);
  std::vector<uint8_t> out;
  uint8_t buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.insert(out.end(), buf, buf + n);
  gzclose(f);
  if (n < 0) throw std::runtime_error("cannot read " + path);
  return out;
}

// an IDX file of unsigned bytes, as a uint8 tensor of its shape
inline torch::Tensor read_idx(const std::string &path) {
  std::vector<uint8_t> b = gunzip(path);
  if (b.size() < 4 || b[0] || b[1] || b[2] != 0x08) throw std::runtime_error(path + ": not a uint8 IDX file");
  int nd = b[3];
  std::vector<int64_t> dims;
  size_t pos = 4;
  for (int i = 0; i < nd; i++, pos += 4)
    dims.push_back((int64_t)b[pos] << 24 | b[pos + 1] << 16 | b[pos + 2] << 8 | b[pos + 3]);
  torch::Tensor t = torch::empty(dims, torch::kUInt8);
  std::memcpy(t.data_ptr(), b.data() + pos, t.numel());
  return t;
}

inline std::string dir() {
  const char *d = std::getenv("CLARA_DATA");
  return d && *d ? d : "/usr/share/datasets/fashion-mnist";
}

// the first `rows` training images as (rows, 784) float32 in [0,1], labels int64
inline std::pair<torch::Tensor, torch::Tensor> fashion_mnist(int64_t rows, bool flat = true) {
  torch::Tensor x = read_idx(dir() + "/train-images-idx3-ubyte.gz");
  torch::Tensor y = read_idx(dir() + "/train-labels-idx1-ubyte.gz").to(torch::kLong);
  rows = std::min<int64_t>(rows, x.size(0));
  x = x.narrow(0, 0, rows).to(torch::kFloat).div(255);
  x = flat ? x.reshape({rows, 784}).contiguous() : x.reshape({rows, 1, 28, 28}).contiguous();
  return {x, y.narrow(0, 0, rows).contiguous()};
}

// clara.data.rng: SplitMix64; new(seed, stream), then a Fisher-Yates
// shuffle of 0..n-1 (the same arithmetic as rng.lua, step for step)
constexpr uint64_t GOLDEN = 0x9E3779B97F4A7C15ULL;
inline uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}
inline torch::Tensor permutation(int64_t n, uint64_t seed, uint64_t stream) {
  uint64_t s = mix(mix(seed) ^ (stream * GOLDEN));
  torch::Tensor t = torch::empty({n}, torch::kLong);
  int64_t *p = t.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; i++) p[i] = i;
  const double scale = std::ldexp(1.0, -53);
  for (int64_t i = n; i >= 2; i--) {
    s += GOLDEN;
    int64_t j = (int64_t)std::floor((double)(mix(s) >> 11) * scale * (double)i) + 1;
    std::swap(p[i - 1], p[j - 1]);
  }
  return t;
}

}  // namespace data
