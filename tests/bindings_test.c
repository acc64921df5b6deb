/*
** bindings_test.c: the tensor bindings seen through a Lua state: results of
** chunks, errors raised as Lua errors with lauxlib's wording, grad mode
** restored after an error in torch.no_grad, handles freed by __gc, by
** lua_close and by <close> variables, and the userdata's metatable name.
**
** The state is opened here (standard libraries, then torch.core as the
** global `torch`), not by runtime/state.c, so that these tests depend on the
** bindings only; package.path points at ./stdlib for tostring's
** `require "torch.format"` (tests run from the repository root).
**
** Criterion runs each Test in a fresh process, and loading libtorch costs
** about half a second, so the checks are functions grouped into a few
** Tests; a failed check fails its Test and its message says which.
*/
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "clara_libs.h"
#include "torch_bridge.h"

#ifdef __SANITIZE_ADDRESS__
/* ASan keeps freed blocks in a 256 MB quarantine by default, which would
   hide whether a 256 MB tensor was freed; a smaller one still catches
   use-after-free in these tests */
const char *__asan_default_options(void) {
  return "quarantine_size_mb=64:detect_leaks=0";
}
#endif

/* {======================================================
** Helpers
** =======================================================*/

static int open_core(lua_State *L) {
  luaL_openlibs(L);
  luaL_requiref(L, "torch.core", luaopen_torch_core, 0);
  lua_setglobal(L, "torch");
  lua_getglobal(L, "package");
  lua_pushliteral(L, "./stdlib/?.lua;./stdlib/?/init.lua");
  lua_setfield(L, -2, "path");
  return 0;
}

static lua_State *new_state(void) {
  lua_State *L = luaL_newstate();
  cr_assert_not_null(L);
  lua_pushcfunction(L, open_core);
  cr_assert_eq(lua_pcall(L, 0, 0, 0), LUA_OK, "opening torch.core: %s",
               lua_tostring(L, -1));
  return L;
}

/* loads and runs a chunk named "test"; its results are left at 1..n */
static int run(lua_State *L, const char *code) {
  lua_settop(L, 0);
  int rc = luaL_loadbuffer(L, code, strlen(code), "=test");
  cr_assert_eq(rc, LUA_OK, "syntax: %s", lua_tostring(L, -1));
  return lua_pcall(L, 0, LUA_MULTRET, 0);
}

/* a chunk that must succeed */
#define RUN(L, code)                                                         \
  do {                                                                       \
    if (run(L, code) != LUA_OK)                                              \
      cr_assert_fail("chunk failed: %s\n--- chunk:\n%s",                     \
                     lua_tostring(L, -1), code);                             \
  } while (0)

/* a chunk that must raise; returns the error message without the position
   "test:N: " that lauxlib puts in front (valid until the next call) */
static char errbuf[1024];
static const char *run_fail(lua_State *L, const char *code) {
  int rc = run(L, code);
  cr_assert_neq(rc, LUA_OK, "chunk should have raised an error:\n%s", code);
  cr_assert_eq(rc, LUA_ERRRUN, "not a runtime error (%d): %s", rc,
               lua_tostring(L, -1));
  const char *msg = lua_tostring(L, -1);
  cr_assert_not_null(msg, "error value is not a string");
  if (strncmp(msg, "test:", 5) == 0) {
    const char *p = msg + 5;
    while (*p >= '0' && *p <= '9') p++;
    if (p[0] == ':' && p[1] == ' ') msg = p + 2;
  }
  snprintf(errbuf, sizeof errbuf, "%s", msg);
  lua_settop(L, 0);
  return errbuf;
}

#define EXPECT_PREFIX(msg, prefix)                                           \
  cr_expect(strncmp((msg), (prefix), strlen(prefix)) == 0,                   \
            "error message\n  %s\nshould start with\n  %s", (msg), (prefix))
#define EXPECT_HAS(msg, part)                                                \
  cr_expect(strstr((msg), (part)) != NULL,                                   \
            "error message\n  %s\nshould contain\n  %s", (msg), (part))

/* resident memory of this process, in MB */
static double rss_mb(void) {
  long pages_total = 0, pages_res = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  cr_assert_not_null(f);
  cr_assert_eq(fscanf(f, "%ld %ld", &pages_total, &pages_res), 2);
  fclose(f);
  return (double)pages_res * (double)sysconf(_SC_PAGESIZE) / (1 << 20);
}

