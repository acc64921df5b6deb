// dispatch.cpp: any ATen operator by its schema name (torch.ops.aten.NAME),
// called through the dispatcher as TorchScript calls it, so autograd,
// autocast and every kernel libtorch registers take part.  The functional
// layer (torch.nn.functional) is written over these calls.
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/csrc/jit/runtime/operator.h>

#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "jit_value.h"

using c10::IValue;

namespace {

c10::OperatorHandle find_op(const char *name, const char *overload) {
  auto op = c10::Dispatcher::singleton().findSchema({name, overload});
  if (!op) {
    std::string full = name;
    if (*overload) full += std::string(".") + overload;
    throw std::invalid_argument("no operator " + full);
  }
  return *op;
}

// the arguments checked and completed from the schema's defaults; each is
// numbered as the Lua call numbers it (the first argument is 1)
void bind_args(std::vector<IValue> &stack, const c10::FunctionSchema &schema) {
  const auto &params = schema.arguments();
  if (stack.size() > params.size())
    throw std::invalid_argument("takes " + std::to_string(params.size()) +
                                " argument(s), got " + std::to_string(stack.size()));
  for (size_t i = 0; i < params.size(); i++) {
    const auto &p = params[i];
    std::string what = "argument " + std::to_string(i + 1) + " '" + p.name() + "'";
    if (i >= stack.size()) {
      if (!p.default_value())
        throw std::invalid_argument(what + " (" + p.type()->annotation_str() + ") is missing");
      stack.push_back(*p.default_value());
      continue;
    }
    if (!bridge::coerce(stack[i], p.type()))
      throw std::invalid_argument(what + " expects " + p.type()->annotation_str() +
                                  ", got " + bridge::lua_kind(stack[i]));
  }
}

// named-tensor and out= overloads are picked by name only: a Lua string
// is no Dimname, and out= arguments are keywords in PyTorch
bool by_name_only(const c10::FunctionSchema &s) {
  const auto &o = s.overload_name();
  if (o.find("names") != std::string::npos || o.find("dimname") != std::string::npos) return true;
  for (const auto &a : s.arguments())
    if (a.kwarg_only() || a.type()->annotation_str().find("Dimname") != std::string::npos) return true;
  return false;
}

// the overloads of a name, the unnamed one first (torch.ops.aten.max(x)
// and torch.ops.aten.max(x, 0) pick theirs as PyTorch's packets do)
std::vector<c10::OperatorHandle> overloads(const char *name) {
  std::vector<c10::OperatorHandle> found;
  auto &d = c10::Dispatcher::singleton();
  if (auto op = d.findSchema({name, ""})) found.push_back(*op);
  for (const auto &jop : torch::jit::getAllOperatorsFor(c10::Symbol::fromQualString(name))) {
    const auto &o = jop->schema().overload_name();
    if (o.empty() || by_name_only(jop->schema())) continue;
    if (auto op = d.findSchema({name, o})) found.push_back(*op);
  }
  return found;
}

// the first overload the arguments bind to; its stack is `stack`
c10::OperatorHandle resolve(const char *name, std::vector<IValue> &stack) {
  auto candidates = overloads(name);
  if (candidates.empty()) throw std::invalid_argument(std::string("no operator ") + name);
  if (candidates.size() == 1) {
    bind_args(stack, candidates[0].schema());
    return candidates[0];
  }
  std::string tried;
  for (auto &op : candidates) {
    std::vector<IValue> attempt = stack;
    try {
      bind_args(attempt, op.schema());
    } catch (const std::invalid_argument &) {
      std::ostringstream text;
      text << "\n  " << op.schema();
      tried += text.str();
      continue;
    }
    stack = std::move(attempt);
    return op;
  }
  throw std::invalid_argument("the arguments fit none of its overloads:" + tried);
}

} // namespace

extern "C" {

int th_op_exists(const char *name, const char *overload) {
  PROTECT_RET(-1, if (!*overload) return overloads(name).empty() ? 0 : 1;
              return c10::Dispatcher::singleton().findSchema({name, overload}) ? 1 : 0;)
}

int th_op_schema(th_value *out, const char *name, const char *overload) {
  PROTECT({
    std::ostringstream text;
    if (*overload) text << find_op(name, overload).schema();
    else
      for (auto &op : overloads(name)) text << (text.tellp() > 0 ? "\n" : "") << op.schema();
    if (text.tellp() == 0) throw std::invalid_argument(std::string("no operator ") + name);
    *out = bridge::make_value(IValue(text.str()));
  })
}

int th_op_call(th_value *out, const char *name, const char *overload,
               const th_value *args, int nargs) {
  PROTECT({
    std::vector<IValue> stack;
    for (int i = 0; i < nargs; i++) stack.push_back(bridge::finish(args[i]));
    c10::OperatorHandle op = *overload ? find_op(name, overload) : resolve(name, stack);
    if (*overload) bind_args(stack, op.schema());
    op.callBoxed(&stack);
    if (stack.size() == 1) *out = bridge::make_value(std::move(stack[0]));
    else *out = bridge::make_value(c10::ivalue::Tuple::create(std::move(stack)));
  })
}

} // extern "C"
