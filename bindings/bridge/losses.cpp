// losses.cpp: the losses clara takes from libtorch rather than writing
// them from tensor operations in Lua.  CTC sums over every alignment of the
// target with the input by dynamic programming; cross-entropy and NLL with
// index targets are one kernel each (a dozen operations in Lua cost a
// small model more than its matrix products).
#include "internal.h"

using namespace bridge;

extern "C" {

// per-sample losses (reduction none): the Lua side reduces as PyTorch does
int th_ctc_loss(th_tensor *out, th_tensor log_probs, th_tensor targets,
                th_tensor input_lengths, th_tensor target_lengths,
                int64_t blank, int zero_infinity) {
  PROTECT(*out = wrap(at::ctc_loss(T(log_probs), T(targets), T(input_lengths),
                                   T(target_lengths), blank, at::Reduction::None,
                                   zero_infinity != 0));)
}

static c10::optional<at::Tensor> optional(th_tensor t) {
  if (t == nullptr) return c10::nullopt;
  return T(t);
}

int th_cross_entropy(th_tensor *out, th_tensor input, th_tensor target,
                     th_tensor weight, int reduction, int64_t ignore_index,
                     double label_smoothing) {
  PROTECT(*out = wrap(at::cross_entropy_loss(T(input), T(target), optional(weight), reduction,
                                             ignore_index, label_smoothing));)
}

int th_nll_loss(th_tensor *out, th_tensor input, th_tensor target,
                th_tensor weight, int reduction, int64_t ignore_index) {
  PROTECT(*out = wrap(at::nll_loss_nd(T(input), T(target), optional(weight), reduction,
                                      ignore_index));)
}

} // extern "C"
