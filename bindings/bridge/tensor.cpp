// tensor.cpp: the bridge's core: errors, global state, tensor lifetime and
// inspection, creation, conversion and autograd.
#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>
#include <torch/csrc/autograd/function.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <cstring>
#include <stdexcept>

#include "internal.h"

namespace bridge {

static thread_local std::string last_error;

void set_error(const char *msg) { last_error = msg ? msg : "(null)"; }

static const at::ScalarType kTypes[TH_NDTYPES] = {
    at::kFloat, at::kDouble, at::kLong, at::kInt,  at::kShort,
    at::kChar,  at::kByte,   at::kBool, at::kHalf, at::kBFloat16};

at::ScalarType scalar_type(int dtype) {
  if (dtype == TH_DTYPE_DEFAULT) return at::kFloat;
  if (dtype < 0 || dtype >= TH_NDTYPES)
    throw std::invalid_argument("invalid dtype code " + std::to_string(dtype));
  return kTypes[dtype];
}

int dtype_of(at::ScalarType st) {
  for (int i = 0; i < TH_NDTYPES; i++)
    if (kTypes[i] == st) return i;
  return -1;
}

static const char kNoCUDA[] =
    "clara was built with a libtorch without CUDA: device '%s' is not available "
    "(LIBTORCH=<dir> builds against a CUDA libtorch)";

static std::string no_cuda(const std::string &name) {
  char msg[256];
  snprintf(msg, sizeof msg, kNoCUDA, name.c_str());
  return msg;
}

at::Device device_of(int code) {
  if (code == TH_CPU) return at::Device(at::kCPU);
  if (!at::hasCUDA()) throw std::runtime_error(no_cuda(code == TH_CUDA ? "cuda" : "cuda:" +
                                                       std::to_string(code - TH_CUDA_INDEX(0))));
  if (code == TH_CUDA) return at::Device(at::kCUDA);
  return at::Device(at::kCUDA, (c10::DeviceIndex)(code - TH_CUDA_INDEX(0)));
}

int device_code(const at::Device &d) {
  if (d.is_cpu()) return TH_CPU;
  if (d.is_cuda()) return d.has_index() ? TH_CUDA_INDEX(d.index()) : TH_CUDA;
  throw std::runtime_error("tensor on device '" + d.str() + "', which clara does not handle");
}

at::TensorOptions options(const th_options &o) {
  return at::TensorOptions().dtype(scalar_type(o.dtype)).device(device_of(o.device));
}

at::Scalar to_scalar(const th_scalar &s) {
  switch (s.kind) {
  case TH_SCALAR_INT: return at::Scalar(s.i);
  case TH_SCALAR_BOOL: return at::Scalar(s.i != 0);
  default: return at::Scalar(s.f);
  }
}

at::IntArrayRef dims(const int64_t *v, int n) { return at::IntArrayRef(v, n); }

static at::Tensor finish(at::Tensor t, const th_options &o) {
  if (o.requires_grad) t.set_requires_grad(true);
  return t;
}

} // namespace bridge

using namespace bridge;

