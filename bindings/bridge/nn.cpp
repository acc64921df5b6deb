// nn.cpp: libtorch's own nn modules behind one opaque handle.
//
// A handle keeps the module alive (shared_ptr), a forward function that
// adapts the module's C++ signature to "tensors in, tensors out", and the
// module's parameters and buffers listed once: the Lua side fetches each
// one a single time, as a handle aliasing the module's own tensor.
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/modules/pooling.h>
#include <torch/nn/modules/rnn.h>

#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "internal.h"

using namespace bridge;
namespace nn = torch::nn;

using Forward = std::function<int(at::Tensor *outs, const th_tensor *ins, int nin)>;

struct th_module_s {
  std::shared_ptr<nn::Module> module;
  Forward forward;
  std::vector<std::pair<std::string, at::Tensor>> tensors[2]; // params, buffers
};

namespace {

void expect_inputs(int nin, int lo, int hi) {
  if (nin < lo || nin > hi)
    throw std::invalid_argument("expected " + std::to_string(lo) +
                                (hi > lo ? " to " + std::to_string(hi) : "") +
                                " input tensor(s), got " + std::to_string(nin));
}

// undefined tensors stand for "no bias", "not affine": PyTorch's None
th_module finish(std::shared_ptr<nn::Module> module, Forward fwd) {
  auto m = new th_module_s;
  m->module = std::move(module);
  m->forward = std::move(fwd);
  for (auto &p : m->module->named_parameters(true))
    if (p.value().defined()) m->tensors[0].emplace_back(p.key(), p.value());
  for (auto &b : m->module->named_buffers(true))
    if (b.value().defined()) m->tensors[1].emplace_back(b.key(), b.value());
  return m;
}

// the common case: one tensor in, one tensor out
template <class Holder> th_module unary(Holder h) {
  return finish(h.ptr(), [h](at::Tensor *outs, const th_tensor *ins, int nin) mutable {
    expect_inputs(nin, 1, 1);
    outs[0] = h->forward(T(ins[0]));
    return 1;
  });
}

template <size_t D> torch::ExpandingArray<D> arr(const int64_t *v) {
  return torch::ExpandingArray<D>(at::IntArrayRef(v, D));
}

// {=================== convolutions ===================

template <class Opt> void set_padding_mode(Opt &opt, int mode) {
  switch (mode) {
  case TH_PAD_ZEROS: opt.padding_mode(torch::kZeros); break;
  case TH_PAD_REFLECT: opt.padding_mode(torch::kReflect); break;
  case TH_PAD_REPLICATE: opt.padding_mode(torch::kReplicate); break;
  case TH_PAD_CIRCULAR: opt.padding_mode(torch::kCircular); break;
  default: throw std::invalid_argument("unknown padding_mode");
  }
}

template <size_t D, class Conv, class ConvT> th_module conv(const th_conv_options *o) {
  if (o->transposed) {
    nn::ConvTransposeOptions<D> opt(o->in_channels, o->out_channels, arr<D>(o->kernel_size));
    opt.stride(arr<D>(o->stride)).padding(arr<D>(o->padding))
        .output_padding(arr<D>(o->output_padding)).dilation(arr<D>(o->dilation))
        .groups(o->groups).bias(o->bias);
    set_padding_mode(opt, o->padding_mode);
    return unary(ConvT(opt));
  }
  nn::ConvOptions<D> opt(o->in_channels, o->out_channels, arr<D>(o->kernel_size));
  opt.stride(arr<D>(o->stride)).dilation(arr<D>(o->dilation)).groups(o->groups).bias(o->bias);
  if (o->padding_string == TH_PADDING_SAME) opt.padding(torch::kSame);
  else if (o->padding_string == TH_PADDING_VALID) opt.padding(torch::kValid);
  else opt.padding(arr<D>(o->padding));
  set_padding_mode(opt, o->padding_mode);
  return unary(Conv(opt));
}

// }======================================================

// {=================== pooling ===================

template <size_t D, class Max, class Avg> th_module pool(const th_pool_options *o) {
  if (o->kind == TH_MAX_POOL) {
    nn::MaxPoolOptions<D> opt(arr<D>(o->kernel_size));
    opt.stride(arr<D>(o->stride)).padding(arr<D>(o->padding))
        .dilation(arr<D>(o->dilation)).ceil_mode(o->ceil_mode);
    return unary(Max(opt));
  }
  nn::AvgPoolOptions<D> opt(arr<D>(o->kernel_size));
  opt.stride(arr<D>(o->stride)).padding(arr<D>(o->padding))
      .ceil_mode(o->ceil_mode).count_include_pad(o->count_include_pad);
  if (o->divisor_override != 0) opt.divisor_override(o->divisor_override);
  return unary(Avg(opt));
}

// adaptive pools take an output size whose entries may be None (-1)
template <size_t D> torch::ExpandingArrayWithOptionalElem<D> opt_sizes(const int64_t *v) {
  std::vector<c10::optional<int64_t>> s;
  for (size_t i = 0; i < D; i++) s.push_back(v[i] < 0 ? c10::nullopt : c10::optional<int64_t>(v[i]));
  return torch::ExpandingArrayWithOptionalElem<D>(at::ArrayRef<c10::optional<int64_t>>(s));
}

th_module adaptive(const th_pool_options *o) {
  bool avg = o->kind == TH_ADAPTIVE_AVG_POOL;
  const int64_t *k = o->kernel_size;
  switch (o->dims) {
  case 1:
    if (avg) return unary(nn::AdaptiveAvgPool1d(nn::AdaptiveAvgPool1dOptions(k[0])));
    return unary(nn::AdaptiveMaxPool1d(nn::AdaptiveMaxPool1dOptions(k[0])));
  case 2:
    if (avg) return unary(nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions(opt_sizes<2>(k))));
    return unary(nn::AdaptiveMaxPool2d(nn::AdaptiveMaxPool2dOptions(opt_sizes<2>(k))));
  case 3:
    if (avg) return unary(nn::AdaptiveAvgPool3d(nn::AdaptiveAvgPool3dOptions(opt_sizes<3>(k))));
    return unary(nn::AdaptiveMaxPool3d(nn::AdaptiveMaxPool3dOptions(opt_sizes<3>(k))));
  }
  throw std::invalid_argument("pooling dims must be 1, 2 or 3");
}

