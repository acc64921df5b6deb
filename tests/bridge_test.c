/*
** bridge_test.c: the C bridge over libtorch (bindings/torch_bridge.h), with
** no Lua involved: creation and inspection, results of ops against values
** worked out by hand, views, the exception paths and their thread-local
** messages, autograd and grad mode.
**
** Criterion runs each Test in a fresh process, and loading libtorch costs
** about half a second, so the checks are functions grouped into a few
** Tests; a failed check fails its Test and its message says which.
*/
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "torch_bridge.h"

static const th_options F32 = {TH_DTYPE_DEFAULT, TH_CPU, 0};

/* a bogus handle: a failing call must leave *out holding it */
#define UNTOUCHED ((th_tensor)(uintptr_t)0x5eed)

/* {======================================================
** Helpers
** =======================================================*/

static th_tensor from_floats(const float *v, const int64_t *sizes, int ndim) {
  th_tensor t = NULL;
  cr_assert_eq(th_from_data(&t, v, TH_FLOAT32, sizes, ndim, F32), 0, "%s",
               th_last_error());
  cr_assert_not_null(t);
  return t;
}

/* a contiguous float64 copy of t, read into out[0..n) */
static void read_doubles(th_tensor t, double *out, int64_t n) {
  th_tensor c = NULL;
  cr_assert_eq(th_contiguous_as(&c, t, TH_FLOAT64), 0, "%s", th_last_error());
  cr_assert_eq(th_numel(c), n, "numel %lld, expected %lld",
               (long long)th_numel(c), (long long)n);
  memcpy(out, th_data_ptr(c), (size_t)n * sizeof(double));
  th_free(c);
}

static void expect_values(th_tensor t, const double *want, int64_t n) {
  double got[64];
  cr_assert_leq(n, 64);
  read_doubles(t, got, n);
  for (int64_t i = 0; i < n; i++)
    cr_expect_float_eq(got[i], want[i], 1e-5, "element %lld: got %g, want %g",
                       (long long)i, got[i], want[i]);
}

static void expect_sizes(th_tensor t, const int64_t *want, int n) {
  int64_t got[TH_MAX_DIMS];
  cr_assert_eq(th_sizes(t, got), n, "dim %d, expected %d", th_dim(t), n);
  for (int i = 0; i < n; i++)
    cr_expect_eq(got[i], want[i], "size[%d] = %lld, expected %lld", i,
                 (long long)got[i], (long long)want[i]);
}

static int contains(const char *s, const char *sub) {
  return s != NULL && strstr(s, sub) != NULL;
}

/* the message of a failure: set, single-line, no C++ backtrace */
static void expect_clean_error(const char *what) {
  const char *msg = th_last_error();
  cr_assert_not_null(msg);
  cr_expect_gt(strlen(msg), 0, "%s: empty error message", what);
  cr_expect(!contains(msg, "Exception raised from"),
            "%s: message carries a backtrace: %s", what, msg);
}

/* }====================================================== */

/* {======================================================
** Creation and inspection
** =======================================================*/

static void create_zeros_sizes_dtype_numel(void) {
  int64_t sizes[] = {2, 3, 4};
  th_tensor t = NULL;
  cr_assert_eq(th_new(&t, TH_NEW_ZEROS, sizes, 3, F32), 0, "%s", th_last_error());
  cr_expect_eq(th_dim(t), 3);
  expect_sizes(t, sizes, 3);
  cr_expect_eq(th_numel(t), 24);
  cr_expect_eq(th_dtype(t), TH_FLOAT32);
  cr_expect_eq(th_device(t), TH_CPU);
  cr_expect_eq(th_is_contiguous(t), 1);
  cr_expect_eq(th_nbytes(t), 24 * 4);
  int64_t strides[TH_MAX_DIMS];
  cr_assert_eq(th_strides(t, strides), 3);
  cr_expect_eq(strides[0], 12);
  cr_expect_eq(strides[1], 4);
  cr_expect_eq(strides[2], 1);
  const float *p = th_data_ptr(t);
  cr_assert_not_null(p);
  for (int i = 0; i < 24; i++) cr_expect_eq(p[i], 0.0f, "p[%d] = %g", i, p[i]);
  th_free(t);
}

