// pickle.cpp: files in PyTorch's zip format, the ones Python's torch.save
// writes and torch.load reads: a zip archive holding data.pkl (a pickle,
// protocol 2) and data/<key> (the bytes of each storage).
//
// Writing is libtorch's torch::jit::pickle_save.  Reading is done here:
// libtorch's unpickler turns collections.OrderedDict into None and has no
// BUILD for plain objects, and every state_dict Python saves is an
// OrderedDict with _metadata set by BUILD.  This reader knows the opcodes of
// protocols 2 to 4 and the few Python callables that such files name.
#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include <cstring>
#include <map>
#include <stdexcept>
#include <unordered_map>

#include "jit_value.h"

using c10::IValue;

namespace {

struct MemoryReader : caffe2::serialize::ReadAdapterInterface {
  const char *data;
  size_t n;
  MemoryReader(const char *d, size_t len) : data(d), n(len) {}
  size_t size() const override { return n; }
  size_t read(uint64_t pos, void *buf, size_t len,
              const char *what) const override {
    if (pos >= n) return 0;
    len = std::min<size_t>(len, n - pos);
    std::memcpy(buf, data + pos, len);
    return len;
  }
};

[[noreturn]] void bad(const std::string &what) {
  throw std::runtime_error("data.pkl: " + what);
}

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

class Reader {
public:
  Reader(const char *p, size_t n, caffe2::serialize::PyTorchStreamReader &zip)
      : p_(p), end_(p + n), zip_(zip) {}

  IValue run() {
    for (;;) {
      uint8_t op = u(1);
      if (op == '.') break;
      step(op);
    }
    if (stack_.size() != 1 || !stack_[0].callable.empty())
      bad("malformed pickle (stack holds " + std::to_string(stack_.size()) +
          " items at STOP)");
    return stack_[0].v;
  }

private:
  const char *p_, *end_;
  caffe2::serialize::PyTorchStreamReader &zip_;
  std::vector<Item> stack_;
  std::unordered_map<uint64_t, Item> memo_;
  std::map<std::string, at::Storage> storages_; // views share storage