extern "C" {

/* errors, versions, global state */

const char *th_last_error(void) { return last_error.c_str(); }

const char *th_version(void) { return TORCH_VERSION; }

int th_manual_seed(uint64_t seed) { PROTECT(at::manual_seed(seed);) }

int th_seed(uint64_t *out) {
  PROTECT(*out = at::detail::getDefaultCPUGenerator().current_seed();)
}

int th_set_num_threads(int n) {
  PROTECT(if (n < 1) throw std::invalid_argument(
              "number of threads must be positive");
          at::set_num_threads(n);)
}

int th_get_num_threads(void) { PROTECT_RET(-1, return at::get_num_threads();) }

int th_cuda_is_available(void) { PROTECT_RET(0, return torch::cuda::is_available();) }

int th_parse_device(int *code, const char *name) {
  PROTECT(
    at::Device d(at::kCPU);
    try {
      d = at::Device(std::string(name));
    } catch (const c10::Error &) {
      throw std::invalid_argument(std::string("unknown device '") + name +
                                  "' (expected 'cpu', 'cuda' or 'cuda:<index>')");
    }
    if (!d.is_cpu() && !d.is_cuda())
      throw std::invalid_argument(std::string("device '") + name +
                                  "' is not supported by clara ('cpu' or 'cuda')");
    if (d.is_cuda()) {
      if (!at::hasCUDA()) throw std::runtime_error(no_cuda(name));
      int64_t n = (int64_t)torch::cuda::device_count();
      if (n == 0 || (d.has_index() && d.index() >= n))
        throw std::runtime_error(std::string("device '") + name + "' is not available: " +
                                 std::to_string(n) + " CUDA device(s) visible");
    }
    *code = device_code(d);)
}

void th_device_name(char *buf, size_t size, int code) {
  if (code == TH_CPU) snprintf(buf, size, "cpu");
  else if (code == TH_CUDA) snprintf(buf, size, "cuda");
  else snprintf(buf, size, "cuda:%d", code - TH_CUDA_INDEX(0));
}

int th_test_throw(int kind) {
  PROTECT(if (kind == 0) TORCH_CHECK(false, "c10 error for the test");
          if (kind == 1) throw std::runtime_error("runtime error for the test");
          if (kind == 2) throw 42;)
}

/* lifetime and inspection */

void th_free(th_tensor t) { delete reinterpret_cast<at::Tensor *>(t); }

int th_alias(th_tensor *out, th_tensor t) {
  PROTECT(*out = wrap(at::Tensor(T(t)));)
}

int th_dim(th_tensor t) { PROTECT_RET(-1, return (int)T(t).dim();) }

int th_sizes(th_tensor t, int64_t *sizes) {
  PROTECT_RET(-1, auto s = T(t).sizes();
              if (s.size() > TH_MAX_DIMS) throw std::length_error("too many dims");
              for (size_t i = 0; i < s.size(); i++) sizes[i] = s[i];
              return (int)s.size();)
}

int th_strides(th_tensor t, int64_t *strides) {
  PROTECT_RET(-1, auto s = T(t).strides();
              if (s.size() > TH_MAX_DIMS) throw std::length_error("too many dims");
              for (size_t i = 0; i < s.size(); i++) strides[i] = s[i];
              return (int)s.size();)
}

int th_dtype(th_tensor t) { PROTECT_RET(-1, return dtype_of(T(t).scalar_type());) }

int th_device(th_tensor t) {
  PROTECT_RET(-1, return device_code(T(t).device());)
}

int th_set_data(th_tensor t, th_tensor v) {
  PROTECT(T(t).set_data(T(v));)
}

int64_t th_numel(th_tensor t) { PROTECT_RET(-1, return T(t).numel();) }

int64_t th_nbytes(th_tensor t) {
  PROTECT_RET(-1, const at::Tensor &x = T(t);
              return x.has_storage() ? (int64_t)x.storage().nbytes() : 0;)
}

int th_is_contiguous(th_tensor t) { PROTECT_RET(-1, return T(t).is_contiguous();) }

const void *th_data_ptr(th_tensor t) { PROTECT_RET(nullptr, return T(t).data_ptr();) }

const char *th_dtype_name(int dtype) {
  static const char *names[TH_NDTYPES] = {
      "float32", "float64", "int64", "int32", "int16",
      "int8",    "uint8",   "bool",  "float16", "bfloat16"};
  return dtype >= 0 && dtype < TH_NDTYPES ? names[dtype] : "unknown";
}

/* creation */

int th_new(th_tensor *out, int kind, const int64_t *sizes, int ndim,
           th_options opt) {
  PROTECT(auto o = options(opt); auto s = dims(sizes, ndim); at::Tensor t;
          switch (kind) {
            case TH_NEW_ZEROS: t = at::zeros(s, o); break;
            case TH_NEW_ONES: t = at::ones(s, o); break;
            case TH_NEW_RAND: t = at::rand(s, o); break;
            case TH_NEW_RANDN: t = at::randn(s, o); break;
            default: t = at::empty(s, o); break;
          } *out = wrap(finish(t, opt));)
}

int th_full(th_tensor *out, const int64_t *sizes, int ndim, th_scalar value,
            th_options opt) {
  PROTECT(*out = wrap(finish(
              at::full(dims(sizes, ndim), to_scalar(value), options(opt)), opt));)
}

int th_from_data(th_tensor *out, const void *data, int src_dtype,
                 const int64_t *sizes, int ndim, th_options opt) {
  PROTECT(auto src = at::from_blob(const_cast<void *>(data), dims(sizes, ndim),
                                   at::TensorOptions().dtype(scalar_type(src_dtype)));
          auto o = options(opt);
          at::Tensor t = src.to(o.device(), o.dtype().toScalarType(), false, true);
          *out = wrap(finish(t, opt));)
}

int th_scalar_tensor(th_tensor *out, th_scalar s) {
  PROTECT(at::Tensor t = c10::scalar_to_tensor(to_scalar(s));
          t.unsafeGetTensorImpl()->set_wrapped_number(true);
          *out = wrap(std::move(t));)
}

int th_arange(th_tensor *out, th_scalar start, th_scalar end, th_scalar step,
              th_options opt) {
  PROTECT(at::TensorOptions o = options(opt);
          if (opt.dtype == TH_DTYPE_DEFAULT) {
            bool ints = start.kind != TH_SCALAR_FLOAT &&
                        end.kind != TH_SCALAR_FLOAT && step.kind != TH_SCALAR_FLOAT;
            o = o.dtype(ints ? at::kLong : at::kFloat);
          } *out = wrap(finish(at::arange(to_scalar(start), to_scalar(end),
                                          to_scalar(step), o), opt));)
}

int th_linspace(th_tensor *out, double start, double end, int64_t steps,
                th_options opt) {
  PROTECT(*out = wrap(finish(at::linspace(start, end, steps, options(opt)), opt));)
}

int th_eye(th_tensor *out, int64_t n, int64_t m, th_options opt) {
  PROTECT(*out = wrap(finish(at::eye(n, m, options(opt)), opt));)
}

int th_randint(th_tensor *out, int64_t low, int64_t high, const int64_t *sizes,
               int ndim, th_options opt) {
  PROTECT(at::TensorOptions o = options(opt);
          if (opt.dtype == TH_DTYPE_DEFAULT) o = o.dtype(at::kLong);
          *out = wrap(finish(at::randint(low, high, dims(sizes, ndim), o), opt));)
}

int th_randperm(th_tensor *out, int64_t n, th_options opt) {
  PROTECT(at::TensorOptions o = options(opt);
          if (opt.dtype == TH_DTYPE_DEFAULT) o = o.dtype(at::kLong);
          *out = wrap(finish(at::randperm(n, o), opt));)
}

/* conversion and data */

int th_to(th_tensor *out, th_tensor t, int dtype, int device) {
  PROTECT(th_options o = {dtype, device, 0}; auto opts = options(o);
          if (dtype == TH_DTYPE_DEFAULT) opts = opts.dtype(T(t).scalar_type());
          *out = wrap(T(t).to(opts.device(), opts.dtype().toScalarType()));)
}

int th_item(th_scalar *out, th_tensor t) {
  PROTECT(at::Scalar s = T(t).item();
          if (s.isBoolean()) { out->kind = TH_SCALAR_BOOL; out->i = s.toBool(); }
          else if (s.isIntegral(false)) { out->kind = TH_SCALAR_INT; out->i = s.toLong(); }
          else { out->kind = TH_SCALAR_FLOAT; out->f = s.toDouble(); })
}

int th_contiguous_as(th_tensor *out, th_tensor t, int dtype) {
  PROTECT(*out = wrap(T(t).detach().to(at::kCPU, scalar_type(dtype)).contiguous());)
}

/* autograd */

int th_requires_grad(th_tensor t) { PROTECT_RET(-1, return T(t).requires_grad();) }

int th_set_requires_grad(th_tensor t, int flag) {
  PROTECT(T(t).requires_grad_(flag != 0);)
}

int th_is_leaf(th_tensor t) { PROTECT_RET(-1, return T(t).is_leaf();) }

int th_grad(th_tensor *out, th_tensor t) {
  PROTECT(const at::Tensor &g = T(t).grad();
          *out = g.defined() ? wrap(at::Tensor(g)) : nullptr;)
}

int th_set_grad(th_tensor t, th_tensor g) {
  PROTECT(if (g) { // the checks Python's `x.grad = g` makes
            TORCH_CHECK(T(g).sizes() == T(t).sizes(), "assigned grad has data of a different size");
            TORCH_CHECK(T(g).scalar_type() == T(t).scalar_type(),
                        "assigned grad has data of a different type");
            TORCH_CHECK(T(g).device() == T(t).device(), "assigned grad has data on a different device");
          }
          T(t).mutable_grad() = g ? T(g) : at::Tensor();)
}

int th_retain_grad(th_tensor t) { PROTECT(T(t).retain_grad();) }

int th_backward(th_tensor t, th_tensor grad, int retain_graph, int create_graph) {
  PROTECT(T(t).backward(grad ? T(grad) : at::Tensor(),
                        retain_graph ? c10::optional<bool>(true) : c10::nullopt,
                        create_graph != 0);)
}

int th_backward_inputs(th_tensor t, th_tensor grad, int retain_graph, int create_graph,
                       const th_tensor *inputs, int n) {
  PROTECT(std::vector<at::Tensor> in;
          for (int i = 0; i < n; i++) in.push_back(T(inputs[i]));
          T(t).backward(grad ? T(grad) : at::Tensor(),
                        retain_graph ? c10::optional<bool>(true) : c10::nullopt,
                        create_graph != 0, at::TensorList(in));)
}

int th_grad_fn_name(th_tensor t, char *buf, size_t size) {
  PROTECT(const auto &fn = T(t).grad_fn(); std::string name;
          if (fn) name = fn->name();
          // autograd names are qualified: torch::autograd::AddBackward0
          auto pos = name.rfind("::");
          if (pos != std::string::npos) name = name.substr(pos + 2);
          std::snprintf(buf, size, "%s", name.c_str());)
}

int th_set_grad_enabled(int enabled) {
  PROTECT_RET(-1, bool prev = at::GradMode::is_enabled();
              at::GradMode::set_enabled(enabled != 0); return prev;)
}

int th_is_grad_enabled(void) { PROTECT_RET(-1, return at::GradMode::is_enabled();) }

} // extern "C"
