// jit.cpp: TorchScript modules and the values they take and return
// (c10::IValue behind th_value); pickle.cpp reads and writes files of them.
#include <torch/csrc/jit/serialization/python_print.h>
#include <torch/script.h>


#include <cmath>
#include <cstring>
#include <functional>
#include <sstream>
#include <stdexcept>

#include "jit_value.h"
#include "source.h"
#include "unpickle.h"

using c10::IValue;

struct th_script_s {
  torch::jit::Module m;
  bool guarded = false; // its integer divisions checked (jit_guard.cpp)
};

namespace bridge { // jit_guard.cpp
void guard_int_division(const torch::jit::Module &m);
void on_big_stack(std::function<void()> fn);
} // namespace bridge
using bridge::on_big_stack;

namespace {

using bridge::finish;
th_value make(IValue v) { return bridge::make_value(std::move(v)); }

torch::jit::Module &M(th_script s) { return s->m; }

// the type all of xs[start], xs[start + step] ... fit, or Any
c10::TypePtr unify(const std::vector<IValue> &xs, size_t start, size_t step,
                   c10::TypePtr fallback) {
  if (start >= xs.size()) return fallback;
  c10::TypePtr t = c10::unshapedType(xs[start].type());
  for (size_t i = start + step; i < xs.size(); i += step) {
    auto u = c10::unifyTypes(t, c10::unshapedType(xs[i].type()));
    if (!u) return c10::AnyType::get();
    t = *u;
  }
  return t;
}

} // namespace

const IValue &bridge::finish(th_value h) {
  if (h->building < 0) return h->v;
  auto &xs = h->items;
  if (h->building == TH_V_TUPLE) {
    h->v = c10::ivalue::Tuple::create(std::move(xs));
  } else if (h->building == TH_V_LIST) {
    c10::impl::GenericList list(unify(xs, 0, 1, c10::TensorType::get()));
    for (auto &x : xs) list.push_back(std::move(x));
    h->v = std::move(list);
  } else {
    c10::impl::GenericDict dict(unify(xs, 0, 2, c10::StringType::get()),
                                unify(xs, 1, 2, c10::TensorType::get()));
    for (size_t i = 0; i + 1 < xs.size(); i += 2)
      dict.insert_or_assign(std::move(xs[i]), std::move(xs[i + 1]));
    h->v = std::move(dict);
  }
  xs.clear();
  h->building = -1;
  return h->v;
}

