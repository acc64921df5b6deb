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

/* devices: TH_CPU, TH_CUDA (the current CUDA device) or TH_CUDA_INDEX(k)
   for cuda:k, so one int carries what at::Device holds */
enum { TH_CPU, TH_CUDA };
#define TH_CUDA_INDEX(k) (TH_CUDA + 1 + (k))

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
/* "cpu", "cuda", "cuda:1" as at::Device parses them, into *code; an unknown
   name or a device this build or machine lacks is an error */
int th_parse_device(int *code, const char *name);
/* the name of a device code ("cpu", "cuda:0"), into buf */
void th_device_name(char *buf, size_t size, int code);
int th_test_throw(int kind); /* 0 c10::Error, 1 std::runtime_error, 2 int */

/* lifetime and inspection */
void th_free(th_tensor t);
int th_alias(th_tensor *out, th_tensor t); /* a second handle, same tensor */
int th_dim(th_tensor t);
int th_sizes(th_tensor t, int64_t *sizes); /* returns dim; sizes[TH_MAX_DIMS] */
int th_strides(th_tensor t, int64_t *strides);
int th_dtype(th_tensor t);
int th_device(th_tensor t);
/* PyTorch's `t.data = v`: t keeps its identity, takes v's data, dtype, device */
int th_set_data(th_tensor t, th_tensor v);
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
int th_div_rounding(th_tensor *out, th_tensor a, th_tensor b, int mode); /* 1 trunc, 2 floor */
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
/* backward accumulating only into inputs[0..n) (PyTorch's inputs=) */
int th_backward_inputs(th_tensor t, th_tensor grad, int retain_graph, int create_graph,
                       const th_tensor *inputs, int n);
int th_grad_fn_name(th_tensor t, char *buf, size_t size); /* "" for none */
int th_set_grad_enabled(int enabled); /* returns the previous mode */
int th_is_grad_enabled(void);
/* CPU autocast (torch.autocast("cpu")): enter keeps the previous state in
   *prev for exit, which puts it back (and clears the cast cache when the
   outermost region ends) */
typedef struct {
  int enabled;
  int dtype;
} th_autocast_state;
int th_autocast_cpu_enter(int enabled, int dtype, th_autocast_state *prev);
int th_autocast_cpu_exit(const th_autocast_state *prev);
int th_autocast_cpu_enabled(void);
int th_autocast_cpu_dtype(void); /* a TH_* dtype */

/* nn modules (bridge/nn.cpp) */
/* A module handle is one of libtorch's own torch::nn modules (float32, in
   training mode when made).  Its parameters and buffers are listed once at
   construction; th_module_tensor hands out handles aliasing them, so
   in-place updates through those handles (optimizer steps, copy_ from a
   state_dict) change the module itself.  Dims and positions are 0-based. */
typedef struct th_module_s *th_module;

/* padding modes of convolutions; padding_string "same"/"valid" as numbers */
enum { TH_PAD_ZEROS, TH_PAD_REFLECT, TH_PAD_REPLICATE, TH_PAD_CIRCULAR };
enum { TH_PADDING_NUMBERS, TH_PADDING_SAME, TH_PADDING_VALID };
typedef struct {
  int dims; /* 1..3 */
  int transposed;
  int64_t in_channels, out_channels, groups;
  int64_t kernel_size[3], stride[3], padding[3], output_padding[3],
      dilation[3];
  int padding_string; /* TH_PADDING_*: SAME/VALID ignore padding[] */
  int padding_mode;   /* TH_PAD_* */
  int bias;
} th_conv_options;

enum { TH_MAX_POOL, TH_AVG_POOL, TH_ADAPTIVE_AVG_POOL, TH_ADAPTIVE_MAX_POOL };
typedef struct {
  int kind, dims;
  int64_t kernel_size[3]; /* adaptive: the output size, -1 for None */
  int64_t stride[3], padding[3], dilation[3];
  int ceil_mode, count_include_pad;
  int64_t divisor_override; /* 0: none */
} th_pool_options;

