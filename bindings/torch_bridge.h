/*
** torch_bridge.h: the C API over libtorch.
**
** C sees opaque handles; C++ (the files in bindings/bridge) sees at::Tensor *.
** Every function catches every C++ exception, stores its message in a
** thread-local string (th_last_error) and returns a sentinel: -1 for int
** results, NULL for pointers.  Nothing in here ever unwinds into C.
**
** Outputs come first (tch-rs habit): th_add(&out, a, b).  A function that
** fails leaves *out untouched.  Every handle obtained here is released with
** th_free.
*/
#ifndef TORCH_BRIDGE_H
#define TORCH_BRIDGE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct th_tensor_s *th_tensor;

/* dtypes, in the order of the names in th_dtype_name */
enum {
  TH_FLOAT32, TH_FLOAT64, TH_INT64, TH_INT32, TH_INT16, TH_INT8,
  TH_UINT8, TH_BOOL, TH_FLOAT16, TH_BFLOAT16, TH_NDTYPES
};
#define TH_DTYPE_DEFAULT (-1)

enum { TH_CPU, TH_CUDA };

/* creation options; dtype TH_DTYPE_DEFAULT means float32 */
typedef struct {
  int dtype;
  int device;
  int requires_grad;
} th_options;

/* a number as Lua knows it: float, integer or boolean */
enum { TH_SCALAR_FLOAT, TH_SCALAR_INT, TH_SCALAR_BOOL };
typedef struct {
  int kind;
  double f;
  int64_t i;
} th_scalar;

#define TH_MAX_DIMS 64
#define TH_NODIM INT64_MIN

/* errors, versions, global state */
const char *th_last_error(void);
const char *th_version(void);
int th_manual_seed(uint64_t seed);
int th_seed(uint64_t *out);
int th_set_num_threads(int n);
int th_get_num_threads(void);
int th_cuda_is_available(void);
int th_test_throw(int kind); /* 0 c10::Error, 1 std::runtime_error, 2 int */

/* lifetime and inspection */
void th_free(th_tensor t);
int th_alias(th_tensor *out, th_tensor t); /* a second handle, same tensor */
int th_dim(th_tensor t);
int th_sizes(th_tensor t, int64_t *sizes); /* returns dim; sizes[TH_MAX_DIMS] */
int th_strides(th_tensor t, int64_t *strides);
int th_dtype(th_tensor t);
int th_device(th_tensor t);
int64_t th_numel(th_tensor t);
int64_t th_nbytes(th_tensor t); /* bytes of the storage it holds */
int th_is_contiguous(th_tensor t);
const void *th_data_ptr(th_tensor t);
const char *th_dtype_name(int dtype);

/* creation */
enum { TH_NEW_EMPTY, TH_NEW_ZEROS, TH_NEW_ONES, TH_NEW_RAND, TH_NEW_RANDN };
int th_new(th_tensor *out, int kind, const int64_t *sizes, int ndim,
           th_options opt);
int th_full(th_tensor *out, const int64_t *sizes, int ndim, th_scalar value,
            th_options opt);
int th_from_data(th_tensor *out, const void *data, int src_dtype,
                 const int64_t *sizes, int ndim, th_options opt);
int th_scalar_tensor(th_tensor *out, th_scalar s); /* as Python wraps numbers */
int th_arange(th_tensor *out, th_scalar start, th_scalar end, th_scalar step,
              th_options opt);
int th_linspace(th_tensor *out, double start, double end, int64_t steps,
                th_options opt);
int th_eye(th_tensor *out, int64_t n, int64_t m, th_options opt);
int th_randint(th_tensor *out, int64_t low, int64_t high,
               const int64_t *sizes, int ndim, th_options opt);
int th_randperm(th_tensor *out, int64_t n, th_options opt);

/* conversion and data */
int th_to(th_tensor *out, th_tensor t, int dtype, int device);
int th_item(th_scalar *out, th_tensor t);
int th_contiguous_as(th_tensor *out, th_tensor t, int dtype);

