/*
** jit_test.c: the TorchScript and pickle half of the bridge, with no Lua:
** modules defined from source text (Module::define), calls with values in
** and out, save and reload through bytes, pickles, and the failure paths
** (corrupt archives, missing methods, bad arguments) with their messages.
**
** Criterion runs each Test in a fresh process (half a second of libtorch
** loading each), so the checks are grouped into a few Tests.
*/
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "torch_bridge.h"

static const th_options F32 = {TH_DTYPE_DEFAULT, TH_CPU, 0};

/* {======================================================
** Helpers
** =======================================================*/

static th_tensor vec(const float *v, int64_t n) {
  th_tensor t = NULL;
  cr_assert_eq(th_from_data(&t, v, TH_FLOAT32, &n, 1, F32), 0, "%s", th_last_error());
  return t;
}

static th_value tensor_value(th_tensor t) {
  th_value v = NULL;
  cr_assert_eq(th_value_from_tensor(&v, t), 0, "%s", th_last_error());
  return v;
}

static void expect_floats(th_tensor t, const float *want, int64_t n) {
  th_tensor c = NULL;
  cr_assert_eq(th_contiguous_as(&c, t, TH_FLOAT32), 0, "%s", th_last_error());
  cr_assert_eq(th_numel(c), n);
  const float *got = (const float *)th_data_ptr(c);
  for (int64_t i = 0; i < n; i++)
    cr_expect_float_eq(got[i], want[i], 1e-6, "element %lld: got %g, want %g",
                       (long long)i, got[i], want[i]);
  th_free(c);
}

static void expect_clean_error(const char *what, const char *needle) {
  const char *msg = th_last_error();
  cr_assert_not_null(msg);
  cr_expect(strstr(msg, needle) != NULL, "%s: message lacks '%s': %s", what, needle, msg);
  cr_expect(strstr(msg, "Exception raised from") == NULL,
            "%s: message carries a backtrace: %s", what, msg);
}

/* a module computing x * w + b, defined from source text */
static th_script affine(void) {
  const float w[] = {2, 3}, b[] = {0.5f, -1};
  th_script m = NULL;
  cr_assert_eq(th_script_new(&m, "Affine"), 0, "%s", th_last_error());
  th_tensor tw = vec(w, 2), tb = vec(b, 2);
  cr_assert_eq(th_set_requires_grad(tw, 1), 0);
  th_value vw = tensor_value(tw), vb = tensor_value(tb);
  cr_assert_eq(th_script_register(m, "w", vw, TH_SLOT_PARAMETER), 0, "%s", th_last_error());
  cr_assert_eq(th_script_register(m, "b", vb, TH_SLOT_BUFFER), 0, "%s", th_last_error());
  cr_assert_eq(th_script_define(m,
                                "def forward(self, x):\n"
                                "    return x * self.w + self.b\n"
                                "def both(self, x):\n"
                                "    return x + 1, {'twice': x * 2}\n"),
               0, "%s", th_last_error());
  th_value_free(vw);
  th_value_free(vb);
  th_free(tw);
  th_free(tb);
  return m;
}

static th_tensor call1(th_script m, const char *method, th_tensor x) {
  th_value arg = tensor_value(x), out = NULL;
  cr_assert_eq(th_script_call(&out, m, method, &arg, 1), 0, "%s", th_last_error());
  cr_assert_eq(th_value_kind(out), TH_V_TENSOR);
  th_tensor t = NULL;
  cr_assert_eq(th_value_tensor(&t, out), 0, "%s", th_last_error());
  th_value_free(arg);
  th_value_free(out);
  return t;
}

/* }====================================================== */