static void create_ones_full_with_dtype(void) {
  int64_t sizes[] = {5};
  th_options i64 = {TH_INT64, TH_CPU, 0};
  th_tensor o = NULL, f = NULL;
  cr_assert_eq(th_new(&o, TH_NEW_ONES, sizes, 1, i64), 0, "%s", th_last_error());
  cr_expect_eq(th_dtype(o), TH_INT64);
  cr_expect_eq(th_nbytes(o), 5 * 8);
  const int64_t *po = th_data_ptr(o);
  for (int i = 0; i < 5; i++) cr_expect_eq(po[i], 1);
  th_scalar v = {TH_SCALAR_FLOAT, 2.5, 0};
  th_options f64 = {TH_FLOAT64, TH_CPU, 0};
  cr_assert_eq(th_full(&f, sizes, 1, v, f64), 0, "%s", th_last_error());
  cr_expect_eq(th_dtype(f), TH_FLOAT64);
  const double *pf = th_data_ptr(f);
  for (int i = 0; i < 5; i++) cr_expect_float_eq(pf[i], 2.5, 1e-12);
  th_free(o);
  th_free(f);
}

static void create_from_data_copies_and_converts(void) {
  int64_t src[] = {1, -2, 3, 40, 5, 6};
  int64_t sizes[] = {2, 3};
  th_tensor t = NULL;
  cr_assert_eq(th_from_data(&t, src, TH_INT64, sizes, 2, F32), 0, "%s",
               th_last_error());
  cr_expect_eq(th_dtype(t), TH_FLOAT32); /* converted to the requested dtype */
  expect_sizes(t, sizes, 2);
  src[0] = 99; /* the tensor owns a copy */
  const float *p = th_data_ptr(t);
  const float want[] = {1, -2, 3, 40, 5, 6};
  for (int i = 0; i < 6; i++) cr_expect_eq(p[i], want[i], "p[%d] = %g", i, p[i]);
  th_free(t);
}

static void create_arange_linspace_eye(void) {
  th_scalar s0 = {TH_SCALAR_INT, 0, 0}, s5 = {TH_SCALAR_INT, 5, 5},
            s1 = {TH_SCALAR_INT, 1, 1};
  th_tensor a = NULL, l = NULL, e = NULL;
  cr_assert_eq(th_arange(&a, s0, s5, s1, F32), 0, "%s", th_last_error());
  cr_expect_eq(th_dtype(a), TH_INT64); /* integer bounds give int64 */
  expect_values(a, (double[]){0, 1, 2, 3, 4}, 5);
  cr_assert_eq(th_linspace(&l, 0, 1, 5, F32), 0, "%s", th_last_error());
  expect_values(l, (double[]){0, 0.25, 0.5, 0.75, 1}, 5);
  cr_assert_eq(th_eye(&e, 2, 3, F32), 0, "%s", th_last_error());
  expect_values(e, (double[]){1, 0, 0, 0, 1, 0}, 6);
  th_free(a);
  th_free(l);
  th_free(e);
}

static void create_item_and_scalar_kinds(void) {
  th_tensor t = NULL;
  th_scalar in = {TH_SCALAR_INT, 0, 7}, out = {-1, 0, 0};
  cr_assert_eq(th_scalar_tensor(&t, in), 0, "%s", th_last_error());
  cr_expect_eq(th_dim(t), 0);
  cr_assert_eq(th_item(&out, t), 0, "%s", th_last_error());
  cr_expect_eq(out.kind, TH_SCALAR_INT);
  cr_expect_eq(out.i, 7);
  th_free(t);
  float v = 1.5f;
  t = from_floats(&v, NULL, 0);
  cr_assert_eq(th_item(&out, t), 0);
  cr_expect_eq(out.kind, TH_SCALAR_FLOAT);
  cr_expect_float_eq(out.f, 1.5, 1e-12);
  th_free(t);
}

static void create_dtype_names(void) {
  cr_expect_str_eq(th_dtype_name(TH_FLOAT32), "float32");
  cr_expect_str_eq(th_dtype_name(TH_INT64), "int64");
  cr_expect_str_eq(th_dtype_name(TH_BFLOAT16), "bfloat16");
  cr_expect_str_eq(th_dtype_name(TH_NDTYPES), "unknown");
  cr_expect_str_eq(th_dtype_name(-5), "unknown");
}

static void create_bad_dtype_fails_cleanly(void) {
  int64_t sizes[] = {2};
  th_options bad = {42, TH_CPU, 0};
  th_tensor t = UNTOUCHED;
  cr_expect_eq(th_new(&t, TH_NEW_ZEROS, sizes, 1, bad), -1);
  cr_expect_eq(t, UNTOUCHED);
  cr_expect(contains(th_last_error(), "invalid dtype code 42"), "%s",
            th_last_error());
}