/* element-wise functions of one tensor: at::NAME(t) */
#define TH_UNARY_OPS(X) \
  X(abs) X(neg) X(exp) X(exp2) X(log) X(log2) X(log10) X(log1p) X(expm1) \
  X(sqrt) X(rsqrt) X(square) X(reciprocal) X(sign) X(sin) X(cos) X(tan) \
  X(asin) X(acos) X(atan) X(sinh) X(cosh) X(tanh) X(sigmoid) X(relu) \
  X(relu6) X(gelu) X(silu) X(mish) X(elu) X(selu) X(celu) X(softplus) \
  X(hardtanh) X(leaky_relu) X(hardsigmoid) X(hardswish) X(log_sigmoid) \
  X(erf) X(erfc) X(floor) X(ceil) X(round) X(trunc) X(frac) \
  X(logical_not) X(isnan) X(isinf) X(isfinite) X(clone) X(detach) X(t) \
  X(nonzero) X(logit)

/* element-wise functions of two tensors (broadcasting): at::NAME(a, b) */
#define TH_BINARY_OPS(X) \
  X(add) X(sub) X(mul) X(div) X(pow) X(remainder) X(fmod) X(atan2) \
  X(maximum) X(minimum) X(eq) X(ne) X(lt) X(le) X(gt) X(ge) \
  X(logical_and) X(logical_or) X(logical_xor) X(bitwise_and) \
  X(bitwise_or) X(bitwise_xor) X(matmul) X(mm) X(bmm) X(dot) X(mv) \
  X(outer) X(floor_divide) X(hypot) X(xlogy)

/* in place, tensor argument: t.NAME(b) */
#define TH_INPLACE_BINARY_OPS(X) \
  X(add_) X(sub_) X(mul_) X(div_) X(pow_) X(copy_)

/* in place, no argument: t.NAME() */
#define TH_INPLACE_UNARY_OPS(X) \
  X(zero_) X(relu_) X(neg_) X(abs_) X(exp_) X(log_) X(sqrt_) X(sigmoid_) \
  X(tanh_) X(floor_) X(ceil_) X(round_) X(detach_) X(square_) \
  X(reciprocal_)

#define TH_DECLARE_UNARY(name) int th_##name(th_tensor *out, th_tensor a);
#define TH_DECLARE_BINARY(name) \
  int th_##name(th_tensor *out, th_tensor a, th_tensor b);
#define TH_DECLARE_INPLACE_BINARY(name) int th_##name(th_tensor a, th_tensor b);
#define TH_DECLARE_INPLACE_UNARY(name) int th_##name(th_tensor a);
TH_UNARY_OPS(TH_DECLARE_UNARY)
TH_BINARY_OPS(TH_DECLARE_BINARY)
TH_INPLACE_BINARY_OPS(TH_DECLARE_INPLACE_BINARY)
TH_INPLACE_UNARY_OPS(TH_DECLARE_INPLACE_UNARY)

/* a few with extra arguments */
int th_add_scaled(th_tensor *out, th_tensor a, th_tensor b, th_scalar alpha);
int th_add_scaled_(th_tensor a, th_tensor b, th_scalar alpha);
int th_pow_scalar(th_tensor *out, th_tensor a, th_scalar exponent);
int th_fill_(th_tensor a, th_scalar value);
int th_uniform_(th_tensor a, double from, double to);
int th_normal_(th_tensor a, double mean, double std);
int th_bernoulli_(th_tensor a, double p);
int th_clamp(th_tensor *out, th_tensor a, const th_scalar *min,
             const th_scalar *max); /* NULL bound: none */
int th_clamp_(th_tensor a, const th_scalar *min, const th_scalar *max);
int th_where(th_tensor *out, th_tensor cond, th_tensor a, th_tensor b);
int th_masked_fill(th_tensor *out, th_tensor a, th_tensor mask, th_tensor v);
int th_lerp(th_tensor *out, th_tensor a, th_tensor b, th_tensor w);
int th_allclose(th_tensor a, th_tensor b, double rtol, double atol,
                int equal_nan); /* 1, 0, or -1 on error */