Test(jit, define_call_and_slots) {
  const float x[] = {1, 2};
  th_script m = affine();
  th_tensor tx = vec(x, 2);

  /* 1. forward: x * w + b */
  th_tensor y = call1(m, "forward", tx);
  const float want[] = {2.5f, 5};
  expect_floats(y, want, 2);

  /* 2. a tuple holding a tensor and a dict */
  th_value arg = tensor_value(tx), out = NULL, item = NULL, key = NULL, val = NULL;
  cr_assert_eq(th_script_call(&out, m, "both", &arg, 1), 0, "%s", th_last_error());
  cr_assert_eq(th_value_kind(out), TH_V_TUPLE);
  cr_assert_eq(th_value_len(out), 2);
  cr_assert_eq(th_value_at(&item, out, 1), 0);
  cr_assert_eq(th_value_kind(item), TH_V_DICT);
  cr_assert_eq(th_value_key(&key, item, 0), 0);
  size_t len = 0;
  const char *s = th_value_string(key, &len);
  cr_assert(s != NULL && len == 5 && memcmp(s, "twice", 5) == 0);
  cr_assert_eq(th_value_at(&val, item, 0), 0);
  th_tensor twice = NULL;
  cr_assert_eq(th_value_tensor(&twice, val), 0);
  const float want2[] = {2, 4};
  expect_floats(twice, want2, 2);

  /* 3. parameters and buffers, by name, aliasing the module's tensors */
  th_value params = NULL, bufs = NULL, p0 = NULL;
  cr_assert_eq(th_script_named(&params, m, TH_SLOT_PARAMETER, 1), 0);
  cr_assert_eq(th_script_named(&bufs, m, TH_SLOT_BUFFER, 1), 0);
  cr_expect_eq(th_value_len(params), 1);
  cr_expect_eq(th_value_len(bufs), 1);
  cr_assert_eq(th_value_at(&p0, params, 0), 0);
  th_tensor w = NULL;
  cr_assert_eq(th_value_tensor(&w, p0), 0);
  cr_expect_eq(th_requires_grad(w), 1);
  cr_assert_eq(th_fill_(w, (th_scalar){TH_SCALAR_FLOAT, 0.0, 0}), -1,
               "in-place fill of a leaf requiring grad must fail");
  cr_assert_eq(th_set_grad_enabled(0), 1);
  cr_assert_eq(th_fill_(w, (th_scalar){TH_SCALAR_FLOAT, 10.0, 0}), 0, "%s", th_last_error());
  th_set_grad_enabled(1);
  th_tensor y2 = call1(m, "forward", tx);
  const float want3[] = {10.5f, 19};
  expect_floats(y2, want3, 2);

  /* 4. training flag and names */
  cr_expect_eq(th_script_is_training(m), 1);
  cr_assert_eq(th_script_train(m, 0), 0);
  cr_expect_eq(th_script_is_training(m), 0);
  th_value name = NULL;
  cr_assert_eq(th_script_name(&name, m), 0);
  s = th_value_string(name, &len);
  cr_expect(s != NULL && strncmp(s, "Affine", len) == 0);
  cr_expect_eq(th_script_has_method(m, "both"), 1);
  cr_expect_eq(th_script_has_method(m, "nope"), 0);

  th_value values[] = {arg, out, item, key, val, params, bufs, p0, name};
  for (size_t i = 0; i < sizeof values / sizeof *values; i++) th_value_free(values[i]);
  th_tensor tensors[] = {tx, y, twice, w, y2};
  for (size_t i = 0; i < sizeof tensors / sizeof *tensors; i++) th_free(tensors[i]);
  th_script_free(m);
}

Test(jit, save_and_load_bytes) {
  const float x[] = {1, 2};
  th_script m = affine(), back = NULL;
  th_value bytes = NULL;
  cr_assert_eq(th_script_save(&bytes, m), 0, "%s", th_last_error());
  size_t len = 0;
  const char *data = th_value_string(bytes, &len);
  cr_assert(data != NULL && len > 100 && memcmp(data, "PK", 2) == 0);
  cr_assert_eq(th_script_load(&back, data, len, -1), 0, "%s", th_last_error());
  th_tensor tx = vec(x, 2);
  th_tensor y = call1(back, "forward", tx);
  const float want[] = {2.5f, 5};
  expect_floats(y, want, 2);
  th_free(tx);
  th_free(y);
  th_value_free(bytes);
  th_script_free(back);
  th_script_free(m);
}

