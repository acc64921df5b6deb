// reducer.cpp: the gradients of a data-parallel step averaged over the
// ranks while backward still runs, as PyTorch's DDP reducer does it.
//
// The parameters are laid out in buckets, in the reverse of their order
// (backward reaches the last layers first); each bucket is one flat buffer.
// A hook after each parameter's gradient accumulator marks it ready; when
// every parameter of a bucket is ready the gradients are copied into its
// buffer and an asynchronous all_reduce begins on Gloo's threads, while
// backward goes on with the layers below.  Buckets begin in index order on
// every rank (Gloo pairs collectives by order), a bucket that is ready
// early waits for the ones before it.  finish() begins what backward did
// not (parameters without a gradient in this step, a rank that skipped its
// backward), waits for all, and writes the averages back.
//
// The last bucket also carries, summed over the ranks: one "has a
// gradient" count per parameter (a parameter no rank gave a gradient keeps
// none, as in one process) and the caller's flags (a step taken, a stop
// asked for...), so that a step needs one round of collectives.
//
// Only an armed backward (the last micro-batch of an optimizer step)
// begins reductions; any other leaves the gradients to accumulate.
//
// When every rank runs on this host the buckets go through shared memory
// instead (local_sum.cpp): the same buckets, begun at the same moments,
// summed in rank order.
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/autograd/variable.h>

#include "dist_internal.h"

using bridge::T;
using dist::Clock;

namespace {

struct Bucket {
  std::vector<size_t> members; // parameter indices
  std::vector<int64_t> offsets;
  int64_t grads = 0;           // elements of gradients (the buffer may hold flags after them)
  at::Tensor buf;
  size_t pending = 0;          // members not ready yet
  c10::intrusive_ptr<c10d::Work> work;
  bool posted = false;         // begun in this step
  Clock::time_point begun;
};

} // namespace

struct th_reducer_s {
  th_pg_s *g = nullptr;
  dist::ms timeout{0}; // g's, kept: g may be gone when the reducer goes
  std::vector<at::Tensor> params;
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators;
  std::vector<uintptr_t> hook_keys;
  std::vector<Bucket> buckets;
  std::vector<size_t> bucket_of;
  std::vector<char> ready;
  size_t next = 0; // the first bucket not begun
  bool armed = false;
  std::vector<double> flags;
  std::unique_ptr<dist::LocalSum> local; // null: Gloo

  // {-------------------- layout --------------------
  void layout(int64_t first_cap, int64_t cap) {
    Bucket b;
    int64_t bytes = 0, limit = first_cap;
    at::ScalarType dtype = at::ScalarType::Undefined;
    for (size_t k = params.size(); k-- > 0;) {
      const at::Tensor &p = params[k];
      int64_t size = p.numel() * (int64_t)p.element_size();
      if (!b.members.empty() && (p.scalar_type() != dtype || bytes + size > limit)) {
        close(b);
        b = Bucket();
        bytes = 0, limit = cap;
      }
      dtype = p.scalar_type();
      b.offsets.push_back(b.grads);
      b.members.push_back(k);
      b.grads += p.numel();
      bytes += size;
    }
    close(b);
    // the counts and flags ride in the last bucket
    Bucket &last = buckets.back();
    last.buf = at::zeros({last.grads + (int64_t)params.size() + (int64_t)flags.size()},
                         last.buf.options());
  }

  void close(Bucket &b) {
    b.buf = at::zeros({b.grads}, params[b.members[0]].options().requires_grad(false));
    for (size_t m : b.members) bucket_of[m] = buckets.size();
    buckets.push_back(std::move(b));
  }

  // a number per bucket that differs when the layouts differ
  std::vector<double> fingerprint() const {
    std::vector<double> v{(double)buckets.size(), (double)flags.size()};
    for (const Bucket &b : buckets)
      v.push_back((double)b.buf.numel() * 64 + bridge::dtype_of(b.buf.scalar_type()));
    return v;
  }
  // }------------------------------------------------

  // {-------------------- backward --------------------
  void hook(size_t k) {
    if (!armed || ready[k]) return;
    ready[k] = 1;
    if (--buckets[bucket_of[k]].pending == 0) begin_ready();
  }

  void begin_ready() {
    while (next < buckets.size() && buckets[next].pending == 0) begin(next++);
  }

  // the bucket's gradients (zeros where a parameter has none) into its
  // buffer (or this rank's shared slot), then its all_reduce, on Gloo's
  // threads (or posted to the other ranks)
  void begin(size_t i) {
    at::NoGradGuard no_grad;
    Bucket &b = buckets[i];
    dist::begin(g);
    at::Tensor dest = local ? local->own(i, b.buf) : b.buf;
    for (size_t j = 0; j < b.members.size(); j++) {
      const at::Tensor &p = params[b.members[j]];
      at::Tensor slot = dest.narrow(0, b.offsets[j], p.numel());
      const at::Tensor &grad = p.grad();
      if (grad.defined()) slot.view(p.sizes()).copy_(grad);
      else slot.zero_();
    }
    if (i + 1 == buckets.size()) {
      at::Tensor extra = dest.narrow(0, b.grads, b.buf.numel() - b.grads);
      std::vector<double> v(params.size() + flags.size());
      for (size_t k = 0; k < params.size(); k++) v[k] = params[k].grad().defined() ? 1 : 0;
      std::copy(flags.begin(), flags.end(), v.begin() + params.size());
      extra.copy_(at::tensor(v, at::kDouble));
    }
    if (local) {
      local->post(i);
      b.posted = true;
      return;
    }
    b.begun = Clock::now();
    std::vector<at::Tensor> ts{b.buf};
    c10d::AllreduceOptions o;
    o.reduceOp = c10d::ReduceOp::SUM;
    b.work = g->pg->allreduce(ts, o);
    b.posted = true; // only once Gloo took it: finish() waits on b.work
  }
  // }------------------------------------------------