static void lifetime_free_null_is_safe(void) {
  th_free(NULL);
  th_free(NULL); /* a crash here fails the test */
}

static void lifetime_alias_is_the_same_tensor(void) {
  int64_t sizes[] = {3};
  th_tensor t = NULL, a = NULL;
  cr_assert_eq(th_new(&t, TH_NEW_ZEROS, sizes, 1, F32), 0);
  cr_assert_eq(th_alias(&a, t), 0);
  cr_expect_neq(a, t);
  cr_expect_eq(th_data_ptr(a), th_data_ptr(t));
  th_free(t); /* the alias keeps the storage alive */
  th_scalar two = {TH_SCALAR_FLOAT, 2, 0};
  cr_assert_eq(th_fill_(a, two), 0);
  expect_values(a, (double[]){2, 2, 2}, 3);
  th_free(a);
}

/* }====================================================== */

/* {======================================================
** Operations against analytic values
** =======================================================*/

static void ops_add_broadcasts(void) {
  th_tensor a = from_floats((float[]){1, 2, 3, 4, 5, 6}, (int64_t[]){2, 3}, 2);
  th_tensor b = from_floats((float[]){10, 20, 30}, (int64_t[]){3}, 1);
  th_tensor c = NULL;
  cr_assert_eq(th_add(&c, a, b), 0, "%s", th_last_error());
  expect_sizes(c, (int64_t[]){2, 3}, 2);
  expect_values(c, (double[]){11, 22, 33, 14, 25, 36}, 6);
  th_tensor d = NULL;
  th_scalar alpha = {TH_SCALAR_INT, 2, 2};
  cr_assert_eq(th_add_scaled(&d, a, b, alpha), 0, "%s", th_last_error());
  expect_values(d, (double[]){21, 42, 63, 24, 45, 66}, 6);
  th_free(a);
  th_free(b);
  th_free(c);
  th_free(d);
}

static void ops_matmul_known_matrices(void) {
  /* [1 2; 3 4; 5 6] (3x2) times [7 8 9; 10 11 12] (2x3) */
  th_tensor a = from_floats((float[]){1, 2, 3, 4, 5, 6}, (int64_t[]){3, 2}, 2);
  th_tensor b = from_floats((float[]){7, 8, 9, 10, 11, 12}, (int64_t[]){2, 3}, 2);
  th_tensor c = NULL, d = NULL;
  cr_assert_eq(th_matmul(&c, a, b), 0, "%s", th_last_error());
  expect_sizes(c, (int64_t[]){3, 3}, 2);
  expect_values(c, (double[]){27, 30, 33, 61, 68, 75, 95, 106, 117}, 9);
  cr_assert_eq(th_matmul(&d, b, a), 0, "%s", th_last_error());
  expect_sizes(d, (int64_t[]){2, 2}, 2);
  expect_values(d, (double[]){76, 100, 103, 136}, 4);
  th_free(a);
  th_free(b);
  th_free(c);
  th_free(d);
}

static void ops_sum_mean_over_dims(void) {
  th_tensor a = from_floats((float[]){1, 2, 3, 4, 5, 6}, (int64_t[]){2, 3}, 2);
  th_tensor all = NULL, rows = NULL, cols = NULL, keep = NULL, mean = NULL;
  cr_assert_eq(th_reduce(&all, TH_SUM, a, NULL, -1, 0, 0), 0, "%s", th_last_error());
  cr_expect_eq(th_dim(all), 0);
  expect_values(all, (double[]){21}, 1);
  cr_assert_eq(th_reduce(&rows, TH_SUM, a, (int64_t[]){1}, 1, 0, 0), 0);
  expect_sizes(rows, (int64_t[]){2}, 1);
  expect_values(rows, (double[]){6, 15}, 2);
  cr_assert_eq(th_reduce(&cols, TH_SUM, a, (int64_t[]){0}, 1, 0, 0), 0);
  expect_values(cols, (double[]){5, 7, 9}, 3);
  cr_assert_eq(th_reduce(&keep, TH_SUM, a, (int64_t[]){-1}, 1, 1, 0), 0);
  expect_sizes(keep, (int64_t[]){2, 1}, 2);
  cr_assert_eq(th_reduce(&mean, TH_MEAN, a, (int64_t[]){0}, 1, 0, 0), 0);
  expect_values(mean, (double[]){2.5, 3.5, 4.5}, 3);
  th_tensor m = NULL;
  cr_assert_eq(th_reduce(&m, TH_MEAN, a, NULL, -1, 0, 0), 0);
  expect_values(m, (double[]){3.5}, 1);
  th_tensor *ts[] = {&a, &all, &rows, &cols, &keep, &mean, &m};
  for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) th_free(*ts[i]);
}

