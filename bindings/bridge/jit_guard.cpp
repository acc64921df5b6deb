// jit_guard.cpp: TorchScript's integer `%`, `//` and divmod divide with the
// machine's instruction, which traps (SIGFPE: the process dies) on a zero
// divisor for `%` and on INT64_MIN / -1 for all three.  Before a module's
// methods first run, each such division gets its divisor through
// clara::checked_divisor, which raises TorchScript's ZeroDivisionError or
// an overflow error instead.  (A division of constants is folded when the
// source compiles, before this can help: `1 % 0` still traps.)
#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/runtime/custom_operator.h>

#include <cstdint>
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

} // namespace

namespace bridge {

// the integer divisions of m's and its submodules' code, guarded
void guard_int_division(const torch::jit::Module &m) {
  std::vector<torch::jit::Module> mods{m};
  for (const auto &sub : m.modules()) mods.push_back(sub);
  for (const auto &mod : mods)
    for (auto *fn : mod._ivalue()->compilation_unit()->get_functions()) guard_function(fn);
}

} // namespace bridge