/* }====================================================== */

/* {======================================================
** Results of chunks
** =======================================================*/

static void chunk_matmul_and_sum(lua_State *L) {
  RUN(L, "local a = torch.tensor{{1, 2}, {3, 4}}\n"
         "local b = torch.tensor{{5, 6}, {7, 8}}\n"
         "local c = a:matmul(b)\n"
         "return c[1][1]:item(), c[1][2]:item(), c[2][1]:item(), c[2][2]:item(),\n"
         "       c:sum():item(), c.dtype, #c:size()");
  cr_expect_eq(lua_tointeger(L, 1), 19);
  cr_expect_eq(lua_tointeger(L, 2), 22);
  cr_expect_eq(lua_tointeger(L, 3), 43);
  cr_expect_eq(lua_tointeger(L, 4), 50);
  cr_expect_eq(lua_tointeger(L, 5), 134);
  cr_expect_str_eq(lua_tostring(L, 6), "int64");
  cr_expect_eq(lua_tointeger(L, 7), 2);
}

static void chunk_dims_are_one_based(lua_State *L) {
  RUN(L, "local t = torch.tensor{{1, 2, 3}, {4, 5, 6}}\n"
         "local rows, cols = t:sum(2):totable(), t:sum(1):totable()\n"
         "return rows[1], rows[2], #cols, cols[3], t:size(2), t:double():mean():item()");
  cr_expect_eq(lua_tointeger(L, 1), 6);
  cr_expect_eq(lua_tointeger(L, 2), 15);
  cr_expect_eq(lua_tointeger(L, 3), 3);
  cr_expect_eq(lua_tointeger(L, 4), 9);
  cr_expect_eq(lua_tointeger(L, 5), 3);
  cr_expect_float_eq(lua_tonumber(L, 6), 3.5, 1e-6);
}

static void chunk_operators_and_numbers(lua_State *L) {
  RUN(L, "local t = torch.tensor{1.5, 2.5}\n"
         "local u = (2 * t + 1) / 2 - t\n" /* 0.5 everywhere */
         "local s = torch.softmax(torch.tensor{{1.0, 2.0, 3.0}, {0.0, 0.0, 0.0}}, 2)\n"
         "local sums = s:sum(2)\n"
         "return u[1]:item(), u[2]:item(), sums[1]:item(), sums[2]:item(),\n"
         "       s[2][1]:item(), (-t)[2]:item()");
  cr_expect_float_eq(lua_tonumber(L, 1), 0.5, 1e-6);
  cr_expect_float_eq(lua_tonumber(L, 2), 0.5, 1e-6);
  cr_expect_float_eq(lua_tonumber(L, 3), 1.0, 1e-6);
  cr_expect_float_eq(lua_tonumber(L, 4), 1.0, 1e-6);
  cr_expect_float_eq(lua_tonumber(L, 5), 1.0 / 3, 1e-6);
  cr_expect_float_eq(lua_tonumber(L, 6), -2.5, 1e-6);
}

static void chunk_views_and_joining(lua_State *L) {
  RUN(L, "local t = torch.zeros(3, 4)\n"
         "t[2]:fill_(7)\n"                 /* a row view */
         "t:narrow(2, 4, 1):fill_(1)\n"    /* the last column */
         "local parts = torch.cat({t, t}, 1):split(4)\n"
         "return t:sum():item(), t[2][4]:item(), t[1][1]:item(), #parts,\n"
         "       parts[2]:size(1), torch.stack({t, t}):dim()");
  cr_expect_float_eq(lua_tonumber(L, 1), 7 * 3 + 1 * 3, 1e-6);
  cr_expect_float_eq(lua_tonumber(L, 2), 1, 1e-6);
  cr_expect_float_eq(lua_tonumber(L, 3), 0, 1e-6);
  cr_expect_eq(lua_tointeger(L, 4), 2);
  cr_expect_eq(lua_tointeger(L, 5), 2);
  cr_expect_eq(lua_tointeger(L, 6), 3);
}