// }======================================================

// {=================== recurrent ===================

template <class Opt> Opt rnn_options(Opt opt, const th_rnn_options *o) {
  return opt.num_layers(o->num_layers).bias(o->bias).batch_first(o->batch_first)
      .dropout(o->dropout).bidirectional(o->bidirectional);
}

th_module lstm(const th_rnn_options *o) {
  auto opt = rnn_options(nn::LSTMOptions(o->input_size, o->hidden_size), o);
  nn::LSTM h(opt.proj_size(o->proj_size));
  return finish(h.ptr(), [h](at::Tensor *outs, const th_tensor *ins, int nin) mutable {
    expect_inputs(nin, 1, 3);
    if (nin == 2) throw std::invalid_argument("LSTM state needs both h and c");
    c10::optional<std::tuple<at::Tensor, at::Tensor>> state;
    if (nin == 3) state = std::make_tuple(T(ins[1]), T(ins[2]));
    auto r = h->forward(T(ins[0]), state);
    outs[0] = std::get<0>(r);
    outs[1] = std::get<0>(std::get<1>(r));
    outs[2] = std::get<1>(std::get<1>(r));
    return 3;
  });
}

// GRU and the plain RNN share a signature: (input[, h]) -> (output, h)
template <class Holder> th_module gru_like(Holder h) {
  return finish(h.ptr(), [h](at::Tensor *outs, const th_tensor *ins, int nin) mutable {
    expect_inputs(nin, 1, 2);
    auto r = h->forward(T(ins[0]), nin == 2 ? T(ins[1]) : at::Tensor());
    outs[0] = std::get<0>(r);
    outs[1] = std::get<1>(r);
    return 2;
  });
}

// }======================================================

} // namespace