static void ops_softmax_rows_sum_to_one(void) {
  th_tensor a = from_floats((float[]){1, 2, 3, -1, 0, 10, 0.5f, 0.5f, 0.5f},
                            (int64_t[]){3, 3}, 2);
  th_tensor s = NULL, sums = NULL;
  cr_assert_eq(th_softmax(&s, a, 1, 0), 0, "%s", th_last_error());
  cr_assert_eq(th_reduce(&sums, TH_SUM, s, (int64_t[]){1}, 1, 0, 0), 0);
  expect_values(sums, (double[]){1, 1, 1}, 3);
  double v[9];
  read_doubles(s, v, 9);
  /* row 1: e^k / (e + e^2 + e^3) */
  double z = exp(1) + exp(2) + exp(3);
  cr_expect_float_eq(v[0], exp(1) / z, 1e-6);
  cr_expect_float_eq(v[2], exp(3) / z, 1e-6);
  cr_expect_float_eq(v[6], 1.0 / 3, 1e-6);
  th_tensor ls = NULL;
  cr_assert_eq(th_softmax(&ls, a, 1, 1), 0);
  double lv[9];
  read_doubles(ls, lv, 9);
  cr_expect_float_eq(lv[0], 1 - log(z), 1e-5);
  th_free(a);
  th_free(s);
  th_free(sums);
  th_free(ls);
}

static void views_select_narrow_slice_share_storage(void) {
  int64_t sizes[] = {3, 4};
  th_tensor a = NULL;
  cr_assert_eq(th_new(&a, TH_NEW_ZEROS, sizes, 2, F32), 0);
  const float *base = th_data_ptr(a);
  th_tensor row = NULL, nar = NULL, sl = NULL;
  cr_assert_eq(th_select(&row, a, 0, 1), 0, "%s", th_last_error());
  expect_sizes(row, (int64_t[]){4}, 1);
  cr_expect_eq((const float *)th_data_ptr(row), base + 4);
  cr_assert_eq(th_narrow(&nar, a, 1, 1, 2), 0, "%s", th_last_error());
  expect_sizes(nar, (int64_t[]){3, 2}, 2);
  cr_expect_eq((const float *)th_data_ptr(nar), base + 1);
  cr_expect_eq(th_is_contiguous(nar), 0);
  cr_assert_eq(th_slice(&sl, a, 1, 0, 4, 2), 0, "%s", th_last_error());
  expect_sizes(sl, (int64_t[]){3, 2}, 2);
  int64_t st[TH_MAX_DIMS];
  cr_assert_eq(th_strides(sl, st), 2);
  cr_expect_eq(st[1], 2);

  /* writes through each view land in the original */
  th_scalar one = {TH_SCALAR_FLOAT, 1, 0}, ten = {TH_SCALAR_FLOAT, 10, 0},
            hundred = {TH_SCALAR_FLOAT, 100, 0};
  cr_assert_eq(th_fill_(row, one), 0);
  cr_assert_eq(th_fill_(nar, ten), 0);
  cr_assert_eq(th_fill_(sl, hundred), 0);
  expect_values(a,
                (double[]){100, 10, 100, 0,
                           100, 10, 100, 1,
                           100, 10, 100, 0}, 12);
  th_free(a);
  th_free(row);
  th_free(nar);
  th_free(sl);
}

