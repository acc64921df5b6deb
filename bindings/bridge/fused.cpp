// fused.cpp: clara.train.clear's step in one call (stdlib/clara/train/fast.lua).
//
// The point is fewer trips between Lua and C, not other arithmetic: every
// operation below is the one the Lua code runs (the native modules'
// forward, clara.losses written op by op, the objective's weighting, the
// accumulation scale, libtorch's optimizer), with the same arguments and
// in the same order, so that gradients, weights and losses come out
// bitwise equal.  The running sums are the doubles the Lua loop adds, in
// its order.  Whatever the fused loss or accuracy does not cover (shapes,
// dtypes, classes out of range, which the Lua code reports) stops the
// batch after the forward as TH_FUSED_FALLBACK, for Lua to finish.
#include <cmath>
#include <stdexcept>
#include <vector>

#include "internal.h"

using namespace bridge;

namespace {

// a Lua number in a tensor operation: what th_scalar_tensor makes of it
at::Tensor wrapped(const at::Scalar &s) {
  at::Tensor t = c10::scalar_to_tensor(s);
  t.unsafeGetTensorImpl()->set_wrapped_number(true);
  return t;
}

struct ForwardFailed {};

struct Data {
  at::Tensor x, y, perm;
  bool classes = false; // y holds integer classes, within [lo, hi]
  int64_t lo = 0, hi = 0;
};

struct Batch {
  at::Tensor x, y;
  bool classes = false; // the range below is known
  int64_t lo = 0, hi = 0;
};

bool finite(double v) { return std::isfinite(v); }

// precision = "bf16": the forward and the loss under CPU autocast, entered
// and left as torch.autocast does it (th_autocast_cpu_enter/exit), so the
// same ops see the same casts as in the clear loop; backward stays outside
struct Autocast {
  bool on;
  th_autocast_state prev;
  explicit Autocast(bool on_) : on(on_) {
    if (on && th_autocast_cpu_enter(1, TH_BFLOAT16, &prev) != 0) throw std::runtime_error(th_last_error());
  }
  ~Autocast() {
    if (on) th_autocast_cpu_exit(&prev);
  }
  Autocast(const Autocast &) = delete;
  Autocast &operator=(const Autocast &) = delete;
};

bool is_class_dtype(const at::Tensor &t) {
  return !t.is_floating_point() && !t.is_complex() && t.scalar_type() != at::kBool;
}

} // namespace

struct th_fused_s {
  std::vector<th_module> modules;
  th_optimizer opt = nullptr;
  int loss = TH_FUSED_CROSS_ENTROPY;
  at::Tensor weight; // the term weight, wrapped as Lua's number
  double weight_d = 1;
  at::Tensor one; // Lua's 1 in the losses
  Data data[2];
  th_fused_sums sums[2] = {};
  double last_raw = 0, last_total = 0;
  bool has_last = false;
  at::Tensor kept_out, kept_x, kept_y; // for th_fused_take
};