enum { TH_LSTM, TH_GRU, TH_RNN_TANH, TH_RNN_RELU };
typedef struct {
  int mode;
  int64_t input_size, hidden_size, num_layers, proj_size;
  int bias, batch_first, bidirectional;
  double dropout;
} th_rnn_options;

/* activations and shape modules: param is the slope (LEAKY_RELU), alpha
   (ELU), or the 0-based dim (SOFTMAX, LOG_SOFTMAX) */
enum {
  TH_ACT_IDENTITY, TH_ACT_RELU, TH_ACT_LEAKY_RELU, TH_ACT_GELU,
  TH_ACT_GELU_TANH, TH_ACT_SILU, TH_ACT_ELU, TH_ACT_TANH, TH_ACT_SIGMOID,
  TH_ACT_SOFTMAX, TH_ACT_LOG_SOFTMAX
};

int th_linear_new(th_module *out, int64_t in_features, int64_t out_features,
                  int bias);
int th_bilinear_new(th_module *out, int64_t in1_features, int64_t in2_features,
                    int64_t out_features, int bias);
int th_conv_new(th_module *out, const th_conv_options *o);
int th_pool_new(th_module *out, const th_pool_options *o);
/* momentum < 0: None (cumulative average) */
int th_batchnorm_new(th_module *out, int dims, int64_t num_features, double eps,
                     double momentum, int affine, int track_running_stats);
int th_layernorm_new(th_module *out, const int64_t *shape, int n, double eps,
                     int elementwise_affine);
int th_groupnorm_new(th_module *out, int64_t num_groups, int64_t num_channels,
                     double eps, int affine);
int th_dropout_new(th_module *out, double p, int inplace);
/* padding_idx TH_NODIM: none; max_norm < 0: none */
int th_embedding_new(th_module *out, int64_t num_embeddings,
                     int64_t embedding_dim, int64_t padding_idx,
                     double max_norm, double norm_type,
                     int scale_grad_by_freq);
int th_rnn_new(th_module *out, const th_rnn_options *o);
int th_activation_new(th_module *out, int kind, double param, int inplace);
int th_flatten_new(th_module *out, int64_t start_dim, int64_t end_dim);
int th_unflatten_new(th_module *out, int64_t dim, const int64_t *sizes, int n);

void th_module_free(th_module m);
/* runs forward on nin inputs (an RNN: input[, h0[, c0]]); writes up to
   TH_MODULE_MAX_IO outputs (an RNN: output, h[, c]) and returns how many */
#define TH_MODULE_MAX_IO 3
int th_module_forward(th_tensor *outs, th_module m, const th_tensor *ins,
                      int nin);
int th_module_train(th_module m, int mode);
/* the module's parameters (buffers 0) or buffers (buffers 1), in
   registration order: how many, and the i-th (0-based) as a new aliasing
   handle with its dotted name copied into name[size] */
int th_module_count(th_module m, int buffers);
int th_module_tensor(th_tensor *out, char *name, size_t size, th_module m,
                     int buffers, int i);
/* replaces parameter `name` (weight, bias) by `value`, of the same shape and
   dtype, so forward uses it and gradients reach it: weight tying, as
   PyTorch's module.weight = Parameter(...).  Fails for modules whose
   forward reads no such member (RNNs keep flat weights) */
int th_module_set_parameter(th_module m, const char *name, th_tensor value);

/* optimizers (bridge/optim.cpp) */
typedef struct th_optimizer_s *th_optimizer;
enum {
  TH_OPTIM_SGD, TH_OPTIM_ADAM, TH_OPTIM_ADAMW, TH_OPTIM_RMSPROP,
  TH_OPTIM_ADAGRAD, TH_OPTIM_LBFGS, TH_OPTIM_NKINDS
};

