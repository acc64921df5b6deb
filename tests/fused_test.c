/*
** fused_test.c: the fused training step (bindings/bridge/fused.cpp) from
** C, against values worked out by hand: a Linear(2, 2) with zero weights
** gives logits 0, so cross entropy is log 2, the bias gradient of targets
** (0, 0) is (-1/2, 1/2) and one SGD step of lr 1 moves the bias to
** (1/2, -1/2); the argmax of equal scores is class 0.  Then the batches the
** fused loss leaves to Lua, non-finite losses and the error paths.
** (spec/fast_spec.lua proves the whole loop equal to the clear one.)
*/
#include <math.h>
#include <string.h>

#include <criterion/criterion.h>

#include "torch_bridge.h"

static const th_options F32 = {TH_DTYPE_DEFAULT, TH_CPU, 0};
static const th_options I64 = {TH_INT64, TH_CPU, 0};

static th_tensor tensor(const void *v, int dtype, const int64_t *sizes, int ndim) {
  th_tensor t = NULL;
  cr_assert_eq(th_from_data(&t, v, dtype, sizes, ndim, dtype == TH_INT64 ? I64 : F32), 0, "%s",
               th_last_error());
  return t;
}

/* a Linear(2, 2) with zero weight and bias, SGD lr 1, and its plan */
typedef struct {
  th_module linear;
  th_tensor weight, bias;
  th_optimizer opt;
  th_fused f;
} Setup;

static Setup setup_plan(void) {
  Setup s;
  char name[64];
  cr_assert_eq(th_linear_new(&s.linear, 2, 2, 1), 0, "%s", th_last_error());
  cr_assert_eq(th_module_tensor(&s.weight, name, sizeof name, s.linear, 0, 0), 0);
  cr_assert_eq(th_module_tensor(&s.bias, name, sizeof name, s.linear, 0, 1), 0);
  th_scalar zero = {TH_SCALAR_FLOAT, 0, 0};
  cr_assert_eq(th_set_grad_enabled(0), 1);
  cr_assert_eq(th_fill_(s.weight, zero), 0);
  cr_assert_eq(th_fill_(s.bias, zero), 0);
  th_set_grad_enabled(1);
  th_tensor params[2] = {s.weight, s.bias};
  int sizes[1] = {2};
  th_optim_options o;
  memset(&o, 0, sizeof o);
  o.lr = 1;
  cr_assert_eq(th_optim_new(&s.opt, TH_OPTIM_SGD, params, sizes, &o, 1, &o), 0, "%s", th_last_error());
  th_scalar one = {TH_SCALAR_INT, 0, 1};
  cr_assert_eq(th_fused_new(&s.f, &s.linear, 1, s.opt, TH_FUSED_CROSS_ENTROPY, one), 0, "%s",
               th_last_error());
  return s;
}

static void teardown_plan(Setup *s) {
  th_fused_free(s->f);
  th_optim_free(s->opt);
  th_free(s->weight);
  th_free(s->bias);
  th_module_free(s->linear);
}

static void read_floats(th_tensor t, float *out, int n) {
  th_tensor c = NULL;
  cr_assert_eq(th_contiguous_as(&c, t, TH_FLOAT32), 0);
  memcpy(out, th_data_ptr(c), (size_t)n * sizeof(float));
  th_free(c);
}