namespace {

// {=================== forward and losses ===================

// each module's forward through its handle, as the Lua Sequential calls it
at::Tensor forward(th_fused f, at::Tensor x) {
  for (th_module m : f->modules) {
    th_tensor in = reinterpret_cast<th_tensor>(&x);
    th_tensor outs[TH_MODULE_MAX_IO];
    int n = th_module_forward(outs, m, &in, 1);
    if (n < 1) {
      for (int i = 0; i < n; i++) th_free(outs[i]);
      throw ForwardFailed{};
    }
    at::Tensor y = T(outs[0]);
    for (int i = 0; i < n; i++) th_free(outs[i]);
    x = std::move(y);
  }
  return x;
}

at::Tensor loss_of(th_fused f, const at::Tensor &out, const at::Tensor &y) {
  switch (f->loss) {
  // the kernels clara.losses calls for index targets (default options)
  case TH_FUSED_CROSS_ENTROPY:
    return at::cross_entropy_loss(out, y.to(at::kLong), c10::nullopt, at::Reduction::Mean, -100, 0.0);
  case TH_FUSED_NLL: return at::nll_loss_nd(out, y.to(at::kLong), c10::nullopt, at::Reduction::Mean, -100);
  case TH_FUSED_MSE: return at::mean(at::square(at::sub(out, y)));
  case TH_FUSED_L1: return at::mean(at::abs(at::sub(out, y)));
  case TH_FUSED_BCE_WITH_LOGITS:
    return at::mean(at::add(at::mul(at::sub(f->one, y), out),
                            at::mul(at::softplus(at::neg(out)), f->one)));
  }
  throw std::invalid_argument("unknown fused loss");
}

// }======================================================

// {=================== what the fused path covers ===================

// the class range of a batch's targets (integer dtypes only)
void class_range(Batch &b) {
  if (b.classes || !is_class_dtype(b.y) || b.y.numel() == 0) return;
  b.lo = b.y.min().item<int64_t>();
  b.hi = b.y.max().item<int64_t>();
  b.classes = true;
}

// scores (N, C) against classes (N) in [0, C): what the class losses and
// accuracy compute here (the Lua code checks and explains the rest)
bool classes_fit(Batch &b, const at::Tensor &out) {
  if (out.dim() != 2 || !out.is_floating_point() || b.y.dim() != 1 ||
      b.y.size(0) != out.size(0) || !is_class_dtype(b.y))
    return false;
  class_range(b);
  return b.classes && b.lo >= 0 && b.hi < out.size(1);
}

bool fits(th_fused f, Batch &b, const at::Tensor &out, bool count) {
  if (count && !(classes_fit(b, out) && out.size(1) >= 2)) return false;
  switch (f->loss) {
  // the kernels clara.losses calls for index targets (default options)
  case TH_FUSED_CROSS_ENTROPY:
  case TH_FUSED_NLL: return classes_fit(b, out);
  default: // element-wise losses: the same shape, floating point
    return out.is_floating_point() && b.y.is_floating_point() && out.sizes().equals(b.y.sizes());
  }
}

// }======================================================

// {=================== batches and sums ===================

Batch batch_of(th_fused f, int slot, const th_fused_args *a) {
  Batch b;
  if (a->x != nullptr) {
    if (a->y == nullptr) throw std::invalid_argument("fused: a batch needs its target");
    b.x = T(a->x), b.y = T(a->y);
    return b;
  }
  const Data &d = f->data[slot];
  if (!d.perm.defined()) throw std::invalid_argument("fused: no data for this slot");
  at::Tensor idx = d.perm.narrow(0, a->start, a->rows);
  b.x = d.x.index_select(0, idx), b.y = d.y.index_select(0, idx);
  // a batch of the data set lies within the data set's class range
  b.classes = d.classes, b.lo = d.lo, b.hi = d.hi;
  return b;
}

void keep(th_fused f, const at::Tensor &out, const Batch &b) {
  f->kept_out = out, f->kept_x = b.x, f->kept_y = b.y;
}

// clara.train.clear's add_sums, in its order: n, loss, raw, weighted
void add(th_fused_sums &s, int64_t rows, double loss, bool terms, double raw, double weighted) {
  double n = (double)rows;
  s.n += rows;
  s.loss = s.loss + loss * n;
  if (terms) {
    s.raw = s.raw + raw * n;
    s.weighted = s.weighted + weighted * n;
    s.terms = 1;
  }
}

void count_correct(th_fused_sums &s, const at::Tensor &out, const at::Tensor &y) {
  at::NoGradGuard no_grad;
  at::Tensor t = y.to(y.device(), at::kLong);
  s.correct += at::argmax(out, 1).eq(t).sum().item<int64_t>();
  s.count += t.numel();
}

// }======================================================

int check_slot(int slot) {
  if (slot != TH_FUSED_TRAIN && slot != TH_FUSED_EVAL) throw std::out_of_range("fused: no such slot");
  return slot;
}

// the loss of a batch, weighted; false (and *status) when not finite
bool objective(th_fused f, const at::Tensor &out, const at::Tensor &y, at::Tensor &total,
               double &raw, double &tot, int *status, double *value) {
  at::Tensor l = loss_of(f, out, y);
  raw = l.item<double>();
  if (!finite(raw)) {
    *status = TH_FUSED_NONFINITE_TERM, *value = raw;
    return false;
  }
  total = at::mul(l, f->weight);
  tot = total.item<double>();
  if (!finite(tot)) {
    *status = TH_FUSED_NONFINITE_TOTAL, *value = tot;
    return false;
  }
  return true;
}

// the batch and its forward; false (and *status) when Lua goes on from there
bool front(th_fused f, int slot, const th_fused_args *a, Batch &b, at::Tensor &out, int *status) {
  b = batch_of(f, slot, a);
  f->kept_out = f->kept_x = f->kept_y = at::Tensor();
  try {
    out = forward(f, b.x);
  } catch (const ForwardFailed &) {
    keep(f, at::Tensor(), b);
    *status = TH_FUSED_FORWARD_FAILED;
    return false;
  }
  if (!fits(f, b, out, (a->flags & TH_FUSED_COUNT) != 0)) {
    keep(f, out, b);
    *status = TH_FUSED_FALLBACK;
    return false;
  }
  if (a->flags & TH_FUSED_KEEP) keep(f, out, b);
  return true;
}

void train(th_fused f, const th_fused_args *a, int *status, double *value) {
  // 1. zero_grad, the batch, forward
  if ((a->flags & TH_FUSED_ZERO_GRAD) && f->opt != nullptr && th_optim_zero_grad(f->opt) != 0)
    throw std::runtime_error(th_last_error());
  Batch b;
  at::Tensor out, total;
  double raw, tot;
  {
    Autocast autocast((a->flags & TH_FUSED_AUTOCAST) != 0);
    if (!front(f, TH_FUSED_TRAIN, a, b, out, status)) return;
    // 2. the objective, checked as clara.train.objective checks it
    if (!objective(f, out, b.y, total, raw, tot, status, value)) return;
  }
  // 3. backward, scaled so the micro-batches add up to the step's mean
  if (a->flags & TH_FUSED_SCALED) at::mul(total, wrapped(at::Scalar(a->scale))).backward();
  else total.backward();
  // 4. sums, metrics, then the step
  add(f->sums[TH_FUSED_TRAIN], a->rows, tot, true, raw, raw * f->weight_d);
  f->last_raw = raw, f->last_total = tot, f->has_last = true;
  if (a->flags & TH_FUSED_COUNT) count_correct(f->sums[TH_FUSED_TRAIN], out, b.y);
  if ((a->flags & TH_FUSED_STEP) && f->opt != nullptr &&
      th_optim_step(f->opt, nullptr, nullptr, nullptr) != 0)
    throw std::runtime_error(th_last_error());
  *status = TH_FUSED_OK;
}

// clara.train.clear's evaluate: a batch whose loss is not finite adds 0/0
void eval(th_fused f, const th_fused_args *a, int *status, double *value) {
  at::NoGradGuard no_grad;
  Autocast autocast((a->flags & TH_FUSED_AUTOCAST) != 0);
  Batch b;
  at::Tensor out;
  if (!front(f, TH_FUSED_EVAL, a, b, out, status)) return;
  at::Tensor total;
  double raw, tot;
  th_fused_sums &s = f->sums[TH_FUSED_EVAL];
  if (objective(f, out, b.y, total, raw, tot, status, value)) {
    add(s, a->rows, tot, true, raw, raw * f->weight_d);
  } else {
    volatile double zero = 0; // at run time, as Lua's 0 / 0: the same NaN
    add(s, a->rows, zero / zero, false, 0, 0);
  }
  if (a->flags & TH_FUSED_COUNT) count_correct(s, out, b.y);
  *status = TH_FUSED_OK;
}

} // namespace