/* the hyperparameters of one parameter group; each kind reads its own */
typedef struct {
  double lr, momentum, dampening, weight_decay, eps, alpha, beta1, beta2,
      lr_decay, initial_accumulator_value, tolerance_grad, tolerance_change;
  int64_t max_iter, max_eval, history_size;
  int nesterov, amsgrad, centered, strong_wolfe;
} th_optim_options;

/* groups[g] holds sizes[g] consecutive tensors of params; defaults are the
   constructor's options (Adagrad fills every accumulator from them) */
int th_optim_new(th_optimizer *out, int kind, const th_tensor *params,
                 const int *sizes, const th_optim_options *groups,
                 int ngroups, const th_optim_options *defaults);
void th_optim_free(th_optimizer o);
int th_optim_get_options(th_optimizer o, int group, th_optim_options *out);
int th_optim_set_options(th_optimizer o, int group,
                         const th_optim_options *opts);
int th_optim_zero_grad(th_optimizer o);

/* the loss closure runs the caller's code and stores a new handle to the
   loss in *loss; non-zero means it failed (the caller keeps its own reason:
   the step then fails with "loss closure failed") */
typedef int (*th_closure)(void *ud, th_tensor *loss);
int th_optim_step(th_optimizer o, th_tensor *loss, th_closure fn,
                  void *ud); /* fn NULL: no closure, *loss untouched */

/* per-parameter state as named entries (group and index 0-based); tensors
   are copied both ways; an LBFGS history (a list of tensors) is one tensor
   stacked along a new first dim */
enum { TH_STATE_TENSOR, TH_STATE_INT, TH_STATE_FLOAT };
#define TH_STATE_MAX 16
/* names and kinds of the defined entries; 0 when there is no state */
int th_optim_state_names(th_optimizer o, int group, int index,
                         const char **names, int *kinds);
int th_optim_state_tensor(th_tensor *out, th_optimizer o, int group,
                          int index, const char *name);
int th_optim_state_number(double *out, th_optimizer o, int group, int index,
                          const char *name);
int th_optim_state_set_tensor(th_optimizer o, int group, int index,
                              const char *name, th_tensor value);
int th_optim_state_set_number(th_optimizer o, int group, int index,
                              const char *name, double value);
int th_optim_state_clear(th_optimizer o, int group, int index);


/* TorchScript and serialization (bridge/jit.cpp) */

/* A value as TorchScript and pickles know it (a c10::IValue): what script
   methods take and return and what torch.save writes.  Values are read
   through accessors and built container first, then item by item; every
   handle is released with th_value_free.  Files are the bindings' business:
   the bridge reads and writes bytes (string values). */
typedef struct th_value_s *th_value;
typedef struct th_script_s *th_script; /* a TorchScript module */

enum {
  TH_V_NONE, TH_V_TENSOR, TH_V_BOOL, TH_V_INT, TH_V_FLOAT, TH_V_STRING,
  TH_V_LIST, TH_V_TUPLE, TH_V_DICT, TH_V_MODULE, TH_V_OTHER
};

void th_value_free(th_value v);
int th_value_kind(th_value v);
int th_value_typename(th_value v, char *buf, size_t size);
int64_t th_value_len(th_value v); /* items of a list, tuple or dict */
/* item i (0-based) of a list or tuple, or the value of dict entry i */
int th_value_at(th_value *out, th_value v, int64_t i);
int th_value_key(th_value *out, th_value v, int64_t i); /* dict entry i */
int th_value_tensor(th_tensor *out, th_value v); /* the same tensor */
int th_value_scalar(th_scalar *out, th_value v); /* bool, int, float */
const char *th_value_string(th_value v, size_t *len); /* NULL: not one */
int th_value_module(th_script *out, th_value v);
/* a list, tuple or dict's identity (equal when two values are one
   container), or NULL for other values */
const void *th_value_id(th_value v);

int th_value_new(th_value *out, int kind); /* NONE, LIST, TUPLE or DICT */
int th_value_from_tensor(th_value *out, th_tensor t);
int th_value_from_scalar(th_value *out, th_scalar s);
int th_value_from_string(th_value *out, const char *s, size_t len);
int th_value_from_module(th_value *out, th_script m);
int th_value_append(th_value list, th_value item); /* list or tuple */
int th_value_insert(th_value dict, th_value key, th_value item);

