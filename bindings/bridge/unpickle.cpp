// unpickle.cpp: clara's reader of the pickles in PyTorch's zip files.
//
// libtorch's unpickler turns collections.OrderedDict into None and has no
// BUILD for plain objects, and every state_dict Python saves is an
// OrderedDict with _metadata set by BUILD.  This reader knows the opcodes of
// protocols 2 to 4 and the few Python callables that such files name.
//
// It reads hostile files too: every length is checked against the bytes
// left before anything is allocated for it, memoized values are shared (a
// list referenced twice is one list, so a file cannot expand itself), the
// finished value's nesting is measured without recursion (a cycle or a
// depth over clara.limits.pickle_depth is an error, and such a value is
// taken apart iteratively, since destroying it recursively would overflow
// the C stack), and every tensor is checked against its storage.
#include <ATen/ATen.h>

#include <cstring>
#include <map>
#include <stdexcept>
#include <unordered_map>

#include "unpickle.h"

using c10::IValue;

namespace bridge {

LoadLimits load_limits;

namespace {

// An item on the unpickler's stack: a value, a Python callable (by its
// dotted name; as a value, e.g. a storage type, it is that name), or a mark.
struct Item {
  IValue v;
  std::string callable;
  bool mark = false;
};

const std::map<std::string, at::ScalarType> kStorages = {
    {"FloatStorage", at::kFloat},   {"DoubleStorage", at::kDouble},
    {"HalfStorage", at::kHalf},     {"BFloat16Storage", at::kBFloat16},
    {"LongStorage", at::kLong},     {"IntStorage", at::kInt},
    {"ShortStorage", at::kShort},   {"CharStorage", at::kChar},
    {"ByteStorage", at::kByte},     {"BoolStorage", at::kBool}};

// {====================== the value graph ======================

bool is_container(const IValue &v) {
  return v.isList() || v.isTuple() || v.isGenericDict();
}

std::vector<IValue> children(const IValue &v) {
  std::vector<IValue> xs;
  if (v.isList()) {
    for (const auto &x : v.toListRef()) xs.push_back(x);
  } else if (v.isTuple()) {
    for (const auto &x : v.toTupleRef().elements()) xs.push_back(x);
  } else if (v.isGenericDict()) {
    for (const auto &e : v.toGenericDict()) {
      xs.push_back(e.key());
      xs.push_back(e.value());
    }
  }
  return xs;
}

// Every container reachable from roots, each once (cycles included).
std::vector<IValue> reachable(const std::vector<IValue> &roots) {
  std::vector<IValue> all, todo;
  std::unordered_map<const void *, bool> seen;
  for (const auto &r : roots)
    if (is_container(r)) todo.push_back(r);
  while (!todo.empty()) {
    IValue v = std::move(todo.back());
    todo.pop_back();
    if (!seen.emplace(v.internalToPointer(), true).second) continue;
    for (auto &x : children(v))
      if (is_container(x)) todo.push_back(std::move(x));
    all.push_back(std::move(v));
  }
  return all;
}

// Empty every container first, so that none is destroyed recursively and
// cycles are broken.
void dismantle(const std::vector<IValue> &roots) {
  std::vector<IValue> all = reachable(roots);
  for (auto &v : all) {
    if (v.isList()) v.toList().clear();
    else if (v.isGenericDict()) v.toGenericDict().clear();
    else v.toTuple()->setElements(std::vector<IValue>{});
  }
}

// The nesting depth of v (a leaf is 0), measured with an explicit stack;
// throws on a cycle or past `limit`.
int64_t depth(const IValue &root, int64_t limit, const std::string &name,
              std::unordered_map<const void *, int64_t> &known) {
  struct Frame {
    IValue v;
    std::vector<IValue> kids;
    size_t next = 0;
    int64_t h = 1;
  };
  if (!is_container(root)) return 0;
  auto hit = known.find(root.internalToPointer());
  if (hit != known.end() && hit->second >= 0) return hit->second;
  std::vector<Frame> path;
  auto too_deep = [&]() {
    throw std::runtime_error(
        name + ": nesting deeper than " + std::to_string(limit) +
        " levels, over the limit clara.limits.pickle_depth (raise it with "
        "clara.limits.pickle_depth = n)");
  };
  auto enter = [&](const IValue &v) {
    const void *id = v.internalToPointer();
    auto at = known.find(id);
    if (at != known.end()) {
      if (at->second < 0)
        throw std::runtime_error(name + ": a container holds itself (a cyclic "
                                 "reference), which clara cannot read");
      return at->second;
    }
    if ((int64_t)path.size() >= limit) too_deep();
    known[id] = -1;
    path.push_back(Frame{v, children(v)});
    return (int64_t)-1;
  };
  enter(root);
  int64_t result = 0;
  while (!path.empty()) {
    Frame &f = path.back();
    if (f.next < f.kids.size()) {
      IValue x = f.kids[f.next++];
      if (!is_container(x)) continue;
      int64_t h = enter(x);
      if (h >= 0) path.back().h = std::max(path.back().h, h + 1);
      continue;
    }
    int64_t h = f.h; // heights known before count too, not just the path
    if (h > limit) too_deep();
    known[f.v.internalToPointer()] = h;
    path.pop_back();
    if (path.empty()) result = h;
    else path.back().h = std::max(path.back().h, h + 1);
  }
  return result;
}
// }================================================================

class Reader {
public:
  Reader(const char *p, size_t n, const Records &records, bool scan,
         const std::string &name, const Placer *place)
      : p_(p), end_(p + n), records_(records), place_(place), scan_(scan), name_(name) {}