static void views_cat_stack_split_counts(void) {
  th_tensor a = from_floats((float[]){1, 2, 3, 4}, (int64_t[]){2, 2}, 2);
  th_tensor b = from_floats((float[]){5, 6, 7, 8}, (int64_t[]){2, 2}, 2);
  th_tensor list[] = {a, b, a};
  th_tensor c0 = NULL, c1 = NULL, s = NULL;
  cr_assert_eq(th_cat(&c0, list, 3, 0, 0), 0, "%s", th_last_error());
  expect_sizes(c0, (int64_t[]){6, 2}, 2);
  expect_values(c0, (double[]){1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4}, 12);
  cr_assert_eq(th_cat(&c1, list, 2, 1, 0), 0, "%s", th_last_error());
  expect_sizes(c1, (int64_t[]){2, 4}, 2);
  expect_values(c1, (double[]){1, 2, 5, 6, 3, 4, 7, 8}, 8);
  cr_assert_eq(th_cat(&s, list, 3, 0, 1), 0, "%s", th_last_error());
  expect_sizes(s, (int64_t[]){3, 2, 2}, 3);

  th_tensor parts[8] = {0};
  /* 6 rows in pieces of 4: 4 + 2 */
  cr_assert_eq(th_split(parts, 8, c0, 4, 0, 0), 2, "%s", th_last_error());
  expect_sizes(parts[0], (int64_t[]){4, 2}, 2);
  expect_sizes(parts[1], (int64_t[]){2, 2}, 2);
  expect_values(parts[1], (double[]){1, 2, 3, 4}, 4);
  th_free(parts[0]);
  th_free(parts[1]);
  /* into 3 chunks: 2 + 2 + 2 */
  cr_assert_eq(th_split(parts, 8, c0, 3, 0, 1), 3, "%s", th_last_error());
  for (int i = 0; i < 3; i++) {
    expect_sizes(parts[i], (int64_t[]){2, 2}, 2);
    th_free(parts[i]);
  }
  /* more pieces than room: an error, nothing written */
  parts[0] = UNTOUCHED;
  cr_expect_eq(th_split(parts, 2, c0, 1, 0, 0), -1);
  cr_expect_eq(parts[0], UNTOUCHED);
  cr_expect(contains(th_last_error(), "too many pieces"), "%s", th_last_error());
  th_free(a);
  th_free(b);
  th_free(c0);
  th_free(c1);
  th_free(s);
}

static void views_reshape_and_transpose(void) {
  th_tensor a = from_floats((float[]){1, 2, 3, 4, 5, 6}, (int64_t[]){2, 3}, 2);
  th_tensor v = NULL, t = NULL, r = NULL;
  cr_assert_eq(th_reshape(&v, TH_VIEW, a, (int64_t[]){3, -1}, 2), 0, "%s",
               th_last_error());
  expect_sizes(v, (int64_t[]){3, 2}, 2);
  cr_expect_eq(th_data_ptr(v), th_data_ptr(a));
  cr_assert_eq(th_transpose(&t, a, 0, 1), 0);
  expect_sizes(t, (int64_t[]){3, 2}, 2);
  expect_values(t, (double[]){1, 4, 2, 5, 3, 6}, 6);
  /* a transpose cannot be viewed flat, but it can be reshaped */
  th_tensor bad = UNTOUCHED;
  cr_expect_eq(th_reshape(&bad, TH_VIEW, t, (int64_t[]){6}, 1), -1);
  cr_expect_eq(bad, UNTOUCHED);
  expect_clean_error("view of a transpose");
  cr_assert_eq(th_reshape(&r, TH_RESHAPE, t, (int64_t[]){6}, 1), 0);
  expect_values(r, (double[]){1, 4, 2, 5, 3, 6}, 6);
  th_free(a);
  th_free(v);
  th_free(t);
  th_free(r);
}

/* }====================================================== */

/* {======================================================
** Exceptions become -1 and a message
** =======================================================*/

static void errors_c10_error_without_backtrace(void) {
  cr_assert_eq(th_test_throw(0), -1);
  const char *msg = th_last_error();
  cr_expect(contains(msg, "c10 error for the test"), "message: %s", msg);
  cr_expect(!contains(msg, "Exception raised from"), "backtrace kept: %s", msg);
  cr_expect(strchr(msg, '\n') == NULL, "multi-line message: %s", msg);
}

static void errors_std_exception_message_exact(void) {
  cr_assert_eq(th_test_throw(1), -1);
  cr_expect_str_eq(th_last_error(), "runtime error for the test");
}

static void errors_unknown_exception(void) {
  cr_assert_eq(th_test_throw(2), -1);
  cr_expect_str_eq(th_last_error(), "unknown C++ exception");
}

static void errors_no_throw_returns_zero(void) {
  cr_expect_eq(th_test_throw(3), 0);
}

static void errors_each_failure_replaces_the_message(void) {
  cr_assert_eq(th_test_throw(1), -1);
  cr_assert_eq(th_test_throw(2), -1);
  cr_expect_str_eq(th_last_error(), "unknown C++ exception");
}

static void errors_matmul_shape_mismatch(void) {
  int64_t s23[] = {2, 3}, s45[] = {4, 5};
  th_tensor a = NULL, b = NULL, out = UNTOUCHED;
  cr_assert_eq(th_new(&a, TH_NEW_ONES, s23, 2, F32), 0);
  cr_assert_eq(th_new(&b, TH_NEW_ONES, s45, 2, F32), 0);
  cr_expect_eq(th_matmul(&out, a, b), -1);
  cr_expect_eq(out, UNTOUCHED);
  expect_clean_error("matmul");
  cr_expect(contains(th_last_error(), "2x3") && contains(th_last_error(), "4x5"),
            "message should name both shapes: %s", th_last_error());
  th_free(a);
  th_free(b);
}