Test(jit, pickle_round_trip) {
  const float w[] = {1.5f, -2};
  th_value dict = NULL, key = NULL, list = NULL, n = NULL, t = NULL, bytes = NULL, back = NULL;
  cr_assert_eq(th_value_new(&dict, TH_V_DICT), 0);
  cr_assert_eq(th_value_new(&list, TH_V_LIST), 0);
  cr_assert_eq(th_value_from_scalar(&n, (th_scalar){TH_SCALAR_INT, 0, 7}), 0);
  th_tensor tw = vec(w, 2);
  t = tensor_value(tw);
  cr_assert_eq(th_value_append(list, n), 0);
  cr_assert_eq(th_value_append(list, t), 0);
  cr_assert_eq(th_value_from_string(&key, "xs", 2), 0);
  cr_assert_eq(th_value_insert(dict, key, list), 0, "%s", th_last_error());
  cr_assert_eq(th_pickle_save(&bytes, dict), 0, "%s", th_last_error());
  size_t len = 0;
  const char *data = th_value_string(bytes, &len);
  th_value locations = NULL;
  cr_assert_eq(th_pickle_load(&back, &locations, data, len, NULL, 0), 0, "%s", th_last_error());
  cr_assert_eq(th_value_len(locations), 1); /* "cpu", once */
  cr_assert_eq(th_value_kind(back), TH_V_DICT);
  th_value xs = NULL, x0 = NULL, x1 = NULL;
  cr_assert_eq(th_value_at(&xs, back, 0), 0);
  cr_assert_eq(th_value_len(xs), 2);
  cr_assert_eq(th_value_at(&x0, xs, 0), 0);
  cr_assert_eq(th_value_at(&x1, xs, 1), 0);
  th_scalar s;
  cr_assert_eq(th_value_scalar(&s, x0), 0);
  cr_expect(s.kind == TH_SCALAR_INT && s.i == 7);
  th_tensor got = NULL;
  cr_assert_eq(th_value_tensor(&got, x1), 0);
  expect_floats(got, w, 2);
  th_value values[] = {dict, key, list, n, t, bytes, back, xs, x0, x1, locations};
  for (size_t i = 0; i < sizeof values / sizeof *values; i++) th_value_free(values[i]);
  th_free(tw);
  th_free(got);
}

Test(jit, failures) {
  static const char junk[] = "this is not a zip archive at all, not even close";
  th_script m = (th_script)(uintptr_t)0x5eed;
  th_value v = (th_value)(uintptr_t)0x5eed;

  /* 1. corrupt bytes: a sentinel, a message, *out untouched */
  cr_assert_eq(th_script_load(&m, junk, sizeof junk, -1), -1);
  cr_expect_eq(m, (th_script)(uintptr_t)0x5eed);
  expect_clean_error("script load of junk", "corrupt");
  cr_assert_eq(th_pickle_load(&v, &v, junk, sizeof junk, NULL, 0), -1);
  cr_expect_eq(v, (th_value)(uintptr_t)0x5eed);
  expect_clean_error("pickle load of junk", "not a zip archive");

  /* 2. a whole archive cut short */
  th_script good = affine();
  th_value bytes = NULL;
  cr_assert_eq(th_script_save(&bytes, good), 0);
  size_t len = 0;
  const char *data = th_value_string(bytes, &len);
  cr_assert_eq(th_script_load(&m, data, len / 2, -1), -1);
  expect_clean_error("script load of half a file", "truncated or corrupt");

  /* 3. a TorchScript archive is not a pickle file */
  cr_assert_eq(th_pickle_load(&v, &v, data, len, NULL, 0), -1);
  expect_clean_error("pickle load of a model", "torch.jit.load");

  /* 4. source that does not compile, a missing method, a bad argument */
  th_script s = NULL;
  cr_assert_eq(th_script_new(&s, "Bad"), 0);
  cr_assert_eq(th_script_define(s, "def forward(self, x):\n    return x +* 1\n"), -1);
  expect_clean_error("define", "line 2");
  th_value out = NULL, arg = NULL;
  cr_assert_eq(th_value_from_string(&arg, "x", 1), 0);
  cr_assert_eq(th_script_call(&out, good, "nope", &arg, 1), -1);
  expect_clean_error("missing method", "no method 'nope'");
  cr_assert_eq(th_script_call(&out, good, "forward", &arg, 1), -1);
  expect_clean_error("string for a tensor", "argument 2 'x' expects Tensor, got string");
  cr_expect_null(out);

  th_value_free(arg);
  th_value_free(bytes);
  th_script_free(s);
  th_script_free(good);
}