  IValue run() {
    try {
      for (;;) {
        uint8_t op = u(1);
        if (op == '.') break;
        step(op);
      }
      if (stack_.size() != 1 || !stack_[0].callable.empty())
        bad("malformed pickle (stack holds " + std::to_string(stack_.size()) +
            " items at STOP)");
      check_depth();
    } catch (...) {
      dismantle(roots());
      throw;
    }
    return stack_[0].v;
  }

private:
  const char *p_, *end_;
  const Records &records_;
  const Placer *place_;
  bool scan_;
  std::string name_;
  std::vector<Item> stack_;
  std::unordered_map<uint64_t, Item> memo_;
  std::map<std::string, at::Storage> storages_; // views share storage
  // Every container that leaves the stack or the memo stays alive here
  // until the depth check: destroyed earlier, a deep one would overflow
  // the C stack (a recursive destructor) before anything measured it.
  std::vector<IValue> kept_;

  void keep(const IValue &v) {
    if (is_container(v)) kept_.push_back(v);
  }

  [[noreturn]] void bad(const std::string &what) {
    throw std::runtime_error(name_ + ": " + what);
  }

  std::vector<IValue> roots() {
    std::vector<IValue> rs;
    for (auto &it : stack_) rs.push_back(it.v);
    for (auto &kv : memo_) rs.push_back(kv.second.v);
    rs.insert(rs.end(), kept_.begin(), kept_.end());
    return rs;
  }

  // everything the pickle built, the value and what the memo holds
  void check_depth() {
    std::unordered_map<const void *, int64_t> known;
    for (const auto &r : roots())
      depth(r, load_limits.pickle_depth, name_, known);
  }

  // 1. reading the byte stream
  const char *take(size_t n) {
    if ((size_t)(end_ - p_) < n)
      bad("truncated pickle (a length field claims " + std::to_string(n) +
          " bytes, " + std::to_string(end_ - p_) + " remain)");
    const char *at = p_;
    p_ += n;
    return at;
  }
  uint64_t u(size_t n) {
    const char *b = take(n);
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) v |= (uint64_t)(uint8_t)b[i] << (8 * i);
    return v;
  }
  // a frame's length is only a promise: it must fit the bytes left
  void frame(uint64_t n) {
    if (n > (uint64_t)(end_ - p_))
      bad("truncated pickle (a frame claims " + std::to_string(n) + " bytes, " +
          std::to_string(end_ - p_) + " remain)");
  }
  std::string line() {
    const char *nl = (const char *)std::memchr(p_, '\n', end_ - p_);
    if (!nl) bad("truncated pickle");
    std::string s(p_, nl);
    p_ = nl + 1;
    return s;
  }
  std::string bytes(uint64_t n) {
    const char *b = take(n);
    return std::string(b, n);
  }