Test(fused, one_step_against_hand_values) {
  Setup s = setup_plan();
  const float xv[4] = {1, 2, -1, 3};
  const int64_t yv[2] = {0, 0}, pv[2] = {1, 0}, xs[2] = {2, 2}, ys[1] = {2};
  th_tensor x = tensor(xv, TH_FLOAT32, xs, 2), y = tensor(yv, TH_INT64, ys, 1);
  th_tensor perm = tensor(pv, TH_INT64, ys, 1);
  cr_assert_eq(th_fused_data(s.f, TH_FUSED_TRAIN, x, y, perm), 0, "%s", th_last_error());
  /* 1. one micro-batch: zero_grad, forward, loss, backward, step, counts */
  th_fused_args a = {TH_FUSED_ZERO_GRAD | TH_FUSED_STEP | TH_FUSED_COUNT, NULL, NULL, 0, 2, 1};
  int status = -1;
  double value = 0, raw = 0, total = 0;
  cr_assert_eq(th_fused_train(&status, &value, s.f, &a), 0, "%s", th_last_error());
  cr_assert_eq(status, TH_FUSED_OK);
  cr_assert_eq(th_fused_last(&raw, &total, s.f), 1);
  cr_assert(fabs(raw - log(2.0)) < 1e-6, "loss %g, expected log 2", raw);
  cr_assert_eq(raw, total, "weight 1: the total is the loss");
  float b[2];
  read_floats(s.bias, b, 2);
  cr_assert(fabsf(b[0] - 0.5f) < 1e-6f && fabsf(b[1] + 0.5f) < 1e-6f, "bias (%g, %g)", b[0], b[1]);
  /* 2. the running sums: n, loss * n, and both argmax predictions right */
  th_fused_sums sums;
  cr_assert_eq(th_fused_get_sums(&sums, s.f, TH_FUSED_TRAIN, 1), 0);
  cr_assert_eq(sums.n, 2);
  cr_assert_eq(sums.loss, raw * 2);
  cr_assert(sums.terms);
  cr_assert_eq(sums.correct, 2);
  cr_assert_eq(sums.count, 2);
  cr_assert_eq(th_fused_get_sums(&sums, s.f, TH_FUSED_TRAIN, 0), 0);
  cr_assert_eq(sums.count, 0, "take_counts restarts the counts");
  /* 3. the batch as C assembles it: rows 1 then 0 of x */
  th_tensor bx = NULL, by = NULL;
  cr_assert_eq(th_fused_batch(&bx, &by, s.f, TH_FUSED_TRAIN, 0, 2), 0);
  float got[4];
  read_floats(bx, got, 4);
  cr_assert(got[0] == -1 && got[1] == 3 && got[2] == 1 && got[3] == 2);
  th_free(bx), th_free(by), th_free(x), th_free(y), th_free(perm);
  teardown_plan(&s);
}

Test(fused, what_is_left_to_lua_and_errors) {
  Setup s = setup_plan();
  const float xv[4] = {1, 2, NAN, 3};
  const int64_t bad[2] = {0, 5}, good[2] = {1, 0}, xs[2] = {2, 2}, ys[1] = {2};
  th_tensor x = tensor(xv, TH_FLOAT32, xs, 2);
  th_tensor yb = tensor(bad, TH_INT64, ys, 1), yg = tensor(good, TH_INT64, ys, 1);
  int status = -1;
  double value = 0;
  /* 1. class 5 of 2 classes: after the forward, the output and batch kept */
  th_fused_args a = {TH_FUSED_ZERO_GRAD, x, yb, 0, 2, 1};
  cr_assert_eq(th_fused_train(&status, &value, s.f, &a), 0, "%s", th_last_error());
  cr_assert_eq(status, TH_FUSED_FALLBACK);
  th_tensor out = NULL, kx = NULL, ky = NULL;
  cr_assert_eq(th_fused_take(&out, &kx, &ky, s.f), 0);
  cr_assert_not_null(out);
  cr_assert_eq(th_dim(out), 2);
  th_free(out), th_free(kx), th_free(ky);
  /* 2. a NaN input: the loss's value comes back, no step is taken */
  a.y = yg;
  cr_assert_eq(th_fused_train(&status, &value, s.f, &a), 0, "%s", th_last_error());
  cr_assert_eq(status, TH_FUSED_NONFINITE_TERM);
  cr_assert(isnan(value));
  double raw, total;
  cr_assert_eq(th_fused_last(&raw, &total, s.f), 0, "no finite batch yet");
  /* 3. evaluation adds 0/0 for it, as the clear loop does */
  cr_assert_eq(th_fused_eval(&status, &value, s.f, &a), 0, "%s", th_last_error());
  th_fused_sums sums;
  cr_assert_eq(th_fused_get_sums(&sums, s.f, TH_FUSED_EVAL, 0), 0);
  cr_assert_eq(sums.n, 2);
  cr_assert(isnan(sums.loss));
  cr_assert(!sums.terms);
  /* 4. errors: a message, and nothing made */
  th_fused g = NULL;
  th_scalar one = {TH_SCALAR_INT, 0, 1};
  cr_assert_eq(th_fused_new(&g, &s.linear, 0, NULL, TH_FUSED_MSE, one), -1);
  cr_assert_null(g);
  cr_assert(strstr(th_last_error(), "no modules") != NULL, "%s", th_last_error());
  cr_assert_eq(th_fused_data(s.f, TH_FUSED_TRAIN, x, yg, x), -1);
  cr_assert(strstr(th_last_error(), "permutation") != NULL, "%s", th_last_error());
  th_fused_args none = {0, NULL, NULL, 0, 2, 1};
  cr_assert_eq(th_fused_eval(&status, &value, s.f, &none), -1);
  cr_assert(strstr(th_last_error(), "no data") != NULL, "%s", th_last_error());
  th_free(x), th_free(yb), th_free(yg);
  teardown_plan(&s);
}
