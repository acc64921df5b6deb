// ops.cpp: the bridge's operations on tensors: element-wise, reductions,
// shapes, views and indexing.  The X-macro lists live in torch_bridge.h so
// that the header, this file and the Lua bindings name each op once.
#include <cstring>
#include <limits>
#include <stdexcept>

#include "internal.h"

using namespace bridge;

static c10::optional<at::Scalar> bound(const th_scalar *s) {
  if (!s) return c10::nullopt;
  return to_scalar(*s);
}

// Integer division traps (SIGFPE kills the process) on x / 0 and on
// INT64_MIN / -1 (INT32_MIN / -1): refuse them before the kernel runs.
static void check_int_division(const at::Tensor &a, const at::Tensor &b) {
  if (!c10::isIntegralType(a.scalar_type(), true) || !c10::isIntegralType(b.scalar_type(), true))
    return;
  if ((b == 0).any().item<bool>())
    throw std::invalid_argument("integer division by zero");
  auto type = at::result_type(a, b);
  int64_t min = type == at::kLong ? std::numeric_limits<int64_t>::min()
              : type == at::kInt  ? std::numeric_limits<int32_t>::min() : 0;
  if (min != 0 && ((a == min) & (b == -1)).any().item<bool>())
    throw std::invalid_argument(std::string("integer overflow: the smallest ") +
                                (type == at::kLong ? "int64" : "int32") + " divided by -1");
}

static bool is_int_division(const char *op) {
  return !strcmp(op, "remainder") || !strcmp(op, "fmod") || !strcmp(op, "floor_divide");
}