namespace bridge {

// {====================== Lua values as the schema wants them ======================

// a value as the Lua side knows it, for "expects float, got string"
std::string lua_kind(const IValue &v) {
  if (v.isNone()) return "nil";
  if (v.isTensor()) return "Tensor";
  if (v.isBool()) return "boolean";
  if (v.isInt()) return "integer";
  if (v.isDouble()) return "number";
  if (v.isString()) return "string";
  if (v.isTuple()) return "a tuple (" + v.type()->annotation_str() + ")";
  if (v.isList()) return "a list (" + v.type()->annotation_str() + ")";
  if (v.isGenericDict())
    return v.toGenericDict().empty() ? std::string("an empty table")
                                     : "a table with keys (" + v.type()->annotation_str() + ")";
  if (v.isObject()) return "a script module";
  return v.tagKind();
}


// every item of a list or tuple coerced, or false
static bool coerce_items(std::vector<IValue> &items, const std::vector<c10::TypePtr> &types) {
  for (size_t i = 0; i < items.size(); i++)
    if (!coerce(items[i], types.size() == 1 ? types[0] : types[i])) return false;
  return true;
}

// v made into a value of type `want` where Lua cannot say it: an integer
// for a float, an empty table for a list or a dict, a list for a tuple.
// False when v does not fit.
bool coerce(IValue &v, const c10::TypePtr &want) {
  using namespace c10;
  switch (want->kind()) {
  case TypeKind::AnyType: return true;
  case TypeKind::OptionalType:
    return v.isNone() || coerce(v, want->expectRef<OptionalType>().getElementType());
  case TypeKind::FloatType:
    if (v.isInt()) v = IValue(double(v.toInt()));
    return v.isDouble();
  case TypeKind::IntType:
    if (v.isDouble() && std::nearbyint(v.toDouble()) == v.toDouble() &&
        std::fabs(v.toDouble()) < 9.2e18)
      v = IValue(int64_t(v.toDouble()));
    return v.isInt();
  case TypeKind::SymIntType: // aten's sizes since 1.13: plain integers here
    if (v.isDouble() && std::nearbyint(v.toDouble()) == v.toDouble() &&
        std::fabs(v.toDouble()) < 9.2e18)
      v = IValue(int64_t(v.toDouble()));
    return v.isInt();
  case TypeKind::NumberType: return v.isInt() || v.isDouble() || v.isBool();
  case TypeKind::ListType: {
    auto elem = want->expectRef<ListType>().getElementType();
    std::vector<IValue> items;
    if (v.isGenericDict() && v.toGenericDict().empty()) {
    } else if (v.isList()) {
      items = v.toListRef().vec();
    } else {
      return false;
    }
    if (!coerce_items(items, {elem})) return false;
    impl::GenericList list(elem);
    for (auto &x : items) list.push_back(std::move(x));
    v = IValue(std::move(list));
    return true;
  }
  case TypeKind::TupleType: {
    const auto &types = want->expectRef<TupleType>().elements();
    std::vector<IValue> items;
    if (v.isTuple()) items = v.toTupleRef().elements().vec();
    else if (v.isList()) items = v.toListRef().vec();
    else if (v.isGenericDict() && v.toGenericDict().empty()) items = {};
    else return false;
    if (items.size() != types.size() || !coerce_items(items, types.vec())) return false;
    v = ivalue::Tuple::create(std::move(items));
    return true;
  }
  case TypeKind::DictType: {
    if (!v.isGenericDict()) return false;
    const auto &dt = want->expectRef<DictType>();
    impl::GenericDict dict(dt.getKeyType(), dt.getValueType());
    for (const auto &e : v.toGenericDict()) {
      IValue k = e.key(), x = e.value();
      if (!coerce(k, dt.getKeyType()) || !coerce(x, dt.getValueType())) return false;
      dict.insert_or_assign(std::move(k), std::move(x));
    }
    v = IValue(std::move(dict));
    return true;
  }
  default: return v.type()->isSubtypeOf(*want);
  }
}

// }================================================================

} // namespace bridge

namespace {

// entries of a finished dict, flattened, filled on first access
const std::vector<IValue> &entries(th_value h) {
  const IValue &v = finish(h);
  if (h->items.empty() && v.isGenericDict()) {
    for (const auto &e : v.toGenericDict()) {
      h->items.push_back(e.key());
      h->items.push_back(e.value());
    }
  }
  return h->items;
}

// A TorchScript failure carries the script's traceback and the C++ source
// position of the failed check: keep the gist, the last "Error: " line,
// and say in which method it happened.
std::string gist(const std::string &msg, const char *method) {
  if (msg.find("Traceback of TorchScript") == std::string::npos &&
      msg.find("The following operation failed") == std::string::npos)
    return msg;
  std::string last;
  std::istringstream in(msg);
  for (std::string line; std::getline(in, line);) {
    size_t p = line.find("Error: ");
    if (p != std::string::npos && line.compare(0, 1, " ") != 0)
      last = line.substr(p + 7);
  }
  if (last.empty()) last = msg.substr(0, msg.find('\n'));
  return last + " (in TorchScript method '" + method + "')";
}

// compiler messages name the compilation unit by address: noise to users
std::string tidy(std::string msg) {
  const std::string mark = " (of Python compilation unit at: 0x";
  for (size_t p; (p = msg.find(mark)) != std::string::npos;) {
    size_t q = msg.find(')', p);
    msg.erase(p, q == std::string::npos ? std::string::npos : q - p + 1);
  }
  // a syntax error is the user's, not a bug to report to PyTorch
  const std::string bug = ". File a bug report";
  for (size_t p; (p = msg.find(bug)) != std::string::npos;) msg.erase(p, bug.size());
  size_t first = msg.find_first_not_of(" \n");
  return first == std::string::npos ? msg : msg.substr(first);
}

// a zip reader failing means the bytes are not a whole archive
std::string archive_error(const std::string &msg) {
  if (msg.find("constants.pkl") != std::string::npos)
    return "not a TorchScript model (no constants.pkl): a torch.save file? "
           "read it with torch.load";
  if (msg.find("reader failed") != std::string::npos ||
      msg.find("StreamReader failed") != std::string::npos)
    return "truncated or corrupt file (" + msg + ")";
  return msg;
}

// {====================== arguments of script calls ======================

using bridge::coerce;
using bridge::lua_kind;

// the call's arguments checked against the method's schema, each numbered
// as Lua numbers those of m:method(a, b): self is 1
void check_args(std::vector<IValue> &stack, const c10::FunctionSchema &schema) {
  const auto &params = schema.arguments();
  size_t given = stack.size() + 1;
  if (given > params.size()) {
    std::string names;
    for (size_t i = 1; i < params.size(); i++)
      names += (i > 1 ? ", " : "") + params[i].name();
    throw std::invalid_argument("takes " + std::to_string(params.size() - 1) +
                                " argument(s) (" + names + "), got " +
                                std::to_string(stack.size()));
  }
  for (size_t i = 1; i < params.size(); i++) {
    const auto &p = params[i];
    std::string what = "argument " + std::to_string(i + 1) + " '" + p.name() + "'";
    if (i >= given) {
      if (p.default_value()) continue;
      throw std::invalid_argument(what + " (" + p.type()->annotation_str() + ") is missing");
    }
    IValue &v = stack[i - 1];
    if (!coerce(v, p.type()))
      throw std::invalid_argument(what + " expects " + p.type()->annotation_str() +
                                  ", got " + lua_kind(v));
  }
}
// }================================================================

std::string type_name(const torch::jit::Module &m) {
  auto q = m.type()->name();
  return q ? q->name() : std::string("Module");
}

} // namespace