static void chunk_autograd(lua_State *L) {
  RUN(L, "local x = torch.tensor{1.0, -2.0, 3.0}:requires_grad_()\n"
         "local loss = (x * x):sum()\n"
         "loss:backward()\n"
         "local g = x.grad:totable()\n"
         "return g[1], g[2], g[3], loss.grad_fn, x.is_leaf");
  cr_expect_float_eq(lua_tonumber(L, 1), 2, 1e-6);
  cr_expect_float_eq(lua_tonumber(L, 2), -4, 1e-6);
  cr_expect_float_eq(lua_tonumber(L, 3), 6, 1e-6);
  cr_expect_str_eq(lua_tostring(L, 4), "SumBackward0");
  cr_expect(lua_toboolean(L, 5));
}

/* }====================================================== */

/* {======================================================
** Errors from bad calls
** =======================================================*/

static void errors_argument_checks(lua_State *L) {
  const char *m;
  m = run_fail(L, "torch.matmul('x', torch.ones(2))");
  EXPECT_PREFIX(m, "bad argument #1 to 'matmul' (tensor expected, got string)");
  m = run_fail(L, "torch.ones(2):matmul({})");
  EXPECT_PREFIX(m, "bad argument #1 to 'matmul' (tensor expected, got table)");
  m = run_fail(L, "torch.ones(2, 3):sum(0)");
  EXPECT_PREFIX(m, "bad argument #1 to 'sum' (dim 0 is not a position");
  m = run_fail(L, "torch.ones(2, 3):sum(3)");
  EXPECT_PREFIX(m, "bad argument #1 to 'sum' (dim 3 out of range for a 2-d tensor)");
  m = run_fail(L, "torch.zeros(2, {dtype = 'nope'})");
  EXPECT_HAS(m, "unknown dtype 'nope'");
  m = run_fail(L, "torch.zeros(2):select(1, 5)");
  EXPECT_PREFIX(m, "bad argument #2 to 'select' (position 5 out of range for size 2)");
  m = run_fail(L, "local t = torch.zeros(2); t.sum(nil)");
  EXPECT_PREFIX(m, "bad argument #1 to 'sum' (tensor expected, got nil)");
}

static void errors_from_libtorch(lua_State *L) {
  const char *m;
  m = run_fail(L, "torch.matmul(torch.ones(2, 3), torch.ones(4, 5))");
  EXPECT_PREFIX(m, "matmul: ");
  EXPECT_HAS(m, "2x3 and 4x5");
  cr_expect(strstr(m, "Exception raised from") == NULL, "backtrace in: %s", m);
  m = run_fail(L, "torch.zeros(2, 3):view(4)");
  EXPECT_PREFIX(m, "view: ");
  EXPECT_HAS(m, "shape '[4]' is invalid for input of size 6");
  m = run_fail(L, "torch.ones(3):backward()");
  EXPECT_PREFIX(m, "backward: ");
  /* a pcall catches them like any Lua error, and the state stays usable */
  RUN(L, "local ok, e = pcall(torch.add, torch.ones(2), torch.ones(3))\n"
         "return ok, e, torch.ones(2):add(1):sum():item()");
  cr_expect_not(lua_toboolean(L, 1));
  cr_expect(lua_isstring(L, 2));
  EXPECT_PREFIX(lua_tostring(L, 2), "add: ");
  cr_expect_float_eq(lua_tonumber(L, 3), 4, 1e-6);
}

/* }====================================================== */

/* {======================================================
** Grad mode
** =======================================================*/

static void grad_mode_restored_after_error(lua_State *L) {
  RUN(L, "torch.set_grad_enabled(true)\n"
         "local inside\n"
         "local ok, e = pcall(torch.no_grad, function()\n"
         "  inside = torch.is_grad_enabled()\n"
         "  error('boom')\n"
         "end)\n"
         "return ok, e, inside, torch.is_grad_enabled()");
  cr_expect_not(lua_toboolean(L, 1));
  EXPECT_HAS(lua_tostring(L, 2), "boom");
  cr_expect_not(lua_toboolean(L, 3), "grad mode was on inside no_grad");
  cr_expect(lua_toboolean(L, 4), "grad mode not restored after the error");
  cr_expect_eq(th_is_grad_enabled(), 1);

  /* a libtorch error inside, and enable_grad nested in no_grad */
  RUN(L, "local ok = pcall(torch.no_grad, function()\n"
         "  torch.enable_grad(function() torch.ones(2):view(3) end)\n"
         "end)\n"
         "return ok, torch.is_grad_enabled()");
  cr_expect_not(lua_toboolean(L, 1));
  cr_expect(lua_toboolean(L, 2));

  /* starting from off, the error path restores off */
  RUN(L, "torch.set_grad_enabled(false)\n"
         "local ok = pcall(torch.enable_grad, error, 'x')\n"
         "local off = torch.is_grad_enabled()\n"
         "torch.set_grad_enabled(true)\n"
         "return ok, off");
  cr_expect_not(lua_toboolean(L, 1));
  cr_expect_not(lua_toboolean(L, 2), "enable_grad did not restore 'off'");
}