/* pickles in PyTorch's zip format (torch.save / torch.load in Python) */
int th_pickle_save(th_value *bytes, th_value v);
/* map (optional): n pairs location, device ("cuda:0", "cpu"; location "*"
   for any other); storages of an unmapped location load on the CPU.
   *locations: the list of the file's storage locations, each once */
int th_pickle_load(th_value *out, th_value *locations, const char *data, size_t len,
                   const char *const *map, int n);
/* the readers' limits (clara.limits.pickle_depth, script_depth,
   script_terms); 0 keeps one.  torch.load and torch.jit.load refuse
   nesting and TorchScript statements beyond them */
void th_load_set_limits(int64_t pickle_depth, int64_t script_depth, int64_t script_terms);

/* TorchScript modules */
enum { TH_SLOT_PARAMETER, TH_SLOT_BUFFER, TH_SLOT_MODULE, TH_SLOT_ATTRIBUTE };
void th_script_free(th_script m);
/* device: a device code where every tensor goes (map_location), or -1:
   where the file says */
int th_script_load(th_script *out, const char *data, size_t len, int device);
int th_script_save(th_value *bytes, th_script m);
int th_script_new(th_script *out, const char *name); /* empty, training */
int th_script_register(th_script m, const char *name, th_value v, int slot);
int th_script_define(th_script m, const char *source);
/* TorchScript source's deepest nesting (brackets, blocks, prefix operators)
   and most terms of one statement, each with its line:
   shape = {depth, depth_line, terms, terms_line} */
int th_source_shape(const char *source, size_t len, int64_t shape[4]);
int th_script_call(th_value *out, th_script m, const char *method,
                   const th_value *args, int nargs);
int th_script_has_method(th_script m, const char *method); /* 1, 0, -1 */
int th_script_methods(th_value *out, th_script m);  /* list of names */
/* dict name -> tensor or module, in registration order; slot is one of
   PARAMETER, BUFFER, MODULE (direct children only) */
int th_script_named(th_value *out, th_script m, int slot, int recurse);
int th_script_train(th_script m, int on);
int th_script_is_training(th_script m); /* 1, 0, -1 */
int th_script_name(th_value *out, th_script m); /* "Net" of __torch__.Net */
int th_script_code(th_value *out, th_script m, const char *method);

/* ATen operators by schema name ("aten::conv2d", overload "" or e.g.
   "Tensor"), called through the dispatcher (bridge/dispatch.cpp): missing
   trailing arguments take the schema's defaults; several returns come back
   as one tuple */
int th_op_exists(const char *name, const char *overload); /* 1, 0, -1 */
int th_op_schema(th_value *out, const char *name, const char *overload);
int th_op_call(th_value *out, const char *name, const char *overload,
               const th_value *args, int nargs);

/* losses (bridge/losses.cpp) */

/* CTC: log_probs (T, N, C) or (T, C), targets (N, S) or concatenated,
   lengths int64 tensors; per-sample losses (no reduction) */
int th_ctc_loss(th_tensor *out, th_tensor log_probs, th_tensor targets,
                th_tensor input_lengths, th_tensor target_lengths,
                int64_t blank, int zero_infinity);

/* cross-entropy of logits and NLL of log-probabilities against int64
   class indices, as PyTorch computes them (one kernel each, not a dozen
   tensor operations); weight may be NULL */
enum { TH_REDUCTION_NONE, TH_REDUCTION_MEAN, TH_REDUCTION_SUM };
int th_cross_entropy(th_tensor *out, th_tensor input, th_tensor target,
                     th_tensor weight, int reduction, int64_t ignore_index,
                     double label_smoothing);
int th_nll_loss(th_tensor *out, th_tensor input, th_tensor target,
                th_tensor weight, int reduction, int64_t ignore_index);