static void errors_view_with_bad_size(void) {
  int64_t s23[] = {2, 3};
  th_tensor a = NULL, out = UNTOUCHED;
  cr_assert_eq(th_new(&a, TH_NEW_ZEROS, s23, 2, F32), 0);
  cr_expect_eq(th_reshape(&out, TH_VIEW, a, (int64_t[]){4}, 1), -1);
  cr_expect_eq(out, UNTOUCHED);
  expect_clean_error("view");
  cr_expect(contains(th_last_error(), "[4]") && contains(th_last_error(), "6"),
            "message: %s", th_last_error());
  th_free(a);
}

static void errors_select_out_of_range(void) {
  int64_t s23[] = {2, 3};
  th_tensor a = NULL, out = UNTOUCHED;
  cr_assert_eq(th_new(&a, TH_NEW_ZEROS, s23, 2, F32), 0);
  cr_expect_eq(th_select(&out, a, 0, 5), -1);
  cr_expect_eq(out, UNTOUCHED);
  expect_clean_error("select");
  cr_expect(contains(th_last_error(), "out of range"), "message: %s",
            th_last_error());
  cr_expect_eq(th_select(&out, a, 7, 0), -1); /* bad dim */
  cr_expect_eq(out, UNTOUCHED);
  expect_clean_error("select dim");
  th_free(a);
}

static void errors_bad_reduction_and_backward(void) {
  int64_t s3[] = {3};
  th_tensor a = NULL, out = UNTOUCHED;
  cr_assert_eq(th_new(&a, TH_NEW_ONES, s3, 1, F32), 0);
  cr_expect_eq(th_reduce(&out, 999, a, NULL, -1, 0, 0), -1);
  cr_expect_str_eq(th_last_error(), "unknown reduction");
  cr_expect_eq(out, UNTOUCHED);
  /* backward of a tensor that needs no grad */
  cr_expect_eq(th_backward(a, NULL, 0, 0), -1);
  expect_clean_error("backward");
  th_free(a);
}

/* --- per-thread messages --- */

typedef struct {
  int rc;
  char seen_before[128];
  char seen_after[128];
} ThreadResult;

static void *thread_fail(void *arg) {
  ThreadResult *r = arg;
  snprintf(r->seen_before, sizeof r->seen_before, "%s", th_last_error());
  r->rc = th_test_throw(2);
  snprintf(r->seen_after, sizeof r->seen_after, "%s", th_last_error());
  return NULL;
}

static void errors_message_is_per_thread(void) {
  cr_assert_eq(th_test_throw(1), -1);
  cr_assert_str_eq(th_last_error(), "runtime error for the test");
  ThreadResult r = {0};
  pthread_t th;
  cr_assert_eq(pthread_create(&th, NULL, thread_fail, &r), 0);
  cr_assert_eq(pthread_join(th, NULL), 0);
  /* the other thread started with no message and saw only its own */
  cr_expect_str_eq(r.seen_before, "");
  cr_expect_eq(r.rc, -1);
  cr_expect_str_eq(r.seen_after, "unknown C++ exception");
  /* and this thread's message is unchanged */
  cr_expect_str_eq(th_last_error(), "runtime error for the test");
}

static void *thread_matmul(void *arg) {
  ThreadResult *r = arg;
  int64_t s23[] = {2, 3};
  th_tensor a = NULL, out = NULL;
  r->rc = th_new(&a, TH_NEW_ONES, s23, 2, F32);
  if (r->rc == 0) r->rc = th_matmul(&out, a, a);
  snprintf(r->seen_after, sizeof r->seen_after, "%s", th_last_error());
  th_free(a);
  th_free(out);
  return NULL;
}

static void errors_concurrent_failures_keep_their_messages(void) {
  enum { N = 4 };
  pthread_t th[N];
  ThreadResult r[N];
  memset(r, 0, sizeof r);
  for (int i = 0; i < N; i++)
    cr_assert_eq(pthread_create(&th[i], NULL, i % 2 ? thread_fail : thread_matmul,
                                &r[i]), 0);
  cr_assert_eq(th_test_throw(1), -1); /* this thread's own message */
  for (int i = 0; i < N; i++) pthread_join(th[i], NULL);
  for (int i = 0; i < N; i++) {
    cr_expect_eq(r[i].rc, -1, "thread %d", i);
    if (i % 2)
      cr_expect_str_eq(r[i].seen_after, "unknown C++ exception");
    else
      cr_expect(contains(r[i].seen_after, "2x3"), "thread %d: %s", i,
                r[i].seen_after);
  }
  cr_expect_str_eq(th_last_error(), "runtime error for the test");
}

