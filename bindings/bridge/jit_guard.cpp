// jit_guard.cpp: what keeps TorchScript from killing the process: a thread
// with a large stack for compiling and calling, and checked divisors.
//
// TorchScript's integer `%`, `//` and divmod divide with the
// machine's instruction, which traps (SIGFPE: the process dies) on a zero
// divisor for `%` and on INT64_MIN / -1 for all three.  Before a module's
// methods first run, each such division gets its divisor through
// clara::checked_divisor, which raises TorchScript's ZeroDivisionError or
// an overflow error instead.  (A division of constants is folded when the
// source compiles, before this can help: `1 % 0` still traps.)
#include <ATen/ThreadLocalState.h>
#include <pthread.h>
#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/runtime/custom_operator.h>

#include <unistd.h>

#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using torch::jit::Node;

const c10::Symbol kChecked = c10::Symbol::fromQualString("clara::checked_divisor");

torch::jit::RegisterOperators registry({torch::jit::Operator(
    "clara::checked_divisor(int a, int b) -> int",
    [](torch::jit::Stack &stack) {
      int64_t b = stack.back().toInt();
      int64_t a = stack[stack.size() - 2].toInt();
      if (b == 0) TORCH_CHECK(false, "ZeroDivisionError: integer division or modulo by zero");
      if (b == -1 && a == INT64_MIN)
        TORCH_CHECK(false, "integer overflow: ", a, " divided by -1 does not fit in an int");
      torch::jit::drop(stack, 2);
      torch::jit::push(stack, b);
    },
    c10::AliasAnalysisKind::FROM_SCHEMA)});

bool is_int_division(const Node *n) {
  static const c10::Symbol kinds[] = {c10::Symbol::fromQualString("aten::remainder"),
                                      c10::Symbol::fromQualString("aten::floordiv"),
                                      c10::Symbol::fromQualString("aten::divmod"),
                                      c10::Symbol::fromQualString("aten::__mod__")};
  bool found = false;
  for (const auto &k : kinds) found = found || n->kind() == k;
  if (!found || n->inputs().size() != 2) return false;
  for (const auto *v : n->inputs())
    if (v->type()->kind() != c10::TypeKind::IntType) return false;
  return n->input(1)->node()->kind() != kChecked; // already guarded
}

// every node of the graph, nested blocks included, without recursion
std::vector<Node *> all_nodes(torch::jit::Graph &g) {
  std::vector<Node *> out;
  std::vector<torch::jit::Block *> todo{g.block()};
  while (!todo.empty()) {
    auto *b = todo.back();
    todo.pop_back();
    for (auto *n : b->nodes()) {
      out.push_back(n);
      for (auto *sub : n->blocks()) todo.push_back(sub);
    }
  }
  return out;
}

void guard_function(torch::jit::Function *fn) {
  auto *gf = torch::jit::tryToGraphFunction(*fn);
  if (gf == nullptr) return;
  // the graph the executor will run, not the one save() and code() print:
  // a saved model stays loadable by PyTorch
  auto graph = gf->optimized_graph();
  for (auto *n : all_nodes(*graph)) {
    if (!is_int_division(n)) continue;
    torch::jit::WithInsertPoint here(n);
    auto *check = graph->insertNode(graph->create(kChecked, {n->input(0), n->input(1)}));
    check->output()->setType(c10::IntType::get());
    n->replaceInput(1, check->output());
  }
}

// libtorch's parser and compiler recurse once per nesting level and per
// term of an expression, and the graph passes of a method's first runs
// once per statement of a long chain (x = x + 0, 30,000 times).  jit.lua
// refuses sources past clara.limits, and compiling and calling run on a
// thread whose stack is large enough that sources within those limits
// (even raised tenfold) cannot overflow it.  Only the pages touched are
// committed; the caller's thread-local state (grad mode...) goes along.
constexpr size_t kBigStack = size_t(512) << 20;