extern "C" {

int th_linear_new(th_module *out, int64_t in_features, int64_t out_features, int bias) {
  PROTECT(*out = unary(nn::Linear(nn::LinearOptions(in_features, out_features).bias(bias)));)
}

int th_bilinear_new(th_module *out, int64_t in1, int64_t in2, int64_t out_features, int bias) {
  PROTECT(
    nn::Bilinear h(nn::BilinearOptions(in1, in2, out_features).bias(bias));
    *out = finish(h.ptr(), [h](at::Tensor *outs, const th_tensor *ins, int nin) mutable {
      expect_inputs(nin, 2, 2);
      outs[0] = h->forward(T(ins[0]), T(ins[1]));
      return 1;
    });
  )
}

int th_conv_new(th_module *out, const th_conv_options *o) {
  PROTECT(
    switch (o->dims) {
    case 1: *out = conv<1, nn::Conv1d, nn::ConvTranspose1d>(o); break;
    case 2: *out = conv<2, nn::Conv2d, nn::ConvTranspose2d>(o); break;
    case 3: *out = conv<3, nn::Conv3d, nn::ConvTranspose3d>(o); break;
    default: throw std::invalid_argument("convolution dims must be 1, 2 or 3");
    }
  )
}

int th_pool_new(th_module *out, const th_pool_options *o) {
  PROTECT(
    if (o->kind == TH_ADAPTIVE_AVG_POOL || o->kind == TH_ADAPTIVE_MAX_POOL) {
      *out = adaptive(o);
    } else {
      switch (o->dims) {
      case 1: *out = pool<1, nn::MaxPool1d, nn::AvgPool1d>(o); break;
      case 2: *out = pool<2, nn::MaxPool2d, nn::AvgPool2d>(o); break;
      case 3: *out = pool<3, nn::MaxPool3d, nn::AvgPool3d>(o); break;
      default: throw std::invalid_argument("pooling dims must be 1, 2 or 3");
      }
    }
  )
}

int th_batchnorm_new(th_module *out, int dims, int64_t num_features, double eps,
                     double momentum, int affine, int track_running_stats) {
  PROTECT(
    nn::BatchNormOptions opt(num_features);
    opt.eps(eps).affine(affine).track_running_stats(track_running_stats);
    if (momentum < 0) opt.momentum(c10::nullopt);
    else opt.momentum(momentum);
    switch (dims) {
    case 1: *out = unary(nn::BatchNorm1d(opt)); break;
    case 2: *out = unary(nn::BatchNorm2d(opt)); break;
    case 3: *out = unary(nn::BatchNorm3d(opt)); break;
    default: throw std::invalid_argument("batch norm dims must be 1, 2 or 3");
    }
  )
}

int th_layernorm_new(th_module *out, const int64_t *shape, int n, double eps,
                     int elementwise_affine) {
  PROTECT(
    std::vector<int64_t> s(shape, shape + n);
    *out = unary(nn::LayerNorm(nn::LayerNormOptions(s).eps(eps).elementwise_affine(elementwise_affine)));
  )
}

int th_groupnorm_new(th_module *out, int64_t num_groups, int64_t num_channels, double eps,
                     int affine) {
  PROTECT(*out = unary(nn::GroupNorm(nn::GroupNormOptions(num_groups, num_channels).eps(eps).affine(affine)));)
}

int th_dropout_new(th_module *out, double p, int inplace) {
  PROTECT(*out = unary(nn::Dropout(nn::DropoutOptions(p).inplace(inplace)));)
}

int th_embedding_new(th_module *out, int64_t num_embeddings, int64_t embedding_dim,
                     int64_t padding_idx, double max_norm, double norm_type,
                     int scale_grad_by_freq) {
  PROTECT(
    nn::EmbeddingOptions opt(num_embeddings, embedding_dim);
    if (padding_idx != TH_NODIM) opt.padding_idx(padding_idx);
    if (max_norm >= 0) opt.max_norm(max_norm);
    opt.norm_type(norm_type).scale_grad_by_freq(scale_grad_by_freq);
    *out = unary(nn::Embedding(opt));
  )
}

int th_rnn_new(th_module *out, const th_rnn_options *o) {
  PROTECT(
    switch (o->mode) {
    case TH_LSTM: *out = lstm(o); break;
    case TH_GRU: *out = gru_like(nn::GRU(rnn_options(nn::GRUOptions(o->input_size, o->hidden_size), o))); break;
    case TH_RNN_TANH:
    case TH_RNN_RELU: {
      auto opt = rnn_options(nn::RNNOptions(o->input_size, o->hidden_size), o);
      if (o->mode == TH_RNN_RELU) opt.nonlinearity(torch::kReLU);
      *out = gru_like(nn::RNN(opt));
      break;
    }
    default: throw std::invalid_argument("unknown recurrent mode");
    }
  )
}

int th_activation_new(th_module *out, int kind, double param, int inplace) {
  PROTECT(
    switch (kind) {
    case TH_ACT_IDENTITY: *out = unary(nn::Identity()); break;
    case TH_ACT_RELU: *out = unary(nn::ReLU(nn::ReLUOptions(inplace))); break;
    case TH_ACT_LEAKY_RELU:
      *out = unary(nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(param).inplace(inplace)));
      break;
    case TH_ACT_GELU: *out = unary(nn::GELU()); break;
    case TH_ACT_GELU_TANH: *out = unary(nn::GELU(nn::GELUOptions().approximate("tanh"))); break;
    case TH_ACT_SILU: *out = unary(nn::SiLU()); break;
    case TH_ACT_ELU: *out = unary(nn::ELU(nn::ELUOptions().alpha(param).inplace(inplace))); break;
    case TH_ACT_TANH: *out = unary(nn::Tanh()); break;
    case TH_ACT_SIGMOID: *out = unary(nn::Sigmoid()); break;
    case TH_ACT_SOFTMAX: *out = unary(nn::Softmax(nn::SoftmaxOptions((int64_t)param))); break;
    case TH_ACT_LOG_SOFTMAX:
      *out = unary(nn::LogSoftmax(nn::LogSoftmaxOptions((int64_t)param)));
      break;
    default: throw std::invalid_argument("unknown activation");
    }
  )
}