extern "C" {

int th_fused_new(th_fused *out, const th_module *modules, int n, th_optimizer opt, int loss,
                 th_scalar weight) {
  PROTECT(
    if (n < 1) throw std::invalid_argument("fused: no modules");
    if (loss < 0 || loss >= TH_FUSED_NLOSSES) throw std::invalid_argument("fused: unknown loss");
    auto f = std::make_unique<th_fused_s>();
    f->modules.assign(modules, modules + n);
    f->opt = opt, f->loss = loss;
    f->weight = wrapped(to_scalar(weight));
    f->weight_d = weight.kind == TH_SCALAR_FLOAT ? weight.f : (double)weight.i;
    f->one = wrapped(at::Scalar((int64_t)1));
    *out = f.release();
  )
}

void th_fused_free(th_fused f) { delete f; }

int th_fused_data(th_fused f, int slot, th_tensor x, th_tensor y, th_tensor perm) {
  PROTECT(
    Data &d = f->data[check_slot(slot)];
    if (T(perm).dim() != 1 || T(perm).scalar_type() != at::kLong)
      throw std::invalid_argument("fused: the permutation must be a 1-d int64 tensor");
    d = Data{T(x), T(y), T(perm)};
    if (is_class_dtype(d.y) && d.y.numel() > 0) {
      d.lo = d.y.min().item<int64_t>(), d.hi = d.y.max().item<int64_t>();
      d.classes = true;
    }
  )
}

int th_fused_batch(th_tensor *x, th_tensor *y, th_fused f, int slot, int64_t start,
                   int64_t rows) {
  PROTECT(
    th_fused_args a = {0, nullptr, nullptr, start, rows, 1};
    Batch b = batch_of(f, check_slot(slot), &a);
    *x = wrap(std::move(b.x));
    *y = wrap(std::move(b.y));
  )
}

int th_fused_train(int *status, double *value, th_fused f, const th_fused_args *a) {
  PROTECT(train(f, a, status, value);)
}

int th_fused_eval(int *status, double *value, th_fused f, const th_fused_args *a) {
  PROTECT(eval(f, a, status, value);)
}

int th_fused_take(th_tensor *output, th_tensor *x, th_tensor *y, th_fused f) {
  PROTECT(
    *output = f->kept_out.defined() ? wrap(std::move(f->kept_out)) : nullptr;
    *x = f->kept_x.defined() ? wrap(std::move(f->kept_x)) : nullptr;
    *y = f->kept_y.defined() ? wrap(std::move(f->kept_y)) : nullptr;
    f->kept_out = f->kept_x = f->kept_y = at::Tensor();
  )
}

int th_fused_get_sums(th_fused_sums *out, th_fused f, int which, int take_counts) {
  PROTECT(
    th_fused_sums &s = f->sums[check_slot(which)];
    *out = s;
    if (take_counts) s.correct = s.count = 0;
  )
}

int th_fused_set_sums(th_fused f, int which, const th_fused_sums *s) {
  PROTECT(f->sums[check_slot(which)] = *s;)
}

int th_fused_add(th_fused f, int which, int64_t rows, double loss, int terms, double raw,
                 double weighted) {
  PROTECT(
    add(f->sums[check_slot(which)], rows, loss, terms != 0, raw, weighted);
    if (which == TH_FUSED_TRAIN && terms)
      f->last_raw = raw, f->last_total = loss, f->has_last = true;
  )
}

int th_fused_last(double *raw, double *total, th_fused f) {
  if (!f->has_last) return 0;
  *raw = f->last_raw, *total = f->last_total;
  return 1;
}

} // extern "C"