/* random number generator state (bridge/rng.cpp): the default CPU
   generator's state as a uint8 tensor, as torch.get_rng_state() in PyTorch */
int th_get_rng_state(th_tensor *out);
int th_set_rng_state(th_tensor state);

/* fused training steps (bridge/fused.cpp), the fast twins of
   clara.train.clear's step (stdlib/clara/train/fast.lua drives them).
   A fused plan holds a model that is a chain of native modules (each
   output feeds the next), one of clara's losses, its term weight and,
   when libtorch's own, the optimizer; module and optimizer handles are
   borrowed (the caller keeps them alive).  One call runs a micro-batch:
   zero_grad, forward, loss, backward, optimizer step, running sums;
   every operation is the one clara's Lua code runs, in the same order, so
   the results are bitwise those of the clear loop.  A batch whose shapes
   or values the fused loss or accuracy does not cover comes back
   TH_FUSED_FALLBACK after the forward (nothing else done): the caller
   finishes it in Lua with th_fused_take's tensors. */
typedef struct th_fused_s *th_fused;

enum { /* the losses, as clara.losses computes them with default options */
  TH_FUSED_CROSS_ENTROPY, TH_FUSED_NLL, TH_FUSED_MSE, TH_FUSED_L1,
  TH_FUSED_BCE_WITH_LOGITS, TH_FUSED_NLOSSES
};
enum { TH_FUSED_TRAIN, TH_FUSED_EVAL }; /* data slots and running sums */

/* flags of a micro-batch */
#define TH_FUSED_ZERO_GRAD 1 /* optimizer zero_grad first */
#define TH_FUSED_STEP 2      /* optimizer step after backward (if finite) */
#define TH_FUSED_SCALED 4    /* backward of total * scale (accumulation) */
#define TH_FUSED_KEEP 8      /* keep output and batch for th_fused_take */
#define TH_FUSED_COUNT 16    /* count correct argmax predictions */
#define TH_FUSED_AUTOCAST 32 /* forward and loss under CPU autocast to bfloat16 */

enum { /* what a micro-batch did */
  TH_FUSED_OK,
  TH_FUSED_NONFINITE_TERM,  /* the loss is not finite (value in *value) */
  TH_FUSED_NONFINITE_TOTAL, /* the weighted loss is not finite */
  TH_FUSED_FALLBACK,        /* forward done, nothing else: finish in Lua */
  TH_FUSED_FORWARD_FAILED   /* a module raised: the caller reruns forward */
};

typedef struct {
  int flags;
  th_tensor x, y;       /* the batch, or NULL: assembled from the slot */
  int64_t start, rows;  /* rows [start, start + rows) of the permutation */
  double scale;         /* TH_FUSED_SCALED */
} th_fused_args;

/* running sums of one slot, as clara.train.clear keeps them: n samples,
   loss (the weighted total), raw and weighted term sums (terms: whether a
   finite batch was added), correct predictions of count */
typedef struct {
  int64_t n;
  double loss, raw, weighted;
  int terms;
  int64_t correct, count;
} th_fused_sums;

/* weight: the term weight as Lua has it (integer or float) */
int th_fused_new(th_fused *out, const th_module *modules, int n,
                 th_optimizer opt, int loss, th_scalar weight);
void th_fused_free(th_fused f);
/* the slot's tensors (input, target) and permutation (int64, 0-based) */
int th_fused_data(th_fused f, int slot, th_tensor x, th_tensor y,
                  th_tensor perm);
int th_fused_batch(th_tensor *x, th_tensor *y, th_fused f, int slot,
                   int64_t start, int64_t rows);
/* one micro-batch, training (slot TRAIN) or evaluation (slot EVAL, no
   gradients); returns TH_FUSED_* in *status, the non-finite value in *value */
int th_fused_train(int *status, double *value, th_fused f,
                   const th_fused_args *a);
int th_fused_eval(int *status, double *value, th_fused f,
                  const th_fused_args *a);
