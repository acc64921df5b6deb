// optim.cpp: libtorch's optimizers behind th_optimizer handles.
//
// Hyperparameters travel as one flat struct (th_optim_options) so that C
// needs no per-kind types; per-parameter state travels as named entries so
// that Lua can hold it as a plain table.  libtorch keys its state by the
// address of each parameter's TensorImpl; this file is the only place that
// knows it.
#include <torch/optim.h>

#include <deque>
#include <functional>
#include <stdexcept>

#include "internal.h"

using bridge::T;
using namespace torch::optim;

struct th_optimizer_s {
  std::unique_ptr<Optimizer> opt;
  int kind;
};

namespace {

// {======================================================
// Options, both ways
// =======================================================

std::unique_ptr<OptimizerOptions> make_options(int kind,
                                               const th_optim_options &o) {
  switch (kind) {
  case TH_OPTIM_SGD:
    return std::make_unique<SGDOptions>(SGDOptions(o.lr)
                                            .momentum(o.momentum)
                                            .dampening(o.dampening)
                                            .weight_decay(o.weight_decay)
                                            .nesterov(o.nesterov != 0));
  case TH_OPTIM_ADAM:
    return std::make_unique<AdamOptions>(
        AdamOptions(o.lr)
            .betas(std::make_tuple(o.beta1, o.beta2))
            .eps(o.eps)
            .weight_decay(o.weight_decay)
            .amsgrad(o.amsgrad != 0));
  case TH_OPTIM_ADAMW:
    return std::make_unique<AdamWOptions>(
        AdamWOptions(o.lr)
            .betas(std::make_tuple(o.beta1, o.beta2))
            .eps(o.eps)
            .weight_decay(o.weight_decay)
            .amsgrad(o.amsgrad != 0));
  case TH_OPTIM_RMSPROP:
    return std::make_unique<RMSpropOptions>(RMSpropOptions(o.lr)
                                                .alpha(o.alpha)
                                                .eps(o.eps)
                                                .weight_decay(o.weight_decay)
                                                .momentum(o.momentum)
                                                .centered(o.centered != 0));
  case TH_OPTIM_ADAGRAD:
    return std::make_unique<AdagradOptions>(
        AdagradOptions(o.lr)
            .lr_decay(o.lr_decay)
            .weight_decay(o.weight_decay)
            .initial_accumulator_value(o.initial_accumulator_value)
            .eps(o.eps));
  case TH_OPTIM_LBFGS: {
    LBFGSOptions l(o.lr);
    l.max_iter(o.max_iter)
        .tolerance_grad(o.tolerance_grad)
        .tolerance_change(o.tolerance_change)
        .history_size(o.history_size);
    if (o.max_eval > 0) l.max_eval(o.max_eval);
    if (o.strong_wolfe) l.line_search_fn(std::string("strong_wolfe"));
    return std::make_unique<LBFGSOptions>(l);
  }
  }
  throw std::invalid_argument("unknown optimizer kind");
}

void read_options(int kind, const OptimizerOptions &in, th_optim_options *o) {
  *o = th_optim_options{};
  o->lr = in.get_lr();
  switch (kind) {
  case TH_OPTIM_SGD: {
    auto &s = static_cast<const SGDOptions &>(in);
    o->momentum = s.momentum(), o->dampening = s.dampening();
    o->weight_decay = s.weight_decay(), o->nesterov = s.nesterov();
    break;
  }
  case TH_OPTIM_ADAM: {
    auto &s = static_cast<const AdamOptions &>(in);
    o->beta1 = std::get<0>(s.betas()), o->beta2 = std::get<1>(s.betas());
    o->eps = s.eps(), o->weight_decay = s.weight_decay();
    o->amsgrad = s.amsgrad();
    break;
  }
  case TH_OPTIM_ADAMW: {
    auto &s = static_cast<const AdamWOptions &>(in);
    o->beta1 = std::get<0>(s.betas()), o->beta2 = std::get<1>(s.betas());
    o->eps = s.eps(), o->weight_decay = s.weight_decay();
    o->amsgrad = s.amsgrad();
    break;
  }
  case TH_OPTIM_RMSPROP: {
    auto &s = static_cast<const RMSpropOptions &>(in);
    o->alpha = s.alpha(), o->eps = s.eps(), o->weight_decay = s.weight_decay();
    o->momentum = s.momentum(), o->centered = s.centered();
    break;
  }
  case TH_OPTIM_ADAGRAD: {
    auto &s = static_cast<const AdagradOptions &>(in);
    o->lr_decay = s.lr_decay(), o->weight_decay = s.weight_decay();
    o->initial_accumulator_value = s.initial_accumulator_value();
    o->eps = s.eps();
    break;
  }
  case TH_OPTIM_LBFGS: {
    auto &s = static_cast<const LBFGSOptions &>(in);
    o->max_iter = s.max_iter();
    o->max_eval = s.max_eval() ? *s.max_eval() : 0;
    o->tolerance_grad = s.tolerance_grad();
    o->tolerance_change = s.tolerance_change();
    o->history_size = s.history_size();
    o->strong_wolfe = s.line_search_fn().has_value();
    break;
  }
  }
}

OptimizerParamGroup &group_at(th_optimizer o, int group) {
  auto &groups = o->opt->param_groups();
  if (group < 0 || (size_t)group >= groups.size())
    throw std::out_of_range("no parameter group " + std::to_string(group + 1));
  return groups[group];
}

// }======================================================

// {======================================================
// Per-parameter state as named entries
// =======================================================

// Each state class is walked field by field: v(name, field), where field is
// an int64_t, a double, a tensor or a history (a deque of tensors).
template <class V> void visit(SGDParamState &s, V &&v) {
  v("momentum_buffer", s.momentum_buffer());
}
template <class S, class V> void visit_adam(S &s, V &&v) {
  v("step", s.step());
  v("exp_avg", s.exp_avg());
  v("exp_avg_sq", s.exp_avg_sq());
  v("max_exp_avg_sq", s.max_exp_avg_sq());
}
template <class V> void visit(RMSpropParamState &s, V &&v) {
  v("step", s.step());
  v("square_avg", s.square_avg());
  v("momentum_buffer", s.momentum_buffer());
  v("grad_avg", s.grad_avg());
}
template <class V> void visit(AdagradParamState &s, V &&v) {
  v("step", s.step());
  v("sum", s.sum());
}
// `al` is left out: it is scratch space, rewritten before every read
template <class V> void visit(LBFGSParamState &s, V &&v) {
  v("func_evals", s.func_evals());
  v("n_iter", s.n_iter());
  v("t", s.t());
  v("prev_loss", s.prev_loss());
  v("d", s.d());
  v("H_diag", s.H_diag());
  v("prev_flat_grad", s.prev_flat_grad());
  v("old_dirs", s.old_dirs());
  v("old_stps", s.old_stps());
  v("ro", s.ro());
}

template <class V> void visit_state(int kind, OptimizerParamState &s, V &&v) {
  switch (kind) {
  case TH_OPTIM_SGD: visit(static_cast<SGDParamState &>(s), v); break;
  case TH_OPTIM_ADAM: visit_adam(static_cast<AdamParamState &>(s), v); break;
  case TH_OPTIM_ADAMW: visit_adam(static_cast<AdamWParamState &>(s), v); break;
  case TH_OPTIM_RMSPROP: visit(static_cast<RMSpropParamState &>(s), v); break;
  case TH_OPTIM_ADAGRAD: visit(static_cast<AdagradParamState &>(s), v); break;
  case TH_OPTIM_LBFGS: visit(static_cast<LBFGSParamState &>(s), v); break;
  }
}

std::unique_ptr<OptimizerParamState> new_state(int kind) {
  switch (kind) {
  case TH_OPTIM_SGD: return std::make_unique<SGDParamState>();
  case TH_OPTIM_ADAM: return std::make_unique<AdamParamState>();
  case TH_OPTIM_ADAMW: return std::make_unique<AdamWParamState>();
  case TH_OPTIM_RMSPROP: return std::make_unique<RMSpropParamState>();
  case TH_OPTIM_ADAGRAD: return std::make_unique<AdagradParamState>();
  case TH_OPTIM_LBFGS: return std::make_unique<LBFGSParamState>();
  }
  throw std::invalid_argument("unknown optimizer kind");
}

const at::Tensor &param_at(th_optimizer o, int group, int index) {
  auto &params = group_at(o, group).params();
  if (index < 0 || (size_t)index >= params.size())
    throw std::out_of_range("no parameter " + std::to_string(index + 1) +
                            " in group " + std::to_string(group + 1));
  return params[index];
}

std::string key_of(const at::Tensor &p) {
  return c10::guts::to_string(p.unsafeGetTensorImpl());
}

// the state of a parameter, or NULL (create: make an empty one)
OptimizerParamState *state_of(th_optimizer o, int group, int index,
                              bool create) {
  std::string key = key_of(param_at(o, group, index));
  auto &state = o->opt->state();
  auto it = state.find(key);
  if (it != state.end()) return it->second.get();
  if (!create) return nullptr;
  auto &slot = state[key];
  slot = new_state(o->kind);
  return slot.get();
}

// a history stacked along a new first dim; an empty one as [0] of the
// parameter's dtype
at::Tensor stack_history(const std::deque<at::Tensor> &h,
                         const at::Tensor &like) {
  if (h.empty()) return at::empty({0}, like.options());
  return at::stack(std::vector<at::Tensor>(h.begin(), h.end()));
}

// a copy of a state tensor shaped and typed as the state it replaces
at::Tensor adopt(const at::Tensor &v, const at::Tensor &param, const char *name,
                 bool per_param) {
  if (per_param && !v.sizes().equals(param.sizes())) {
    std::ostringstream msg;
    msg << "state '" << name << "' has shape " << v.sizes()
        << " but its parameter has shape " << param.sizes();
    throw std::invalid_argument(msg.str());
  }
  at::Tensor d = v.detach();
  if (d.is_floating_point())
    return d.to(param.device(), param.scalar_type(), false, true);
  return d.to(param.device(), d.scalar_type(), false, true);
}

} // namespace