  // 2. the stack
  void push(IValue v) { stack_.push_back(Item{std::move(v), "", false}); }
  Item pop() {
    if (stack_.empty() || stack_.back().mark) bad("stack underflow");
    Item it = std::move(stack_.back());
    stack_.pop_back();
    keep(it.v);
    return it;
  }
  Item &top() {
    if (stack_.empty()) bad("stack underflow");
    return stack_.back();
  }
  std::vector<IValue> pop_to_mark() {
    size_t m = stack_.size();
    while (m > 0 && !stack_[m - 1].mark) m--;
    if (m == 0) bad("MARK missing");
    std::vector<IValue> xs;
    for (size_t i = m; i < stack_.size(); i++) {
      keep(stack_[i].v);
      xs.push_back(std::move(stack_[i].v));
    }
    stack_.resize(m - 1);
    return xs;
  }
  void tuple(size_t n) {
    std::vector<IValue> xs(n);
    for (size_t i = n; i-- > 0;) xs[i] = pop().v;
    push(c10::ivalue::Tuple::create(std::move(xs)));
  }
  // a key is hashed and compared recursively: keep it shallow
  void check_key(const IValue &k) {
    if (!is_container(k)) return;
    std::unordered_map<const void *, int64_t> known;
    depth(k, std::min<int64_t>(load_limits.pickle_depth, 32), name_, known);
  }
  void set_items(std::vector<IValue> kv) {
    IValue &d = top().v;
    if (!d.isGenericDict()) bad("SETITEMS on a " + d.tagKind());
    auto dict = d.toGenericDict();
    for (size_t i = 0; i + 1 < kv.size(); i += 2) {
      check_key(kv[i]);
      auto old = dict.find(kv[i]);
      if (old != dict.end()) keep(old->value());
      dict.insert_or_assign(std::move(kv[i]), std::move(kv[i + 1]));
    }
  }
  void append(std::vector<IValue> xs) {
    IValue &l = top().v;
    if (!l.isList()) bad("APPENDS on a " + l.tagKind());
    auto list = l.toList();
    for (auto &x : xs) list.push_back(std::move(x));
  }