/* }====================================================== */

/* {======================================================
** Autograd and grad mode
** =======================================================*/

static void autograd_backward_of_sum_of_squares(void) {
  th_tensor x = from_floats((float[]){1, -2, 3.5f}, (int64_t[]){3}, 1);
  cr_assert_eq(th_set_requires_grad(x, 1), 0);
  cr_expect_eq(th_requires_grad(x), 1);
  cr_expect_eq(th_is_leaf(x), 1);
  th_tensor g = UNTOUCHED;
  cr_assert_eq(th_grad(&g, x), 0);
  cr_expect_null(g, "no grad before backward");

  th_tensor sq = NULL, loss = NULL;
  cr_assert_eq(th_mul(&sq, x, x), 0);
  cr_assert_eq(th_reduce(&loss, TH_SUM, sq, NULL, -1, 0, 0), 0);
  cr_expect_eq(th_is_leaf(loss), 0);
  char name[64];
  cr_assert_eq(th_grad_fn_name(loss, name, sizeof name), 0);
  cr_expect_str_eq(name, "SumBackward0");
  cr_assert_eq(th_grad_fn_name(x, name, sizeof name), 0);
  cr_expect_str_eq(name, "");

  cr_assert_eq(th_backward(loss, NULL, 0, 0), 0, "%s", th_last_error());
  cr_assert_eq(th_grad(&g, x), 0);
  cr_assert_not_null(g);
  expect_values(g, (double[]){2, -4, 7}, 3);
  th_free(g);

  /* a second backward accumulates: grad becomes 4x */
  th_tensor sq2 = NULL, loss2 = NULL;
  cr_assert_eq(th_mul(&sq2, x, x), 0);
  cr_assert_eq(th_reduce(&loss2, TH_SUM, sq2, NULL, -1, 0, 0), 0);
  cr_assert_eq(th_backward(loss2, NULL, 0, 0), 0, "%s", th_last_error());
  cr_assert_eq(th_grad(&g, x), 0);
  expect_values(g, (double[]){4, -8, 14}, 3);
  th_free(g);

  /* clearing */
  cr_assert_eq(th_set_grad(x, NULL), 0);
  g = UNTOUCHED;
  cr_assert_eq(th_grad(&g, x), 0);
  cr_expect_null(g);
  th_tensor *ts[] = {&x, &sq, &loss, &sq2, &loss2};
  for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) th_free(*ts[i]);
}

static void autograd_backward_twice_without_retain_fails(void) {
  th_tensor x = from_floats((float[]){1, 2}, (int64_t[]){2}, 1);
  th_set_requires_grad(x, 1);
  th_tensor y = NULL, s = NULL;
  cr_assert_eq(th_exp(&y, x), 0);
  cr_assert_eq(th_reduce(&s, TH_SUM, y, NULL, -1, 0, 0), 0);
  cr_assert_eq(th_backward(s, NULL, 0, 0), 0, "%s", th_last_error());
  cr_expect_eq(th_backward(s, NULL, 0, 0), -1);
  expect_clean_error("second backward");
  cr_expect(contains(th_last_error(), "second time"), "%s", th_last_error());
  th_free(x);
  th_free(y);
  th_free(s);
}

static void autograd_grad_mode_toggling(void) {
  cr_assert_eq(th_is_grad_enabled(), 1);
  cr_expect_eq(th_set_grad_enabled(0), 1); /* returns the previous mode */
  cr_expect_eq(th_is_grad_enabled(), 0);

  th_tensor x = from_floats((float[]){1, 2}, (int64_t[]){2}, 1);
  th_set_requires_grad(x, 1);
  th_tensor y = NULL;
  cr_assert_eq(th_mul(&y, x, x), 0);
  cr_expect_eq(th_requires_grad(y), 0, "no graph is recorded with grad off");

  cr_expect_eq(th_set_grad_enabled(1), 0);
  cr_expect_eq(th_is_grad_enabled(), 1);
  th_tensor z = NULL;
  cr_assert_eq(th_mul(&z, x, x), 0);
  cr_expect_eq(th_requires_grad(z), 1);
  th_free(x);
  th_free(y);
  th_free(z);
}