int th_flatten_new(th_module *out, int64_t start_dim, int64_t end_dim) {
  PROTECT(*out = unary(nn::Flatten(nn::FlattenOptions().start_dim(start_dim).end_dim(end_dim)));)
}

int th_unflatten_new(th_module *out, int64_t dim, const int64_t *sizes, int n) {
  PROTECT(*out = unary(nn::Unflatten(nn::UnflattenOptions(dim, std::vector<int64_t>(sizes, sizes + n))));)
}

void th_module_free(th_module m) { delete m; }

} // extern "C"

namespace {

// the module's own dictionary of parameters (protected in nn::Module): a
// pointer to member named through a derived class may reach it
struct ParamDict : nn::Module {
  static torch::OrderedDict<std::string, at::Tensor> &of(nn::Module &m) {
    return m.*(&ParamDict::parameters_);
  }
};

// the member forward reads, for the modules whose forward reads members
template <class Impl> at::Tensor *bias_of(Impl *impl) { return &impl->bias; }
at::Tensor *bias_of(nn::EmbeddingImpl *) { return nullptr; }

template <class Impl> at::Tensor *member_of(nn::Module *m, const std::string &name) {
  auto *impl = dynamic_cast<Impl *>(m);
  if (impl == nullptr) return nullptr;
  if (name == "weight") return &impl->weight;
  if (name == "bias") return bias_of(impl);
  return nullptr;
}

at::Tensor *member(nn::Module *m, const std::string &name) {
  at::Tensor *t = nullptr;
  (t = member_of<nn::LinearImpl>(m, name)) || (t = member_of<nn::BilinearImpl>(m, name)) ||
      (t = member_of<nn::EmbeddingImpl>(m, name)) || (t = member_of<nn::Conv1dImpl>(m, name)) ||
      (t = member_of<nn::Conv2dImpl>(m, name)) || (t = member_of<nn::Conv3dImpl>(m, name)) ||
      (t = member_of<nn::ConvTranspose1dImpl>(m, name)) ||
      (t = member_of<nn::ConvTranspose2dImpl>(m, name)) ||
      (t = member_of<nn::ConvTranspose3dImpl>(m, name)) ||
      (t = member_of<nn::BatchNorm1dImpl>(m, name)) || (t = member_of<nn::BatchNorm2dImpl>(m, name)) ||
      (t = member_of<nn::BatchNorm3dImpl>(m, name)) || (t = member_of<nn::LayerNormImpl>(m, name)) ||
      (t = member_of<nn::GroupNormImpl>(m, name));
  return t;
}

} // namespace

extern "C" {

int th_module_set_parameter(th_module m, const char *name, th_tensor value) {
  PROTECT(
    const at::Tensor &v = T(value);
    auto &dict = ParamDict::of(*m->module);
    const at::Tensor *old = dict.find(name);
    at::Tensor *field = member(m->module.get(), name);
    if (old == nullptr || !old->defined() || field == nullptr)
      throw std::invalid_argument(std::string("this module's forward reads no parameter '") + name +
                                  "' that can be replaced");
    if (old->sizes() != v.sizes() || old->scalar_type() != v.scalar_type())
      throw std::invalid_argument(std::string("the new '") + name + "' must have the shape " +
                                  c10::str(old->sizes()) + " and dtype of the old one, got " +
                                  c10::str(v.sizes()) + " " + c10::toString(v.scalar_type()));
    dict[name] = v;
    *field = v;
    for (auto &entry : m->tensors[0])
      if (entry.first == name) entry.second = v;
  )
}

int th_module_forward(th_tensor *outs, th_module m, const th_tensor *ins, int nin) {
  PROTECT_RET(-1,
    at::Tensor r[TH_MODULE_MAX_IO];
    int n = m->forward(r, ins, nin);
    for (int i = 0; i < n; i++) outs[i] = wrap(std::move(r[i]));
    return n;
  )
}

int th_module_train(th_module m, int mode) { PROTECT(m->module->train(mode != 0);) }

int th_module_count(th_module m, int buffers) {
  return (int)m->tensors[buffers ? 1 : 0].size();
}

int th_module_tensor(th_tensor *out, char *name, size_t size, th_module m, int buffers, int i) {
  PROTECT(
    auto &list = m->tensors[buffers ? 1 : 0];
    if (i < 0 || (size_t)i >= list.size()) throw std::out_of_range("no such parameter or buffer");
    snprintf(name, size, "%s", list[i].first.c_str());
    at::Tensor alias = list[i].second;
    *out = wrap(std::move(alias));
  )
}

} // extern "C"