  // what backward did not begin, then the averages written back; out:
  // the flags summed over the ranks
  void finish(std::vector<double> &out) {
    at::NoGradGuard no_grad;
    for (Bucket &b : buckets) b.pending = 0;
    begin_ready();
    for (size_t i = 0; i < buckets.size(); i++) {
      Bucket &b = buckets[i];
      // a bucket whose all_reduce failed to begin (an error before): the
      // group is broken, and nothing is waited for
      if (!b.posted) throw std::runtime_error("a gradient bucket's all_reduce never began (an earlier error)");
      b.posted = false;
      if (local) {
        local->sum(i, b.buf);
        continue;
      }
      dist::wait(g, "the gradients' all_reduce", b.begun, b.work);
      b.work.reset();
    }
    if (local) local->end_step();
    Bucket &last = buckets.back();
    at::Tensor extra = last.buf.narrow(0, last.grads, last.buf.numel() - last.grads).to(at::kDouble);
    const double *counts = extra.data_ptr<double>();
    out.assign(counts + params.size(), counts + params.size() + flags.size());
    for (Bucket &b : buckets) {
      at::Tensor grads = b.buf.narrow(0, 0, b.grads);
      grads.div_(g->size);
      for (size_t j = 0; j < b.members.size(); j++) {
        size_t k = b.members[j];
        if (counts[k] == 0) continue; // no rank has one
        at::Tensor &p = params[k];
        at::Tensor avg = grads.narrow(0, b.offsets[j], p.numel()).view(p.sizes());
        if (p.grad().defined()) p.mutable_grad().copy_(avg);
        else p.mutable_grad() = avg.clone();
      }
    }
    rearm(false);
  }

  void rearm(bool on) {
    armed = on;
    next = 0;
    std::fill(ready.begin(), ready.end(), 0);
    for (Bucket &b : buckets) b.pending = b.members.size();
  }

  ~th_reducer_s() {
    for (size_t k = 0; k < accumulators.size(); k++)
      if (accumulators[k]) accumulators[k]->del_post_hook(hook_keys[k]);
    // a reduction still on Gloo's threads must end before its buffer goes
    for (Bucket &b : buckets)
      if (b.work) try { b.work->wait(timeout); } catch (...) {}
  }
};

int th_reducer_new(th_reducer *out, th_pg g, const th_tensor *params, int n,
                   double first_bucket_mb, double bucket_mb, int nflags, int transport) {
  PROTECT(if (n < 1) throw std::invalid_argument("no parameters to reduce");
          auto r = std::make_unique<th_reducer_s>();
          r->g = g;
          r->timeout = g->timeout;
          r->flags.assign((size_t)nflags, 0.0);
          for (int k = 0; k < n; k++) {
            const at::Tensor &p = T(params[k]);
            if (!p.is_leaf() || !p.requires_grad())
              throw std::invalid_argument("parameter " + std::to_string(k + 1) +
                                          " is not a leaf that requires grad");
            if (!at::isFloatingType(p.scalar_type()))
              throw std::invalid_argument("parameter " + std::to_string(k + 1) +
                                          " is not floating point");
            r->params.push_back(p);
          }
          r->bucket_of.assign((size_t)n, 0);
          r->ready.assign((size_t)n, 0);
          r->layout((int64_t)(first_bucket_mb * 1048576), (int64_t)(bucket_mb * 1048576));
          dist::same_everywhere(g, r->fingerprint(), "the data-parallel gradient buckets "
                                "(the models differ between the ranks?)");
          if (transport != TH_REDUCE_GLOO && g->size > 1) {
            std::vector<size_t> bytes;
            for (const Bucket &b : r->buckets) bytes.push_back(b.buf.nbytes());
            r->local = dist::LocalSum::open(g, bytes, transport == TH_REDUCE_SHM);
          }
          // the accumulators live as long as the reducer: the hooks live on them
          for (int k = 0; k < n; k++) {
            auto acc = torch::autograd::impl::grad_accumulator(r->params[(size_t)k]);
            th_reducer_s *self = r.get();
            size_t index = (size_t)k;
            r->hook_keys.push_back(acc->add_post_hook(
                std::make_unique<torch::autograd::utils::LambdaPostHook>(
                    [self, index](const torch::autograd::variable_list &outputs,
                                  const torch::autograd::variable_list &) {
                      self->hook(index);
                      return outputs;
                    })));
            r->accumulators.push_back(std::move(acc));
          }
          r->rearm(false);
          *out = r.release();)
}

int th_reducer_arm(th_reducer r, const double *flags, int nflags) {
  PROTECT(if ((size_t)nflags != r->flags.size())
            throw std::invalid_argument("expected " + std::to_string(r->flags.size()) + " flags");
          r->rearm(true);
          std::copy(flags, flags + nflags, r->flags.begin());)
}

int th_reducer_finish(th_reducer r, const double *flags, int nflags, double *out) {
  PROTECT(if ((size_t)nflags != r->flags.size())
            throw std::invalid_argument("expected " + std::to_string(r->flags.size()) + " flags");
          // the flags of a last bucket not yet begun are the caller's now
          if (r->next < r->buckets.size()) std::copy(flags, flags + nflags, r->flags.begin());
          std::vector<double> sums;
          r->finish(sums);
          std::copy(sums.begin(), sums.end(), out);)
}

int th_reducer_buckets(th_reducer r) { return (int)r->buckets.size(); }

int th_reducer_transport(th_reducer r) { return r->local ? TH_REDUCE_SHM : TH_REDUCE_GLOO; }

void th_reducer_free(th_reducer r) {
  try {
    delete r;
  } catch (...) {
  }
}