static void grad_mode_results(lua_State *L) {
  RUN(L, "local x = torch.ones(2, {requires_grad = true})\n"
         "local y, extra = torch.no_grad(function(a) return a * 2, 'extra' end, x)\n"
         "local z = x * 2\n"
         "return y.requires_grad, extra, z.requires_grad, y:sum():item()");
  cr_expect_not(lua_toboolean(L, 1), "no_grad recorded a graph");
  cr_expect_str_eq(lua_tostring(L, 2), "extra");
  cr_expect(lua_toboolean(L, 3));
  cr_expect_float_eq(lua_tonumber(L, 4), 4, 1e-6);
}

/* }====================================================== */

/* {======================================================
** Lifetime: __gc, lua_close, <close>
** =======================================================*/

static void gc_loop_keeps_memory_flat(lua_State *L) {
  /* 1 MB tensors, 2 GB in all, no collectgarbage: the bytes held by live
     handles must drive the collector */
  RUN(L, "for i = 1, 10 do local t = torch.zeros(256, 1024) end");
  double before = rss_mb();
  RUN(L, "for i = 1, 2000 do\n"
         "  local t = torch.zeros(256, 1024)\n"
         "  local u = t + 1\n"
         "end");
  double grown = rss_mb() - before;
  cr_expect_lt(grown, 512, "memory grew by %.0f MB over a 4 GB allocation loop",
               grown);
}

/*
** Whether a 256 MB tensor was freed is seen from the resident memory after
** a second 256 MB block is allocated: about 256 MB above the baseline when
** the first was freed (its pages reused, or returned and mapped again),
** about 512 MB when it leaked.  RSS going down alone would depend on the
** allocator (tcmalloc keeps freed pages).
*/
#define BIG_MB 256.0

static double rss_with_new_block(void) {
  int64_t sizes[] = {64, 1024, 1024};
  th_options o = {TH_DTYPE_DEFAULT, TH_CPU, 0};
  th_tensor t = NULL;
  cr_assert_eq(th_new(&t, TH_NEW_ONES, sizes, 3, o), 0, "%s", th_last_error());
  double rss = rss_mb();
  th_free(t);
  return rss;
}

static void gc_frees_a_dropped_tensor(lua_State *L) {
  RUN(L, "collectgarbage()");
  double base = rss_mb();
  RUN(L, "big = torch.ones(64, 1024, 1024)");
  RUN(L, "big = nil collectgarbage() collectgarbage()");
  double total = rss_with_new_block() - base;
  cr_expect_lt(total, 1.5 * BIG_MB, "%.0f MB above the baseline after a "
               "second block: the collected tensor was not freed", total);
}

static void close_with_live_tensors(void) {
  double base = rss_mb();
  lua_State *L = new_state();
  RUN(L, "keep = {}\n"
         "for i = 1, 100 do keep[i] = torch.rand(4, 4) end\n"
         "keep.view = keep[1][2]\n"          /* a view of a live tensor */
         "keep.freed = torch.ones(3); keep.freed:free()\n"
         "keep.big = torch.ones(64, 1024, 1024)\n"
         "keep.parts = torch.ones(6, 2):split(2)");
  lua_close(L);
  double total = rss_with_new_block() - base;
  cr_expect_lt(total, 1.5 * BIG_MB, "%.0f MB above the baseline after a "
               "second block: lua_close did not free the tensors", total);

  /* states opened and closed again: no crash */
  for (int i = 0; i < 20; i++) {
    L = new_state();
    RUN(L, "local t = torch.randn(100, 100); x = t:t():matmul(t)");
    lua_close(L);
  }
}