int th_equal(th_tensor a, th_tensor b);

/* reductions over dims (ndims < 0: over everything) */
enum {
  TH_SUM, TH_MEAN, TH_PROD, TH_STD, TH_VAR, TH_AMAX, TH_AMIN, TH_ALL,
  TH_ANY, TH_LOGSUMEXP, TH_NORM
};
int th_reduce(th_tensor *out, int op, th_tensor a, const int64_t *dims,
              int ndims, int keepdim, int unbiased);
int th_max_dim(th_tensor *values, th_tensor *indices, th_tensor a,
               int64_t dim, int keepdim, int is_min);
int th_argmax(th_tensor *out, th_tensor a, int64_t dim, int keepdim,
              int is_min); /* dim TH_NODIM: over everything */
int th_softmax(th_tensor *out, th_tensor a, int64_t dim, int log);
int th_cumulate(th_tensor *out, th_tensor a, int64_t dim, int prod);
int th_sort(th_tensor *values, th_tensor *indices, th_tensor a, int64_t dim,
            int descending);
int th_topk(th_tensor *values, th_tensor *indices, th_tensor a, int64_t k,
            int64_t dim, int largest);

/* shapes and views; dims are 0-based here, the bindings translate */
enum { TH_VIEW, TH_RESHAPE, TH_EXPAND, TH_PERMUTE, TH_REPEAT, TH_FLIP };
int th_reshape(th_tensor *out, int how, th_tensor a, const int64_t *sizes,
               int ndim);
int th_transpose(th_tensor *out, th_tensor a, int64_t d0, int64_t d1);
int th_squeeze(th_tensor *out, th_tensor a, int64_t dim); /* TH_NODIM: all */
int th_unsqueeze(th_tensor *out, th_tensor a, int64_t dim);
int th_flatten(th_tensor *out, th_tensor a, int64_t start, int64_t end);
int th_contiguous(th_tensor *out, th_tensor a);
int th_select(th_tensor *out, th_tensor a, int64_t dim, int64_t index);
int th_narrow(th_tensor *out, th_tensor a, int64_t dim, int64_t start,
              int64_t length);
int th_slice(th_tensor *out, th_tensor a, int64_t dim, int64_t start,
             int64_t end, int64_t step);
int th_index_select(th_tensor *out, th_tensor a, int64_t dim, th_tensor idx);
int th_masked_select(th_tensor *out, th_tensor a, th_tensor mask);
int th_gather(th_tensor *out, th_tensor a, int64_t dim, th_tensor idx);
int th_scatter(th_tensor *out, th_tensor a, int64_t dim, th_tensor idx,
               th_tensor src, int add);
int th_cat(th_tensor *out, const th_tensor *list, int n, int64_t dim,
           int stack);
/* split into pieces of `size` (by_count 0) or into `size` chunks
   (by_count 1); returns the number of pieces written (at most cap) */
int th_split(th_tensor *outs, int cap, th_tensor a, int64_t size, int64_t dim,
             int by_count);

/* autograd */
int th_requires_grad(th_tensor t);
int th_set_requires_grad(th_tensor t, int flag);
int th_is_leaf(th_tensor t);
int th_grad(th_tensor *out, th_tensor t); /* *out = NULL when undefined */
int th_set_grad(th_tensor t, th_tensor g); /* g NULL clears it */
int th_retain_grad(th_tensor t);
int th_backward(th_tensor t, th_tensor grad, int retain_graph,
                int create_graph);
int th_grad_fn_name(th_tensor t, char *buf, size_t size); /* "" for none */
int th_set_grad_enabled(int enabled); /* returns the previous mode */
int th_is_grad_enabled(void);

/* nn modules (bridge/nn.cpp) */

/* optimizers (bridge/optim.cpp) */

/* TorchScript and serialization (bridge/jit.cpp) */

#ifdef __cplusplus
}
#endif

#endif