// }======================================================

extern "C" {

int th_optim_new(th_optimizer *out, int kind, const th_tensor *params,
                 const int *sizes, const th_optim_options *groups,
                 int ngroups, const th_optim_options *defaults) {
  PROTECT(
    if (ngroups < 1) throw std::invalid_argument("no parameter groups");
    // 1. the groups, each with its own options
    std::vector<OptimizerParamGroup> pg;
    int at = 0;
    for (int g = 0; g < ngroups; g++) {
      std::vector<at::Tensor> ps;
      for (int i = 0; i < sizes[g]; i++) ps.push_back(T(params[at++]));
      pg.emplace_back(std::move(ps), make_options(kind, groups[g]));
    }
    // 2. the optimizer, whose constructor checks the defaults
    auto o = std::make_unique<th_optimizer_s>();
    o->kind = kind;
    const th_optim_options &d = *defaults;
    switch (kind) {
    case TH_OPTIM_SGD:
      o->opt = std::make_unique<SGD>(
          pg, static_cast<SGDOptions &>(*make_options(kind, d)));
      break;
    case TH_OPTIM_ADAM:
      o->opt = std::make_unique<Adam>(
          pg, static_cast<AdamOptions &>(*make_options(kind, d)));
      break;
    case TH_OPTIM_ADAMW:
      o->opt = std::make_unique<AdamW>(
          pg, static_cast<AdamWOptions &>(*make_options(kind, d)));
      break;
    case TH_OPTIM_RMSPROP:
      o->opt = std::make_unique<RMSprop>(
          pg, static_cast<RMSpropOptions &>(*make_options(kind, d)));
      break;
    case TH_OPTIM_ADAGRAD:
      o->opt = std::make_unique<Adagrad>(
          pg, static_cast<AdagradOptions &>(*make_options(kind, d)));
      break;
    case TH_OPTIM_LBFGS:
      o->opt = std::make_unique<LBFGS>(
          pg, static_cast<LBFGSOptions &>(*make_options(kind, d)));
      break;
    default:
      throw std::invalid_argument("unknown optimizer kind");
    }
    *out = o.release();
  )
}

void th_optim_free(th_optimizer o) { delete o; }

int th_optim_get_options(th_optimizer o, int group, th_optim_options *out) {
  PROTECT(read_options(o->kind, group_at(o, group).options(), out);)
}

int th_optim_set_options(th_optimizer o, int group,
                         const th_optim_options *opts) {
  PROTECT(group_at(o, group).set_options(make_options(o->kind, *opts));)
}

int th_optim_zero_grad(th_optimizer o) { PROTECT(o->opt->zero_grad();) }

int th_optim_step(th_optimizer o, th_tensor *loss, th_closure fn, void *ud) {
  PROTECT(
    Optimizer::LossClosure closure = nullptr;
    if (fn != nullptr)
      // the caller's code runs with grad on, as PyTorch's closures do; a
      // failure there becomes an exception that unwinds only C++ frames
      closure = [fn, ud]() -> at::Tensor {
        at::AutoGradMode enable_grad(true);
        th_tensor h = nullptr;
        if (fn(ud, &h) != 0 || h == nullptr)
          throw std::runtime_error("loss closure failed");
        at::Tensor t = T(h);
        th_free(h);
        return t;
      };
    at::Tensor r = o->opt->step(closure);
    if (fn != nullptr && r.defined()) *loss = bridge::wrap(std::move(r));
  )
}

int th_optim_state_names(th_optimizer o, int group, int index,
                         const char **names, int *kinds) {
  PROTECT_RET(-1,
    OptimizerParamState *s = state_of(o, group, index, false);
    int n = 0;
    if (s == nullptr) return 0;
    auto add = [&](const char *name, int kind) {
      if (n < TH_STATE_MAX) names[n] = name, kinds[n++] = kind;
    };
    visit_state(o->kind, *s, [&](const char *name, auto &field) {
      using F = std::decay_t<decltype(field)>;
      if constexpr (std::is_same_v<F, int64_t>) add(name, TH_STATE_INT);
      else if constexpr (std::is_same_v<F, double>) add(name, TH_STATE_FLOAT);
      else if constexpr (std::is_same_v<F, at::Tensor>) {
        if (field.defined()) add(name, TH_STATE_TENSOR);
      } else add(name, TH_STATE_TENSOR);
    });
    return n;
  )
}

int th_optim_state_tensor(th_tensor *out, th_optimizer o, int group,
                          int index, const char *name) {
  PROTECT(
    const at::Tensor &p = param_at(o, group, index);
    OptimizerParamState *s = state_of(o, group, index, false);
    if (s == nullptr) throw std::invalid_argument("parameter has no state");
    at::Tensor r;
    bool found = false;
    visit_state(o->kind, *s, [&](const char *n, auto &field) {
      using F = std::decay_t<decltype(field)>;
      if (strcmp(n, name) != 0) return;
      if constexpr (std::is_same_v<F, at::Tensor>) {
        found = true;
        if (field.defined()) r = field.detach().clone();
      } else if constexpr (std::is_same_v<F, std::deque<at::Tensor>>) {
        found = true;
        r = stack_history(field, p).detach().clone();
      }
    });
    if (!found)
      throw std::invalid_argument(std::string("no tensor state '") + name +
                                  "'");
    *out = r.defined() ? bridge::wrap(std::move(r)) : nullptr;
  )
}

int th_optim_state_number(double *out, th_optimizer o, int group, int index,
                          const char *name) {
  PROTECT(
    OptimizerParamState *s = state_of(o, group, index, false);
    if (s == nullptr) throw std::invalid_argument("parameter has no state");
    bool found = false;
    visit_state(o->kind, *s, [&](const char *n, auto &field) {
      using F = std::decay_t<decltype(field)>;
      if (strcmp(n, name) != 0) return;
      if constexpr (std::is_same_v<F, int64_t> || std::is_same_v<F, double>) {
        found = true;
        *out = (double)field;
      }
    });
    if (!found)
      throw std::invalid_argument(std::string("no number state '") + name +
                                  "'");
  )
}

int th_optim_state_set_tensor(th_optimizer o, int group, int index,
                              const char *name, th_tensor value) {
  PROTECT(
    const at::Tensor &p = param_at(o, group, index);
    OptimizerParamState *s = state_of(o, group, index, true);
    bool per_param = o->kind != TH_OPTIM_LBFGS, found = false;
    visit_state(o->kind, *s, [&](const char *n, auto &field) {
      using F = std::decay_t<decltype(field)>;
      if (strcmp(n, name) != 0) return;
      if constexpr (std::is_same_v<F, at::Tensor>) {
        found = true;
        field = value ? adopt(T(value), p, name, per_param) : at::Tensor();
      } else if constexpr (std::is_same_v<F, std::deque<at::Tensor>>) {
        found = true;
        field.clear();
        if (value != nullptr && T(value).dim() == 0)
          throw std::invalid_argument(std::string("state '") + name +
                                      "' must be a stacked list (1 or more dims)");
        if (value != nullptr)
          for (auto &t : adopt(T(value), p, name, false).unbind(0))
            field.push_back(t);
      }
    });
    if (!found)
      throw std::invalid_argument(std::string("no tensor state '") + name +
                                  "'");
  )
}

int th_optim_state_set_number(th_optimizer o, int group, int index,
                              const char *name, double value) {
  PROTECT(
    OptimizerParamState *s = state_of(o, group, index, true);
    bool found = false;
    visit_state(o->kind, *s, [&](const char *n, auto &field) {
      using F = std::decay_t<decltype(field)>;
      if (strcmp(n, name) != 0) return;
      if constexpr (std::is_same_v<F, int64_t>) found = true, field = (int64_t)value;
      else if constexpr (std::is_same_v<F, double>) found = true, field = value;
    });
    if (!found)
      throw std::invalid_argument(std::string("no number state '") + name +
                                  "'");
  )
}

int th_optim_state_clear(th_optimizer o, int group, int index) {
  PROTECT(o->opt->state().erase(key_of(param_at(o, group, index)));)
}

} // extern "C"