/* {======================================================
** Arguments checked against the schema; deep source on a big stack
** =======================================================*/

Test(jit, schema_arguments_and_deep_source) {
  th_script s = NULL;
  cr_assert_eq(th_script_new(&s, "Typed"), 0);
  cr_assert_eq(th_script_define(s, "def f(self, a: float, xs: List[int]) -> float:\n"
                                   "    return a + float(len(xs))\n"), 0, "%s", th_last_error());
  /* an integer for a float, and an empty dict (an empty Lua table) for a
     list, as the Lua side hands them over */
  th_value args[2] = {NULL, NULL}, out = NULL;
  cr_assert_eq(th_value_from_scalar(&args[0], (th_scalar){TH_SCALAR_INT, 0, 2}), 0);
  cr_assert_eq(th_value_new(&args[1], TH_V_DICT), 0);
  cr_assert_eq(th_script_call(&out, s, "f", args, 2), 0, "%s", th_last_error());
  th_scalar r;
  cr_assert_eq(th_value_scalar(&r, out), 0);
  cr_expect(r.kind == TH_SCALAR_FLOAT && r.f == 2.0, "got kind %d, %g", r.kind, r.f);
  th_value_free(out);
  /* a string for the list: named, numbered as Lua numbers m:f(a, xs) */
  th_value_free(args[1]);
  cr_assert_eq(th_value_from_string(&args[1], "x", 1), 0);
  cr_assert_eq(th_script_call(&out, s, "f", args, 2), -1);
  expect_clean_error("string for a list", "argument 3 'xs' expects List[int], got string");
  cr_assert_eq(th_script_call(&out, s, "f", args, 1), -1);
  expect_clean_error("missing argument", "argument 3 'xs' (List[int]) is missing");
  th_value_free(args[0]);
  th_value_free(args[1]);

  /* 20,000 nested parentheses overflowed the 8 MB main stack (SIGSEGV);
     the compiler's own thread has room for them */
  enum { DEPTH = 20000 };
  static char src[2 * DEPTH + 64];
  size_t n = (size_t)sprintf(src, "def g(self, x):\n    return ");
  memset(src + n, '(', DEPTH);
  n += DEPTH;
  src[n++] = 'x';
  memset(src + n, ')', DEPTH);
  n += DEPTH;
  strcpy(src + n, "\n");
  cr_expect_eq(th_script_define(s, src), 0, "%s", th_last_error());
  th_script_free(s);
}

/* }====================================================== */

/* {======================================================
** The source scanner torch.jit.compile and torch.jit.load share
** =======================================================*/

static void expect_shape(const char *src, int64_t depth, int64_t depth_line, int64_t terms,
                         int64_t terms_line) {
  int64_t s[4] = {-1, -1, -1, -1};
  cr_assert_eq(th_source_shape(src, strlen(src), s), 0, "%s", th_last_error());
  cr_expect(s[0] == depth && s[1] == depth_line && s[2] == terms && s[3] == terms_line,
            "%s: got depth %ld (line %ld), terms %ld (line %ld)", src, (long)s[0], (long)s[1],
            (long)s[2], (long)s[3]);
}

Test(jit, source_shape) {
  /* a run of prefix operators nests, side by side ones do not */
  expect_shape("def f(self, x):\n    return - - - x\n", 4, 2, 3, 2);
  expect_shape("def f(self, x):\n    return [-x, -x, -x]\n", 3, 2, 4, 2);
  expect_shape("def f(self, x):\n    return x ** x ** x\n", 3, 2, 4, 2);
  /* strings and comments do not count; blocks do */
  expect_shape("def f(self, x):\n    s = '(((' # (((\n    if x:\n        return x + x\n", 2, 4, 1, 1);
  /* a backslash continues a line only before LF or CRLF */
  expect_shape("y = x \\\r\n+ x\n", 0, 1, 2, 2);
  expect_shape("y = x \\\r+ x\n", 0, 1, 2, 1);
  /* a byte string with a NUL, and no source at all */
  expect_shape("", 0, 1, 0, 1);
  int64_t s[4];
  cr_assert_eq(th_source_shape("((\0((", 5, s), 0);
  cr_expect_eq(s[0], 4);
}

/* }====================================================== */
