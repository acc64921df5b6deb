// pickle.cpp: files in PyTorch's zip format, the ones Python's torch.save
// writes and torch.load reads: a zip archive holding data.pkl (a pickle,
// protocol 2) and data/<key> (the bytes of each storage).
//
// Writing is libtorch's torch::jit::pickle_save.  Reading is clara's own
// unpickler (unpickle.cpp), after a check of the zip layout (parse_zip.c):
// a hostile archive's entries may not overlap nor claim more than they hold.
#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "jit_value.h"
#include "parse.h"
#include "unpickle.h"

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

} // namespace

extern "C" {

// beside the other th_value accessors (jit.cpp): the Lua conversion keeps
// containers a pickle shares shared
const void *th_value_id(th_value h) {
  PROTECT_RET(nullptr, {
    const IValue &v = bridge::finish(h);
    if (v.isList() || v.isTuple() || v.isGenericDict()) return v.internalToPointer();
    return nullptr;
  })
}

int th_pickle_save(th_value *bytes, th_value v) {
  PROTECT({
    std::vector<char> data = torch::jit::pickle_save(bridge::finish(v));
    *bytes = bridge::make_value(IValue(std::string(data.data(), data.size())));
  })
}

int th_pickle_load(th_value *out, th_value *locations, const char *data, size_t len,
                   const char *const *map, int n) {
  PROTECT({
    if (len < 4 || std::memcmp(data, "PK\x03\x04", 4) != 0)
      throw std::runtime_error(
          "not a zip archive (not a PyTorch file, or PyTorch's legacy "
          "format: save it with _use_new_zipfile_serialization=True)");
    // 1. the archive: data.pkl, and data/<key> for each storage
    zip_entry *es = nullptr;
    size_t nes = 0;
    bridge::check_zip(data, len, &es, &nes);
    zip_free_list(es, nes);
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
    bridge::Records records = [&](const std::string &key) {
      if (!zip.hasRecord("data/" + key))
        throw std::runtime_error("data.pkl: storage record data/" + key +
                                 " is missing from the archive");
      auto rec = zip.getRecord("data/" + key);
      return std::make_pair(std::move(std::get<0>(rec)), std::get<1>(rec));
    };
    // 3. map_location, and the locations seen
    std::vector<std::string> seen;
    bridge::Placer place = [&](const std::string &location) {
      if (std::find(seen.begin(), seen.end(), location) == seen.end()) seen.push_back(location);
      const char *exact = nullptr, *any = nullptr;
      for (int i = 0; i < n; i++) {
        if (location == map[2 * i]) exact = map[2 * i + 1];
        if (std::strcmp(map[2 * i], "*") == 0) any = map[2 * i + 1];
      }
      return at::Device(exact ? exact : any ? any : "cpu");
    };
    *out = bridge::make_value(
        bridge::unpickle((const char *)pkl.get(), size, records, false, "data.pkl", &place));
    c10::List<std::string> list;
    for (auto &l : seen) list.push_back(l);
    *locations = bridge::make_value(IValue(list));
  })
}

} // extern "C"