/* the output and batch the last micro-batch kept (NULL: none) */
int th_fused_take(th_tensor *output, th_tensor *x, th_tensor *y, th_fused f);
/* sums of a slot; take_counts: correct and count restart at 0 */
int th_fused_get_sums(th_fused_sums *out, th_fused f, int which,
                      int take_counts);
int th_fused_set_sums(th_fused f, int which, const th_fused_sums *s);
/* a batch finished in Lua adds its numbers (terms 0: the loss only) */
int th_fused_add(th_fused f, int which, int64_t rows, double loss, int terms,
                 double raw, double weighted);
/* the last finite training batch's loss and total: 1, or 0 before any */
int th_fused_last(double *raw, double *total, th_fused f);

/* {====================== distributed (bridge/dist.cpp) ======================
   A process group over c10d's Gloo backend.  Ranks are 0-based (an
   identity).  Every collective works in place and waits for its end; one
   that fails or outlives the timeout names the ranks that did not take part,
   and the group is broken from then on (th_dist_free lets it go). */
typedef struct th_pg_s *th_pg;
enum { TH_DIST_TCP, TH_DIST_FILE };
enum { TH_DIST_SUM, TH_DIST_AVG, TH_DIST_PRODUCT, TH_DIST_MIN, TH_DIST_MAX };

/* kind TH_DIST_TCP: where is the master's host, rank 0 hosts the store on
   port; TH_DIST_FILE: where is the file.  timeout in seconds, for the
   rendezvous and every collective.  check: compare every collective's op,
   dtype and size across ranks first (on only when every rank asks for it:
   a Python peer does not) */
int th_dist_init(th_pg *out, int kind, const char *where, int port, int rank,
                 int world_size, double timeout, int check);
void th_dist_free(th_pg g);
int th_dist_checked(th_pg g); /* 1: the collective checks are on */
int th_dist_all_reduce(th_pg g, th_tensor t, int op);
/* n tensors of one dtype, flattened into one buffer: one collective */
int th_dist_all_reduce_coalesced(th_pg g, const th_tensor *ts, int n, int op);
int th_dist_reduce(th_pg g, th_tensor t, int dst, int op);
int th_dist_broadcast(th_pg g, th_tensor t, int src);
/* outs: n == world_size tensors shaped as t */
int th_dist_all_gather(th_pg g, const th_tensor *outs, int n, th_tensor t);
int th_dist_barrier(th_pg g);

/* The gradients of a data-parallel step averaged while backward runs
   (bridge/reducer.cpp): the parameters in buckets (the first of
   first_bucket_mb, the others of bucket_mb), each bucket's all_reduce begun
   as soon as backward has filled it.  Only an armed backward begins them;
   finish() begins the rest, waits, and writes the averages into the .grad
   of every parameter some rank gave a gradient.  nflags numbers ride along,
   summed over the ranks: arm()'s, or finish()'s when backward did not reach
   the last bucket (no armed backward ran).  Checks at creation that every
   rank has the same buckets.  transport: TH_REDUCE_GLOO (Gloo's
   all_reduce), TH_REDUCE_SHM (shared memory: every rank on this host, an
   error otherwise) or TH_REDUCE_AUTO (shared memory when every rank can,
   Gloo otherwise); th_reducer_transport() says which was taken. */
typedef struct th_reducer_s *th_reducer;
enum { TH_REDUCE_AUTO, TH_REDUCE_GLOO, TH_REDUCE_SHM };
int th_reducer_new(th_reducer *out, th_pg g, const th_tensor *params, int n,
                   double first_bucket_mb, double bucket_mb, int nflags, int transport);
int th_reducer_transport(th_reducer r);
int th_reducer_arm(th_reducer r, const double *flags, int nflags);
int th_reducer_finish(th_reducer r, const double *flags, int nflags, double *out);
int th_reducer_buckets(th_reducer r);
void th_reducer_free(th_reducer r);
/* }========================================================================= */

#ifdef __cplusplus
}
#endif

#endif