static void close_variables(lua_State *L) {
  RUN(L, "do\n"
         "  local t <close> = torch.ones(3)\n"
         "  saved = t\n"
         "  assert(t:sum():item() == 3)\n"
         "end\n"
         "return pcall(saved.sum, saved)");
  cr_expect_not(lua_toboolean(L, 1), "a closed tensor was still usable");
  EXPECT_HAS(lua_tostring(L, 2), "tensor already freed");

  /* method-call wording */
  const char *m = run_fail(L, "saved:sum()");
  EXPECT_PREFIX(m, "calling 'sum' on bad self (tensor already freed)");

  /* closed on the error path too */
  RUN(L, "local ok, e = pcall(function()\n"
         "  local t <close> = torch.ones(2)\n"
         "  saved2 = t\n"
         "  error('inside')\n"
         "end)\n"
         "return ok, pcall(function() return saved2:numel() end)");
  cr_expect_not(lua_toboolean(L, 1));
  cr_expect_not(lua_toboolean(L, 2), "not closed when the block raised");

  /* free, close and collection of the same handle: idempotent */
  RUN(L, "local t = torch.ones(2)\n"
         "t:free(); t:free()\n"
         "do local u <close> = t end\n"
         "local ok, e = pcall(t.numel, t)\n"
         "t = nil; collectgarbage(); collectgarbage()\n"
         "return ok, e");
  cr_expect_not(lua_toboolean(L, 1));
  EXPECT_HAS(lua_tostring(L, 2), "tensor already freed");
}

/* }====================================================== */

/* {======================================================
** The userdata's type
** =======================================================*/

static void metatable_name(lua_State *L) {
  RUN(L, "local t = torch.zeros(2)\n"
         "return t, getmetatable(t).__name, torch.is_tensor(t),\n"
         "       torch.is_tensor({}), torch.is_tensor(io.stdout)");
  cr_expect_not_null(luaL_testudata(L, 1, "torch.Tensor"));
  cr_expect_str_eq(lua_tostring(L, 2), "torch.Tensor");
  cr_expect(lua_toboolean(L, 3));
  cr_expect_not(lua_toboolean(L, 4));
  cr_expect_not(lua_toboolean(L, 5));
  luaL_getmetatable(L, "torch.Tensor");
  cr_expect(lua_istable(L, -1), "registry has no 'torch.Tensor'");
  lua_getmetatable(L, 1);
  cr_expect(lua_rawequal(L, -1, -2), "tensor's metatable is not the registry's");
  lua_pushstring(L, "not a tensor");
  cr_expect_null(luaL_testudata(L, -1, "torch.Tensor"));

  /* the name in messages and in tostring */
  const char *m = run_fail(L, "local t = torch.zeros(1); return t .. 'x'");
  EXPECT_HAS(m, "torch.Tensor");
  RUN(L, "return tostring(torch.tensor{1, 2})");
  cr_expect_str_eq(lua_tostring(L, 1), "tensor([1, 2])");
}

/* }====================================================== */

/* {======================================================
** The Tests
** =======================================================*/

Test(bindings, chunks_compute) {
  lua_State *L = new_state();
  chunk_matmul_and_sum(L);
  chunk_dims_are_one_based(L);
  chunk_operators_and_numbers(L);
  chunk_views_and_joining(L);
  chunk_autograd(L);
  lua_close(L);
}

Test(bindings, errors_are_lua_errors) {
  lua_State *L = new_state();
  errors_argument_checks(L);
  errors_from_libtorch(L);
  lua_close(L);
}

Test(bindings, no_grad_restores_grad_mode) {
  lua_State *L = new_state();
  grad_mode_restored_after_error(L);
  grad_mode_results(L);
  lua_close(L);
}

Test(bindings, gc_frees_handles) {
  lua_State *L = new_state();
  gc_loop_keeps_memory_flat(L);
  gc_frees_a_dropped_tensor(L);
  lua_close(L);
  close_with_live_tensors();
}

Test(bindings, close_variables) {
  lua_State *L = new_state();
  close_variables(L);
  lua_close(L);
}

Test(bindings, metatable_is_torch_tensor) {
  lua_State *L = new_state();
  metatable_name(L);
  lua_close(L);
}

/* }====================================================== */