extern "C" {

#define TH_DEFINE_UNARY(name)                                              \
  int th_##name(th_tensor *out, th_tensor a) { PROTECT(*out = wrap(at::name(T(a)));) }
#define TH_DEFINE_BINARY(name)                                             \
  int th_##name(th_tensor *out, th_tensor a, th_tensor b) {                \
    PROTECT(if (is_int_division(#name)) check_int_division(T(a), T(b)); \
            *out = wrap(at::name(T(a), T(b)));)                            \
  }
#define TH_DEFINE_INPLACE_BINARY(name)                                     \
  int th_##name(th_tensor a, th_tensor b) { PROTECT(T(a).name(T(b));) }
#define TH_DEFINE_INPLACE_UNARY(name)                                      \
  int th_##name(th_tensor a) { PROTECT(T(a).name();) }

TH_UNARY_OPS(TH_DEFINE_UNARY)
TH_BINARY_OPS(TH_DEFINE_BINARY)
TH_INPLACE_BINARY_OPS(TH_DEFINE_INPLACE_BINARY)
TH_INPLACE_UNARY_OPS(TH_DEFINE_INPLACE_UNARY)

// a / b rounded as PyTorch's div(rounding_mode=): 1 "trunc", 2 "floor"
int th_div_rounding(th_tensor *out, th_tensor a, th_tensor b, int mode) {
  PROTECT(check_int_division(T(a), T(b));
          *out = wrap(at::div(T(a), T(b), mode == 1 ? "trunc" : "floor"));)
}

int th_add_scaled(th_tensor *out, th_tensor a, th_tensor b, th_scalar alpha) {
  PROTECT(*out = wrap(at::add(T(a), T(b), to_scalar(alpha)));)
}

int th_add_scaled_(th_tensor a, th_tensor b, th_scalar alpha) {
  PROTECT(T(a).add_(T(b), to_scalar(alpha));)
}

// pow(Tensor, Scalar) has fast paths (2 -> square, 0.5 -> sqrt) that the
// tensor-exponent kernel lacks, in the forward pass and in backward
int th_pow_scalar(th_tensor *out, th_tensor a, th_scalar exponent) {
  PROTECT(*out = wrap(at::pow(T(a), to_scalar(exponent)));)
}

int th_fill_(th_tensor a, th_scalar value) { PROTECT(T(a).fill_(to_scalar(value));) }

int th_uniform_(th_tensor a, double from, double to) { PROTECT(T(a).uniform_(from, to);) }

int th_normal_(th_tensor a, double mean, double std) { PROTECT(T(a).normal_(mean, std);) }

int th_bernoulli_(th_tensor a, double p) { PROTECT(T(a).bernoulli_(p);) }

int th_clamp(th_tensor *out, th_tensor a, const th_scalar *min,
             const th_scalar *max) {
  PROTECT(*out = wrap(at::clamp(T(a), bound(min), bound(max)));)
}

int th_clamp_(th_tensor a, const th_scalar *min, const th_scalar *max) {
  PROTECT(T(a).clamp_(bound(min), bound(max));)
}

// a wrapped number (a Lua number) as an ordinary 0-d tensor of dtype `st`
static at::Tensor unwrap_as(const at::Tensor &t, at::ScalarType st) {
  return t.unsafeGetTensorImpl()->is_wrapped_number() ? t.to(st) : t;
}

int th_where(th_tensor *out, th_tensor cond, th_tensor a, th_tensor b) {
  // where's kernel cannot cast: give numbers the promoted dtype first, so
  // where(c, 1.5, 2.5) is float32 as in PyTorch (and not an internal assert)
  PROTECT(const at::Tensor &x = T(a); const at::Tensor &y = T(b);
          auto st = at::result_type(x, y);
          *out = wrap(at::where(T(cond), unwrap_as(x, st), unwrap_as(y, st)));)
}

int th_masked_fill(th_tensor *out, th_tensor a, th_tensor mask, th_tensor v) {
  PROTECT(*out = wrap(at::masked_fill(T(a), T(mask), T(v)));)
}

int th_lerp(th_tensor *out, th_tensor a, th_tensor b, th_tensor w) {
  // a Lua number (a wrapped 0-d tensor) takes the Scalar overload, as a
  // Python number does: the Tensor one wants a weight of a's dtype
  PROTECT(const at::Tensor &wt = T(w);
          *out = wrap(wt.unsafeGetTensorImpl()->is_wrapped_number()
                          ? at::lerp(T(a), T(b), wt.item())
                          : at::lerp(T(a), T(b), wt));)
}

int th_allclose(th_tensor a, th_tensor b, double rtol, double atol, int equal_nan) {
  PROTECT_RET(-1, return at::allclose(T(a), T(b), rtol, atol, equal_nan != 0);)
}

int th_equal(th_tensor a, th_tensor b) { PROTECT_RET(-1, return at::equal(T(a), T(b));) }

/* reductions */

int th_reduce(th_tensor *out, int op, th_tensor a, const int64_t *dv, int ndims,
              int keepdim, int unbiased) {
  PROTECT(const at::Tensor &x = T(a); bool all = ndims < 0;
          at::IntArrayRef d = all ? at::IntArrayRef() : dims(dv, ndims);
          at::OptionalIntArrayRef od = all ? c10::nullopt : at::OptionalIntArrayRef(d);
          bool k = keepdim != 0; at::Tensor r;
          switch (op) {
            case TH_SUM: r = all ? at::sum(x) : at::sum(x, d, k); break;
            case TH_MEAN: r = all ? at::mean(x) : at::mean(x, d, k); break;
            case TH_PROD:
              if (all) r = at::prod(x);
              else if (ndims == 1) r = at::prod(x, d[0], k);
              else throw std::invalid_argument("prod reduces over one dim at a time");
              break;
            case TH_STD: r = at::std(x, od, unbiased != 0, k); break;
            case TH_VAR: r = at::var(x, od, unbiased != 0, k); break;
            case TH_AMAX: r = at::amax(x, d, k); break;
            case TH_AMIN: r = at::amin(x, d, k); break;
            case TH_ALL:
              if (all) r = at::all(x);
              else if (ndims == 1) r = at::all(x, d[0], k);
              else throw std::invalid_argument("all reduces over one dim at a time");
              break;
            case TH_ANY:
              if (all) r = at::any(x);
              else if (ndims == 1) r = at::any(x, d[0], k);
              else throw std::invalid_argument("any reduces over one dim at a time");
              break;
            case TH_LOGSUMEXP:
              if (all) {
                std::vector<int64_t> every(x.dim());
                for (int64_t i = 0; i < x.dim(); i++) every[i] = i;
                r = at::logsumexp(x, every, k);
              } else r = at::logsumexp(x, d, k);
              break;
            case TH_NORM:
              r = all ? at::norm(x) : at::norm(x, 2, d, k);
              break;
            default: throw std::invalid_argument("unknown reduction");
          } *out = wrap(std::move(r));)
}

int th_max_dim(th_tensor *values, th_tensor *indices, th_tensor a, int64_t dim,
               int keepdim, int is_min) {
  PROTECT(auto r = is_min ? at::min(T(a), dim, keepdim != 0)
                          : at::max(T(a), dim, keepdim != 0);
          *values = wrap(std::move(std::get<0>(r)));
          *indices = wrap(std::move(std::get<1>(r)));)
}

int th_argmax(th_tensor *out, th_tensor a, int64_t dim, int keepdim, int is_min) {
  PROTECT(c10::optional<int64_t> d = dim == TH_NODIM ? c10::nullopt
                                                     : c10::optional<int64_t>(dim);
          *out = wrap(is_min ? at::argmin(T(a), d, keepdim != 0)
                             : at::argmax(T(a), d, keepdim != 0));)
}

int th_softmax(th_tensor *out, th_tensor a, int64_t dim, int log) {
  PROTECT(*out = wrap(log ? at::log_softmax(T(a), dim) : at::softmax(T(a), dim));)
}

int th_cumulate(th_tensor *out, th_tensor a, int64_t dim, int prod) {
  PROTECT(*out = wrap(prod ? at::cumprod(T(a), dim) : at::cumsum(T(a), dim));)
}

int th_sort(th_tensor *values, th_tensor *indices, th_tensor a, int64_t dim,
            int descending) {
  PROTECT(auto r = at::sort(T(a), dim, descending != 0);
          *values = wrap(std::move(std::get<0>(r)));
          *indices = wrap(std::move(std::get<1>(r)));)
}

int th_topk(th_tensor *values, th_tensor *indices, th_tensor a, int64_t k,
            int64_t dim, int largest) {
  PROTECT(auto r = at::topk(T(a), k, dim, largest != 0, true);
          *values = wrap(std::move(std::get<0>(r)));
          *indices = wrap(std::move(std::get<1>(r)));)
}

/* shapes, views, indexing */

int th_reshape(th_tensor *out, int how, th_tensor a, const int64_t *sizes, int ndim) {
  PROTECT(const at::Tensor &x = T(a); auto s = dims(sizes, ndim); at::Tensor r;
          switch (how) {
            case TH_VIEW: r = x.view(s); break;
            case TH_RESHAPE: r = x.reshape(s); break;
            case TH_EXPAND: r = x.expand(s); break;
            case TH_PERMUTE: r = x.permute(s); break;
            case TH_REPEAT: r = x.repeat(s); break;
            case TH_FLIP: r = x.flip(s); break;
            default: throw std::invalid_argument("unknown reshape");
          } *out = wrap(std::move(r));)
}

int th_transpose(th_tensor *out, th_tensor a, int64_t d0, int64_t d1) {
  PROTECT(*out = wrap(T(a).transpose(d0, d1));)
}

int th_squeeze(th_tensor *out, th_tensor a, int64_t dim) {
  PROTECT(*out = wrap(dim == TH_NODIM ? T(a).squeeze() : T(a).squeeze(dim));)
}

int th_unsqueeze(th_tensor *out, th_tensor a, int64_t dim) {
  PROTECT(*out = wrap(T(a).unsqueeze(dim));)
}

int th_flatten(th_tensor *out, th_tensor a, int64_t start, int64_t end) {
  PROTECT(*out = wrap(T(a).flatten(start, end));)
}

int th_contiguous(th_tensor *out, th_tensor a) { PROTECT(*out = wrap(T(a).contiguous());) }

int th_select(th_tensor *out, th_tensor a, int64_t dim, int64_t index) {
  PROTECT(*out = wrap(T(a).select(dim, index));)
}

int th_narrow(th_tensor *out, th_tensor a, int64_t dim, int64_t start, int64_t length) {
  PROTECT(*out = wrap(T(a).narrow(dim, start, length));)
}

int th_slice(th_tensor *out, th_tensor a, int64_t dim, int64_t start, int64_t end,
             int64_t step) {
  PROTECT(*out = wrap(T(a).slice(dim, start, end, step));)
}

int th_index_select(th_tensor *out, th_tensor a, int64_t dim, th_tensor idx) {
  PROTECT(*out = wrap(T(a).index_select(dim, T(idx)));)
}

int th_masked_select(th_tensor *out, th_tensor a, th_tensor mask) {
  PROTECT(*out = wrap(T(a).masked_select(T(mask)));)
}

int th_gather(th_tensor *out, th_tensor a, int64_t dim, th_tensor idx) {
  PROTECT(*out = wrap(T(a).gather(dim, T(idx)));)
}

int th_scatter(th_tensor *out, th_tensor a, int64_t dim, th_tensor idx,
               th_tensor src, int add) {
  PROTECT(*out = wrap(add ? T(a).scatter_add(dim, T(idx), T(src))
                          : T(a).scatter(dim, T(idx), T(src)));)
}

int th_cat(th_tensor *out, const th_tensor *list, int n, int64_t dim, int stack) {
  PROTECT(std::vector<at::Tensor> v; v.reserve(n);
          for (int i = 0; i < n; i++) v.push_back(T(list[i]));
          *out = wrap(stack ? at::stack(v, dim) : at::cat(v, dim));)
}

int th_split(th_tensor *outs, int cap, th_tensor a, int64_t size, int64_t dim,
             int by_count) {
  PROTECT_RET(-1, auto parts = by_count ? T(a).chunk(size, dim) : T(a).split(size, dim);
              if ((int64_t)parts.size() > cap) throw std::length_error("too many pieces");
              for (size_t i = 0; i < parts.size(); i++) outs[i] = wrap(std::move(parts[i]));
              return (int)parts.size();)
}

} // extern "C"