  // 3. the opcodes of protocols 2 to 4 (pickletools' names)
  void step(uint8_t op) {
    switch (op) {
    case 0x80: u(1); break;                        // PROTO
    case 0x95: frame(u(8)); break;                 // FRAME
    case '(': stack_.push_back(Item{IValue(), "", true}); break;
    case '0': pop(); break;                        // POP
    case '1': pop_to_mark(); break;                // POP_MARK
    case '2': stack_.push_back(top()); break;      // DUP
    case 'N': push(IValue()); break;
    case 0x88: push(true); break;
    case 0x89: push(false); break;
    case 'K': push((int64_t)u(1)); break;          // BININT1
    case 'M': push((int64_t)u(2)); break;          // BININT2
    case 'J': push((int64_t)(int32_t)u(4)); break; // BININT
    case 0x8a: {                                   // LONG1
      size_t n = u(1);
      if (n > 8) bad("integer wider than 64 bits");
      uint64_t v = n ? u(n) : 0;
      if (n && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~UINT64_C(0) << (8 * n);
      push((int64_t)v);
      break;
    }
    case 'G': {                                    // BINFLOAT, big-endian
      const char *b = take(8);
      uint64_t bits = 0;
      for (int i = 0; i < 8; i++) bits = bits << 8 | (uint8_t)b[i];
      double d;
      std::memcpy(&d, &bits, 8);
      push(d);
      break;
    }
    case 'X': push(bytes(u(4))); break;            // BINUNICODE
    case 0x8c: push(bytes(u(1))); break;           // SHORT_BINUNICODE
    case 0x8d: push(bytes(u(8))); break;           // BINUNICODE8
    case 0x8e: push(bytes(u(8))); break;           // BINBYTES8
    case 'T': case 'B': push(bytes(u(4))); break;  // BINSTRING, BINBYTES
    case 'U': case 'C': push(bytes(u(1))); break;  // SHORT_BIN...
    case ']': push(c10::impl::GenericList(c10::AnyType::get())); break;
    case 'a': { IValue x = pop().v; append({x}); break; }
    case 'e': append(pop_to_mark()); break;        // APPENDS
    case 'l': {                                    // LIST
      auto xs = pop_to_mark();
      c10::impl::GenericList list(c10::AnyType::get());
      for (auto &x : xs) list.push_back(std::move(x));
      push(list);
      break;
    }
    case ')': push(c10::ivalue::Tuple::create({})); break;
    case 't': push(c10::ivalue::Tuple::create(pop_to_mark())); break;
    case 0x85: tuple(1); break;
    case 0x86: tuple(2); break;
    case 0x87: tuple(3); break;
    case '}': push(dict()); break;
    case 'd': {                                    // DICT
      auto kv = pop_to_mark();
      push(dict());
      set_items(std::move(kv));
      break;
    }
    case 's': { IValue v = pop().v, k = pop().v; set_items({k, v}); break; }
    case 'u': set_items(pop_to_mark()); break;     // SETITEMS
    case 'q': memo(u(1)); break;                   // BINPUT
    case 'r': memo(u(4)); break;                   // LONG_BINPUT
    case 0x94: memo(memo_.size()); break;          // MEMOIZE
    case 'h': get(u(1)); break;                    // BINGET
    case 'j': get(u(4)); break;                    // LONG_BINGET
    case 'c': {                                    // GLOBAL
      std::string module = line();
      callable(module + "." + line());
      break;
    }
    case 0x93: {                                   // STACK_GLOBAL
      std::string name = str(pop().v), module = str(pop().v);
      callable(module + "." + name);
      break;
    }
    case 0x81:                                     // NEWOBJ: cls(*args)
    case 'R': {                                    // REDUCE
      IValue args = pop().v;
      Item f = pop();
      if (f.callable.empty() || !args.isTuple()) bad("REDUCE of a non-callable");
      push(call(f.callable, args.toTupleRef().elements().vec()));
      break;
    }
    case 'b': build(); break;                      // BUILD
    case 'Q': push(persistent(pop().v)); break;    // BINPERSID
    default: {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02x", op);
      bad(std::string("unsupported pickle opcode ") + hex);
    }
    }
  }

  static IValue dict() {
    return c10::impl::GenericDict(c10::AnyType::get(), c10::AnyType::get());
  }

  std::string str(const IValue &v) {
    if (!v.isString()) bad("STACK_GLOBAL of a " + v.tagKind() + ", not a name");
    return v.toStringRef();
  }

  void memo(uint64_t id) {
    Item &it = top();
    auto old = memo_.find(id);
    if (old != memo_.end()) keep(old->second.v);
    memo_[id] = it;
  }

  void get(uint64_t id) {
    auto it = memo_.find(id);
    if (it == memo_.end()) bad("memo entry " + std::to_string(id) + " unset");
    stack_.push_back(it->second);
  }

  void callable(const std::string &name) {
    stack_.push_back(Item{IValue(name), name, false}); // value: its name
  }

  // A dict's attributes (OrderedDict._metadata) are not kept; a scanned
  // object (a dict) keeps its state, so that its nesting counts.
  void build() {
    IValue state = pop().v;
    if (!top().v.isGenericDict())
      bad("cannot restore the state of a " + top().v.tagKind());
    if (!scan_) return;
    auto obj = top().v.toGenericDict();
    auto old = obj.find("__state__");
    if (old != obj.end()) keep(old->value());
    obj.insert_or_assign("__state__", state);
  }

  // 4. the Python callables such files name
  IValue call(const std::string &f, std::vector<IValue> a) {
    auto arg = [&](size_t i) -> IValue & {
      if (i >= a.size()) bad(f + ": too few arguments");
      return a[i];
    };
    if (f == "collections.OrderedDict") return dict();
    if (f == "torch._utils._rebuild_tensor_v2" ||
        (scan_ && f == "torch._utils._rebuild_qtensor"))
      return rebuild(f, arg(0), arg(1), arg(2), arg(3), arg(4));
    if (f == "torch._utils._rebuild_parameter" ||
        f == "torch._utils._rebuild_parameter_with_state") {
      if (!arg(0).isTensor()) bad(f + " of a " + arg(0).tagKind());
      at::Tensor t = arg(0).toTensor();
      t.set_requires_grad(arg(1).isBool() && arg(1).toBool());
      return t;
    }
    if (f == "torch.jit._pickle.restore_type_tag") return arg(0);
    if (f.rfind("torch.jit._pickle.build_", 0) == 0) return arg(0);
    if (f == "torch._utils._rebuild_device_tensor_from_numpy" ||
        f.rfind("numpy.", 0) == 0)
      bad("cannot load numpy arrays ('" + f + "'): save tensors instead");
    if (scan_) { // a TorchScript class: a dict of its arguments and state
      IValue obj = dict();
      obj.toGenericDict().insert_or_assign(
          "__args__", c10::ivalue::Tuple::create(std::move(a)));
      return obj;
    }
    bad("cannot load the Python object '" + f +
        "' (clara reads tensors, numbers, strings, lists, tuples and dicts: "
        "save a state_dict rather than a model)");
  }

  std::vector<int64_t> ints(const IValue &t, const char *what) {
    if (!t.isTuple()) bad(std::string("tensor ") + what + " is not a tuple");
    std::vector<int64_t> xs;
    for (const auto &x : t.toTupleRef().elements()) {
      if (!x.isInt() || x.toInt() < 0)
        bad(std::string("tensor ") + what + " holds " +
            (x.isInt() ? std::to_string(x.toInt()) : "a " + x.tagKind()));
      xs.push_back(x.toInt());
    }
    if (xs.size() > 64) bad("tensor of more than 64 dimensions");
    return xs;
  }

  // (storage, offset, size, stride, requires_grad, ...): a view of the
  // storage, which must hold every element the view can reach
  IValue rebuild(const std::string &f, const IValue &storage, const IValue &off,
                 const IValue &size, const IValue &stride, const IValue &grad) {
    if (!storage.isTensor()) bad(f + " of a " + storage.tagKind() + ", not a storage");
    if (!off.isInt() || off.toInt() < 0) bad(f + ": bad storage offset");
    at::Tensor t = storage.toTensor();
    auto sizes = ints(size, "size"), strides = ints(stride, "stride");
    if (sizes.size() != strides.size())
      bad(f + ": " + std::to_string(sizes.size()) + " sizes but " +
          std::to_string(strides.size()) + " strides");
    int64_t avail = (int64_t)t.storage().nbytes() / (int64_t)t.element_size();
    int64_t last = off.toInt(), numel = 1;
    bool overflow = false;
    for (size_t i = 0; i < sizes.size(); i++) {
      int64_t step;
      overflow |= __builtin_mul_overflow(numel, sizes[i], &numel);
      if (sizes[i] == 0) continue;
      overflow |= __builtin_mul_overflow(sizes[i] - 1, strides[i], &step);
      overflow |= __builtin_add_overflow(last, step, &last);
    }
    if (overflow || (numel > 0 && last >= avail) || (numel == 0 && off.toInt() > avail)) {
      std::string shape;
      for (auto s : sizes) shape += (shape.empty() ? "" : ", ") + std::to_string(s);
      bad("a tensor of size [" + shape + "] at offset " + std::to_string(off.toInt()) +
          " reaches past its storage of " + std::to_string(avail) +
          " elements (corrupt file)");
    }
    at::Tensor r = at::empty({0}, t.options()).set_(t.storage(), off.toInt(), sizes, strides);
    if (grad.isBool() && grad.toBool() && r.is_floating_point()) r.set_requires_grad(true);
    return r;
  }

  // ('storage', torch.<Type>Storage, key, location, numel): the bytes of
  // data/<key>, as a 1-d tensor holding that storage
  IValue persistent(const IValue &pid) {
    if (!pid.isTuple()) bad("persistent id is not a tuple");
    const std::vector<IValue> e = pid.toTupleRef().elements().vec();
    if (e.size() < 5 || !e[0].isString() || e[0].toStringRef() != "storage" ||
        !e[2].isString() || !e[4].isInt())
      bad("unknown persistent id");
    std::string type = e[1].isString() ? e[1].toStringRef() : "";
    const std::string &key = e[2].toStringRef();
    auto dot = type.rfind('.');
    auto st = kStorages.find(type.substr(dot == std::string::npos ? 0 : dot + 1));
    if (st == kStorages.end()) bad("unsupported storage type '" + type + "'");
    auto known = storages_.find(key);
    if (known == storages_.end()) {
      int64_t numel = e[4].toInt(), nbytes = 0;
      if (numel < 0 ||
          __builtin_mul_overflow(numel, (int64_t)c10::elementSize(st->second), &nbytes))
        bad("storage " + key + " claims " + std::to_string(numel) + " elements");
      auto rec = records_(key);
      if (rec.second < (size_t)nbytes)
        bad("storage record " + key + " is " + std::to_string(rec.second) +
            " bytes, shorter than the " + std::to_string(nbytes) +
            " its tensors need (truncated or corrupt file)");
      at::Storage s(c10::Storage::use_byte_size_t(), (size_t)nbytes,
                    std::move(rec.first), nullptr, false);
      // map_location: the whole storage moves, so tensors sharing it still do
      at::Device device = place_ && e[3].isString() ? (*place_)(e[3].toStringRef()) : at::Device(at::kCPU);
      if (!device.is_cpu())
        s = at::empty({0}, at::TensorOptions().dtype(st->second)).set_(s).to(device).storage();
      known = storages_.emplace(key, s).first;
    }
    return at::empty({0}, at::TensorOptions().dtype(st->second)).set_(known->second);
  }
};

} // namespace

IValue unpickle(const char *p, size_t n, const Records &records, bool scan,
                const std::string &name, const Placer *place) {
  return Reader(p, n, records, scan, name, place).run();
}

} // namespace bridge

extern "C" void th_load_set_limits(int64_t pickle_depth, int64_t script_depth,
                                   int64_t script_terms) {
  if (pickle_depth > 0) bridge::load_limits.pickle_depth = pickle_depth;
  if (script_depth > 0) bridge::load_limits.script_depth = script_depth;
  if (script_terms > 0) bridge::load_limits.script_terms = script_terms;
}