/* CPU autocast: matmul in bfloat16 inside, the previous state back after
   (nested regions too) */
static void autograd_autocast_enter_exit(void) {
  cr_assert_eq(th_autocast_cpu_enabled(), 0);
  th_tensor a = from_floats((float[]){1, 2, 3, 4}, (int64_t[]){2, 2}, 2);
  th_autocast_state outer, inner;
  cr_assert_eq(th_autocast_cpu_enter(1, TH_BFLOAT16, &outer), 0);
  cr_expect_eq(th_autocast_cpu_enabled(), 1);
  th_tensor m = NULL;
  cr_assert_eq(th_matmul(&m, a, a), 0);
  cr_expect_eq(th_dtype(m), TH_BFLOAT16);
  cr_assert_eq(th_autocast_cpu_enter(0, TH_BFLOAT16, &inner), 0);
  cr_expect_eq(th_autocast_cpu_enabled(), 0);
  cr_assert_eq(th_autocast_cpu_exit(&inner), 0);
  cr_expect_eq(th_autocast_cpu_enabled(), 1);
  cr_assert_eq(th_autocast_cpu_exit(&outer), 0);
  cr_expect_eq(th_autocast_cpu_enabled(), 0);
  cr_expect_eq(th_autocast_cpu_dtype(), TH_BFLOAT16);
  th_tensor f = NULL;
  cr_assert_eq(th_matmul(&f, a, a), 0);
  cr_expect_eq(th_dtype(f), TH_FLOAT32);
  cr_expect_eq(th_autocast_cpu_enter(1, TH_NDTYPES, &outer), -1, "an unknown dtype fails");
  cr_expect_eq(th_autocast_cpu_enabled(), 0, "and changes nothing");
  th_free(a);
  th_free(m);
  th_free(f);
}

static void autograd_requires_grad_option_and_integer_dtype(void) {
  int64_t s2[] = {2};
  th_options rg = {TH_DTYPE_DEFAULT, TH_CPU, 1};
  th_tensor t = NULL;
  cr_assert_eq(th_new(&t, TH_NEW_ONES, s2, 1, rg), 0);
  cr_expect_eq(th_requires_grad(t), 1);
  th_free(t);
  /* integer tensors cannot require grad: libtorch's error, not a crash */
  th_options ig = {TH_INT64, TH_CPU, 1};
  t = UNTOUCHED;
  cr_expect_eq(th_new(&t, TH_NEW_ONES, s2, 1, ig), -1);
  cr_expect_eq(t, UNTOUCHED);
  expect_clean_error("int requires_grad");
  cr_expect(contains(th_last_error(), "floating point"), "%s", th_last_error());
}

/* }====================================================== */

/* {======================================================
** The Tests
** =======================================================*/

Test(bridge, creation_and_inspection) {
  create_zeros_sizes_dtype_numel();
  create_ones_full_with_dtype();
  create_from_data_copies_and_converts();
  create_arange_linspace_eye();
  create_item_and_scalar_kinds();
  create_dtype_names();
  create_bad_dtype_fails_cleanly();
  lifetime_free_null_is_safe();
  lifetime_alias_is_the_same_tensor();
}

Test(bridge, ops_against_analytic_values) {
  ops_add_broadcasts();
  ops_matmul_known_matrices();
  ops_sum_mean_over_dims();
  ops_softmax_rows_sum_to_one();
}

Test(bridge, views_share_storage_and_joining) {
  views_select_narrow_slice_share_storage();
  views_cat_stack_split_counts();
  views_reshape_and_transpose();
}

Test(bridge, test_throw_each_kind) {
  errors_c10_error_without_backtrace();
  errors_std_exception_message_exact();
  errors_unknown_exception();
  errors_no_throw_returns_zero();
  errors_each_failure_replaces_the_message();
}

Test(bridge, libtorch_errors_leave_out_untouched) {
  errors_matmul_shape_mismatch();
  errors_view_with_bad_size();
  errors_select_out_of_range();
  errors_bad_reduction_and_backward();
}

Test(bridge, error_message_is_per_thread) {
  errors_message_is_per_thread();
  errors_concurrent_failures_keep_their_messages();
}

Test(bridge, autograd_and_grad_mode) {
  autograd_backward_of_sum_of_squares();
  autograd_backward_twice_without_retain_fails();
  autograd_grad_mode_toggling();
  autograd_autocast_enter_exit();
  autograd_requires_grad_option_and_integer_dtype();
}

/* }====================================================== */