struct StackJob {
  std::function<void()> fn;
  at::ThreadLocalState state;
  std::string error;
  bool failed = false;
};

void *run_job(void *arg) {
  auto *job = static_cast<StackJob *>(arg);
  try {
    at::ThreadLocalStateGuard guard(job->state);
    job->fn();
  } catch (const c10::Error &e) {
    job->failed = true, job->error = e.what_without_backtrace();
  } catch (const std::exception &e) {
    job->failed = true, job->error = e.what();
  } catch (...) {
    job->failed = true, job->error = "unknown C++ exception";
  }
  return nullptr;
}

// One long-lived thread with the big stack runs the jobs, one at a time:
// a thread per call would cost half a millisecond of mapping and unmapping.
struct BigStack {
  std::mutex one_at_a_time, mu;
  std::condition_variable cv;
  StackJob *job = nullptr;
  bool done = false;
  pid_t pid = 0; // the process that started the thread (none after a fork)
  pthread_t thread;
};

BigStack &big_stack() {
  static BigStack *w = new BigStack; // never destroyed: its thread outlives exit()
  return *w;
}

void *big_stack_loop(void *arg) {
  BigStack &w = *static_cast<BigStack *>(arg);
  std::unique_lock<std::mutex> lock(w.mu);
  for (;;) {
    w.cv.wait(lock, [&] { return w.job != nullptr; });
    StackJob *job = w.job;
    lock.unlock();
    run_job(job);
    lock.lock();
    w.job = nullptr;
    w.done = true;
    w.cv.notify_all();
  }
  return nullptr;
}

// false when no thread could be made (an address-space limit): the caller
// then runs on its own stack, as it would without clara
// The clara program runs its Lua state on a thread with this big a stack
// (runtime/main.c), so its calls need no hand-over: ~20 us per call saved.
// Other hosts (the C tests, fuzzers) get the worker thread.
bool on_big_stack_already() {
  thread_local int known = -1;
  if (known < 0) {
    pthread_attr_t attr;
    size_t size = 0;
    known = 0;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
      if (pthread_attr_getstacksize(&attr, &size) == 0 && size >= kBigStack) known = 1;
      pthread_attr_destroy(&attr);
    }
  }
  return known == 1;
}

bool start_big_stack(BigStack &w) {
  pthread_attr_t attr;
  if (pthread_attr_init(&attr) != 0) return false;
  int rc = pthread_attr_setstacksize(&attr, kBigStack);
  if (rc == 0) rc = pthread_create(&w.thread, &attr, big_stack_loop, &w);
  pthread_attr_destroy(&attr);
  if (rc != 0) return false;
  pthread_detach(w.thread);
  w.pid = getpid();
  return true;
}

} // namespace

namespace bridge {

// fn() on the big stack; its exception, as a message, is rethrown here
void on_big_stack(std::function<void()> fn) {
  BigStack &w = big_stack();
  if (on_big_stack_already() || (w.pid == getpid() && pthread_equal(pthread_self(), w.thread))) {
    fn(); // already there
    return;
  }
  StackJob job{std::move(fn), at::ThreadLocalState()};
  {
    std::lock_guard<std::mutex> serial(w.one_at_a_time);
    if (w.pid != getpid() && !start_big_stack(w)) {
      run_job(&job);
      if (job.failed) throw std::runtime_error(job.error);
      return;
    }
    std::unique_lock<std::mutex> lock(w.mu);
    w.done = false;
    w.job = &job;
    w.cv.notify_all();
    w.cv.wait(lock, [&] { return w.done; });
  }
  if (job.failed) throw std::runtime_error(job.error);
}

// the integer divisions of m's and its submodules' code, guarded
void guard_int_division(const torch::jit::Module &m) {
  std::vector<torch::jit::Module> mods{m};
  for (const auto &sub : m.modules()) mods.push_back(sub);
  for (const auto &mod : mods)
    for (auto *fn : mod._ivalue()->compilation_unit()->get_functions()) guard_function(fn);
}

} // namespace bridge