extern "C" {

/* {======================================================
** Values
** =======================================================*/

void th_value_free(th_value v) { delete v; }

int th_value_kind(th_value h) {
  PROTECT_RET(-1, {
    if (h->building >= 0) return h->building;
    const IValue &v = h->v;
    if (v.isNone()) return TH_V_NONE;
    if (v.isTensor()) return TH_V_TENSOR;
    if (v.isBool()) return TH_V_BOOL;
    if (v.isInt()) return TH_V_INT;
    if (v.isDouble()) return TH_V_FLOAT;
    if (v.isString()) return TH_V_STRING;
    if (v.isList()) return TH_V_LIST;
    if (v.isTuple()) return TH_V_TUPLE;
    if (v.isGenericDict()) return TH_V_DICT;
    if (v.isModule()) return TH_V_MODULE;
    return TH_V_OTHER;
  })
}

int th_value_typename(th_value h, char *buf, size_t size) {
  PROTECT({
    const IValue &v = finish(h);
    std::string s = v.isObject() ? v.type()->repr_str() : v.tagKind();
    std::snprintf(buf, size, "%s", s.c_str());
  })
}

int64_t th_value_len(th_value h) {
  PROTECT_RET(-1, {
    const IValue &v = finish(h);
    if (v.isList()) return (int64_t)v.toListRef().size();
    if (v.isTuple()) return (int64_t)v.toTupleRef().elements().size();
    if (v.isGenericDict()) return (int64_t)v.toGenericDict().size();
    throw std::invalid_argument("not a container: " + v.tagKind());
  })
}

int th_value_at(th_value *out, th_value h, int64_t i) {
  PROTECT({
    const IValue &v = finish(h);
    if (v.isList()) *out = make(v.toListRef().at(i));
    else if (v.isTuple()) *out = make(v.toTupleRef().elements().at(i));
    else if (v.isGenericDict()) *out = make(entries(h).at(2 * i + 1));
    else throw std::invalid_argument("not a container: " + v.tagKind());
  })
}

int th_value_key(th_value *out, th_value h, int64_t i) {
  PROTECT({
    if (!finish(h).isGenericDict()) throw std::invalid_argument("not a dict");
    *out = make(entries(h).at(2 * i));
  })
}

int th_value_tensor(th_tensor *out, th_value h) {
  PROTECT(*out = bridge::wrap(at::Tensor(finish(h).toTensor()));)
}

int th_value_scalar(th_scalar *out, th_value h) {
  PROTECT({
    const IValue &v = finish(h);
    th_scalar s = {TH_SCALAR_FLOAT, 0.0, 0};
    if (v.isBool()) s.kind = TH_SCALAR_BOOL, s.i = v.toBool();
    else if (v.isInt()) s.kind = TH_SCALAR_INT, s.i = v.toInt();
    else s.f = v.toDouble();
    *out = s;
  })
}

const char *th_value_string(th_value h, size_t *len) {
  PROTECT_RET(nullptr, {
    const IValue &v = finish(h);
    if (!v.isString()) return nullptr;
    const std::string &s = v.toStringRef();
    *len = s.size();
    return s.data();
  })
}

int th_value_module(th_script *out, th_value h) {
  PROTECT(*out = new th_script_s{torch::jit::Module(finish(h).toObject())};)
}

int th_value_new(th_value *out, int kind) {
  PROTECT({
    if (kind != TH_V_NONE && kind != TH_V_LIST && kind != TH_V_TUPLE &&
        kind != TH_V_DICT)
      throw std::invalid_argument("th_value_new: not a container kind");
    th_value h = make(IValue());
    if (kind != TH_V_NONE) h->building = kind;
    *out = h;
  })
}

int th_value_from_tensor(th_value *out, th_tensor t) {
  PROTECT(*out = make(IValue(bridge::T(t)));)
}

int th_value_from_scalar(th_value *out, th_scalar s) {
  PROTECT({
    if (s.kind == TH_SCALAR_BOOL) *out = make(IValue(s.i != 0));
    else if (s.kind == TH_SCALAR_INT) *out = make(IValue(s.i));
    else *out = make(IValue(s.f));
  })
}

int th_value_from_string(th_value *out, const char *s, size_t len) {
  PROTECT(*out = make(IValue(std::string(s, len)));)
}

int th_value_from_module(th_value *out, th_script m) {
  PROTECT(*out = make(IValue(M(m)._ivalue()));)
}

int th_value_append(th_value list, th_value item) {
  PROTECT({
    if (list->building != TH_V_LIST && list->building != TH_V_TUPLE)
      throw std::invalid_argument("th_value_append: not a list being built");
    list->items.push_back(finish(item));
  })
}

int th_value_insert(th_value dict, th_value key, th_value item) {
  PROTECT({
    if (dict->building != TH_V_DICT)
      throw std::invalid_argument("th_value_insert: not a dict being built");
    dict->items.push_back(finish(key));
    dict->items.push_back(finish(item));
  })
}

/* }====================================================== */

/* {======================================================
** TorchScript modules
** =======================================================*/

void th_script_free(th_script m) { delete m; }

int th_script_load(th_script *out, const char *data, size_t len, int device) {
  PROTECT({
    bridge::check_archive(data, len); // libtorch trusts what it reads
    std::istringstream in(std::string(data, len));
    c10::optional<at::Device> where;
    if (device >= 0) where = bridge::device_of(device);
    try {
      *out = new th_script_s{torch::jit::load(in, where)};
    } catch (const c10::Error &e) {
      std::string msg = e.what_without_backtrace(), known = archive_error(msg);
      throw std::runtime_error(known != msg ? known : bridge::load_message(msg));
    } catch (const std::exception &e) { // the compiler's ErrorReport
      throw std::runtime_error(bridge::load_message(e.what()));
    }
  })
}

int th_script_save(th_value *bytes, th_script m) {
  PROTECT({
    std::ostringstream os;
    M(m).save(os);
    *bytes = make(IValue(os.str()));
  })
}

int th_script_new(th_script *out, const char *name) {
  PROTECT({
    torch::jit::Module m(c10::QualifiedName("__torch__", name),
                         std::make_shared<torch::jit::CompilationUnit>(),
                         /*shouldMangle=*/true);
    m.register_attribute("training", c10::BoolType::get(), true);
    *out = new th_script_s{std::move(m)};
  })
}

int th_script_register(th_script m, const char *name, th_value v, int slot) {
  PROTECT({
    const IValue &x = finish(v);
    auto &mod = M(m);
    if (slot == TH_SLOT_PARAMETER || slot == TH_SLOT_BUFFER)
      mod.register_parameter(name, x.toTensor(), slot == TH_SLOT_BUFFER);
    else if (slot == TH_SLOT_MODULE)
      mod.register_module(name, torch::jit::Module(x.toObject()));
    else
      mod.register_attribute(name, c10::unshapedType(x.type()), x);
  })
}

int th_script_define(th_script m, const char *source) {
  PROTECT({
    try {
      on_big_stack([&] { M(m).define(source); });
    } catch (const c10::Error &e) {
      throw std::runtime_error(tidy(e.what_without_backtrace()));
    } catch (const std::exception &e) {
      throw std::runtime_error(tidy(e.what()));
    }
  })
}

int th_source_shape(const char *source, size_t len, int64_t shape[4]) {
  PROTECT({
    bridge::SourceShape sh = bridge::source_shape(source, len);
    shape[0] = sh.depth, shape[1] = sh.depth_line, shape[2] = sh.terms, shape[3] = sh.terms_line;
  })
}

int th_script_call(th_value *out, th_script m, const char *method,
                   const th_value *args, int nargs) {
  PROTECT({
    auto fn = M(m).find_method(method);
    if (!fn)
      throw std::invalid_argument(std::string("no method '") + method +
                                  "' in " + type_name(M(m)));
    std::vector<IValue> stack;
    for (int i = 0; i < nargs; i++) stack.push_back(finish(args[i]));
    check_args(stack, fn->function().getSchema());
    try {
      IValue result;
      on_big_stack([&] {
        if (!m->guarded) bridge::guard_int_division(M(m));
        m->guarded = true;
        result = (*fn)(std::move(stack));
      });
      *out = make(std::move(result));
    } catch (const c10::Error &e) {
      throw std::runtime_error(gist(e.what_without_backtrace(), method));
    } catch (const std::exception &e) {
      throw std::runtime_error(gist(e.what(), method));
    }
  })
}

int th_script_has_method(th_script m, const char *method) {
  PROTECT_RET(-1, return M(m).find_method(method).has_value() ? 1 : 0;)
}

int th_script_methods(th_value *out, th_script m) {
  PROTECT({
    c10::List<std::string> names;
    for (const auto &meth : M(m).get_methods()) names.push_back(meth.name());
    *out = make(IValue(names));
  })
}

int th_script_named(th_value *out, th_script m, int slot, int recurse) {
  PROTECT({
    auto &mod = M(m);
    bool r = recurse != 0;
    c10::impl::GenericDict d(c10::StringType::get(),
                             slot == TH_SLOT_MODULE
                                 ? c10::TypePtr(c10::AnyType::get())
                                 : c10::TypePtr(c10::TensorType::get()));
    if (slot == TH_SLOT_PARAMETER)
      for (const auto &p : mod.named_parameters(r)) d.insert(p.name, p.value);
    else if (slot == TH_SLOT_BUFFER)
      for (const auto &p : mod.named_buffers(r)) d.insert(p.name, p.value);
    else if (slot == TH_SLOT_MODULE)
      for (const auto &p : mod.named_children())
        d.insert(p.name, IValue(p.value._ivalue()));
    else throw std::invalid_argument("th_script_named: bad slot kind");
    *out = make(IValue(d));
  })
}

int th_script_train(th_script m, int on) { PROTECT(M(m).train(on != 0);) }

int th_script_is_training(th_script m) {
  PROTECT_RET(-1, return M(m).is_training() ? 1 : 0;)
}

int th_script_name(th_value *out, th_script m) {
  PROTECT(*out = make(IValue(type_name(M(m))));)
}

int th_script_code(th_value *out, th_script m, const char *method) {
  PROTECT({
    auto fn = M(m).find_method(method);
    if (!fn)
      throw std::invalid_argument(std::string("no method '") + method +
                                  "' in " + type_name(M(m)));
    std::vector<IValue> constants;
    torch::jit::PrintDepsTable deps;
    torch::jit::PythonPrint pp(constants, deps);
    pp.printMethod(fn->function());
    *out = make(IValue(pp.str()));
  })
}

/* }====================================================== */

} // extern "C"
