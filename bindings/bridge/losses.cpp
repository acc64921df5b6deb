// losses.cpp: the losses clara cannot write from tensor operations in Lua.
// CTC sums over every alignment of the target with the input by dynamic
// programming: libtorch's kernel (with its autograd) does that.
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

} // extern "C"