  // 1. reading the byte stream
  const char *take(size_t n) {
    if ((size_t)(end_ - p_) < n) bad("truncated pickle");
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
  std::string line() {
    const char *nl = (const char *)std::memchr(p_, '\n', end_ - p_);
    if (!nl) bad("truncated pickle");
    std::string s(p_, nl);
    p_ = nl + 1;
    return s;
  }
  std::string bytes(size_t n) {
    const char *b = take(n);
    return std::string(b, n);
  }

  // 2. the stack
  void push(IValue v) { stack_.push_back(Item{std::move(v), "", false}); }
  Item pop() {
    if (stack_.empty() || stack_.back().mark) bad("stack underflow");
    Item it = std::move(stack_.back());
    stack_.pop_back();
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
    for (size_t i = m; i < stack_.size(); i++)
      xs.push_back(std::move(stack_[i].v));
    stack_.resize(m - 1);
    return xs;
  }
  void tuple(size_t n) {
    std::vector<IValue> xs(n);
    for (size_t i = n; i-- > 0;) xs[i] = pop().v;
    push(c10::ivalue::Tuple::create(std::move(xs)));
  }
  void set_items(std::vector<IValue> kv) {
    IValue &d = top().v;
    if (!d.isGenericDict()) bad("SETITEMS on a " + d.tagKind());
    auto dict = d.toGenericDict();
    for (size_t i = 0; i + 1 < kv.size(); i += 2)
      dict.insert_or_assign(std::move(kv[i]), std::move(kv[i + 1]));
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
    case 0x95: u(8); break;                        // FRAME
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
    case '}': push(c10::impl::GenericDict(c10::AnyType::get(),
                                          c10::AnyType::get())); break;
    case 'd': {                                    // DICT
      auto kv = pop_to_mark();
      push(c10::impl::GenericDict(c10::AnyType::get(), c10::AnyType::get()));
      set_items(std::move(kv));
      break;
    }
    case 's': { IValue v = pop().v, k = pop().v; set_items({k, v}); break; }
    case 'u': set_items(pop_to_mark()); break;     // SETITEMS
    case 'q': memo_[u(1)] = top(); break;          // BINPUT
    case 'r': memo_[u(4)] = top(); break;          // LONG_BINPUT
    case 0x94: memo_[memo_.size()] = top(); break; // MEMOIZE
    case 'h': get(u(1)); break;                    // BINGET
    case 'j': get(u(4)); break;                    // LONG_BINGET
    case 'c': {                                    // GLOBAL
      std::string module = line();
      callable(module + "." + line());
      break;
    }
    case 0x93: {                                   // STACK_GLOBAL
      std::string name = pop().v.toStringRef();
      callable(pop().v.toStringRef() + "." + name);
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
    case 'b': {                                    // BUILD
      pop(); // a dict's attributes (OrderedDict._metadata): not kept
      if (!top().v.isGenericDict())
        bad("cannot restore the state of a " + top().v.tagKind());
      break;
    }
    case 'Q': push(persistent(pop().v)); break;    // BINPERSID
    default: {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02x", op);
      bad(std::string("unsupported pickle opcode ") + hex);
    }
    }
  }

  void get(uint64_t id) {
    auto it = memo_.find(id);
    if (it == memo_.end()) bad("memo entry " + std::to_string(id) + " unset");
    stack_.push_back(it->second);
  }

  void callable(const std::string &name) {
    stack_.push_back(Item{IValue(name), name, false}); // value: its name
  }

  // 4. the Python callables such files name
  IValue call(const std::string &f, std::vector<IValue> a) {
    auto arg = [&](size_t i) -> IValue & {
      if (i >= a.size()) bad(f + ": too few arguments");
      return a[i];
    };
    if (f == "collections.OrderedDict")
      return c10::impl::GenericDict(c10::AnyType::get(), c10::AnyType::get());
    if (f == "torch._utils._rebuild_tensor_v2") {
      // (storage, offset, size, stride, requires_grad, hooks[, metadata])
      at::Tensor t = arg(0).toTensor();
      auto sizes = ints(arg(2)), strides = ints(arg(3));
      at::Tensor r = at::empty({0}, t.options())
                         .set_(t.storage(), arg(1).toInt(), sizes, strides);
      if (arg(4).toBool()) r.set_requires_grad(true);
      return r;
    }
    if (f == "torch._utils._rebuild_parameter" ||
        f == "torch._utils._rebuild_parameter_with_state") {
      at::Tensor t = arg(0).toTensor();
      t.set_requires_grad(arg(1).toBool());
      return t;
    }
    if (f == "torch.jit._pickle.restore_type_tag") return arg(0);
    if (f.rfind("torch.jit._pickle.build_", 0) == 0) return arg(0);
    if (f == "torch._utils._rebuild_device_tensor_from_numpy" ||
        f.rfind("numpy.", 0) == 0)
      bad("cannot load numpy arrays ('" + f + "'): save tensors instead");
    bad("cannot load the Python object '" + f +
        "' (clara reads tensors, numbers, strings, lists, tuples and dicts: "
        "save a state_dict rather than a model)");
  }

  static std::vector<int64_t> ints(const IValue &t) {
    std::vector<int64_t> xs;
    for (const auto &x : t.toTupleRef().elements()) xs.push_back(x.toInt());
    return xs;
  }

  // ('storage', torch.<Type>Storage, key, location, numel): the bytes of
  // data/<key>, as a 1-d tensor holding that storage
  IValue persistent(const IValue &pid) {
    if (!pid.isTuple()) bad("persistent id is not a tuple");
    const std::vector<IValue> e = pid.toTupleRef().elements().vec();
    if (e.size() < 5 || !e[0].isString() || e[0].toStringRef() != "storage")
      bad("unknown persistent id");
    std::string type = e[1].isString() ? e[1].toStringRef() : "";
    const std::string &key = e[2].toStringRef();
    auto dot = type.rfind('.');
    auto st = kStorages.find(type.substr(dot == std::string::npos ? 0 : dot + 1));
    if (st == kStorages.end()) bad("unsupported storage type '" + type + "'");
    auto known = storages_.find(key);
    if (known == storages_.end()) {
      int64_t numel = e[4].toInt();
      size_t nbytes = (size_t)numel * c10::elementSize(st->second);
      at::DataPtr ptr;
      size_t size = 0;
      std::tie(ptr, size) = zip_.getRecord("data/" + key);
      if (size < nbytes)
        bad("storage data/" + key + " is " + std::to_string(size) +
            " bytes, expected " + std::to_string(nbytes));
      at::Storage s(c10::Storage::use_byte_size_t(), nbytes, std::move(ptr),
                    nullptr, false);
      known = storages_.emplace(key, s).first;
    }
    return at::empty({0}, at::TensorOptions().dtype(st->second))
        .set_(known->second);
  }
};

} // namespace

extern "C" {

int th_pickle_save(th_value *bytes, th_value v) {
  PROTECT({
    std::vector<char> data = torch::jit::pickle_save(bridge::finish(v));
    *bytes = bridge::make_value(IValue(std::string(data.data(), data.size())));
  })
}

int th_pickle_load(th_value *out, const char *data, size_t len) {
  PROTECT({
    if (len < 4 || std::memcmp(data, "PK\x03\x04", 4) != 0)
      throw std::runtime_error(
          "not a zip archive (not a PyTorch file, or PyTorch's legacy "
          "format: save it with _use_new_zipfile_serialization=True)");
    // 1. the archive: data.pkl, and data/<key> for each storage
    std::unique_ptr<caffe2::serialize::PyTorchStreamReader> opened;
    try {
      opened.reset(new caffe2::serialize::PyTorchStreamReader(
          std::make_shared<MemoryReader>(data, len)));
    } catch (const c10::Error &e) {
      throw std::runtime_error(std::string("truncated or corrupt file (") +
                               e.what_without_backtrace() + ")");
    }
    auto &zip = *opened;
    if (zip.hasRecord("constants.pkl"))
      throw std::runtime_error("a TorchScript model, not a torch.save file: "
                               "load it with torch.jit.load");
    if (!zip.hasRecord("data.pkl"))
      throw std::runtime_error("no data.pkl in the archive");
    at::DataPtr pkl;
    size_t size = 0;
    std::tie(pkl, size) = zip.getRecord("data.pkl");
    // 2. the pickle
    Reader reader((const char *)pkl.get(), size, zip);
    *out = bridge::make_value(reader.run());
  })
}

} // extern "C"
