// unpickle.h: clara's unpickler (unpickle.cpp), shared by torch.load
// (pickle.cpp) and the TorchScript archive check (archive.cpp), which runs
// before libtorch sees an archive.
#ifndef BRIDGE_UNPICKLE_H
#define BRIDGE_UNPICKLE_H

#include <ATen/core/ivalue.h>

#include <functional>
#include <string>
#include <utility>

#include "parse.h"

namespace bridge {

// The limits the readers obey (clara.limits sets them before each load).
struct LoadLimits {
  int64_t pickle_depth = 1000; // nesting of lists, tuples, dicts, objects
  int64_t script_depth = 200;  // TorchScript source: brackets, blocks, prefix operators
  int64_t script_terms = 5000; // TorchScript source: terms of one statement
};
extern LoadLimits load_limits;

// The bytes of the storage record `key` (data/<key>): its data, or a null
// DataPtr when only its size matters (a scan), and its size in bytes.
using Records = std::function<std::pair<at::DataPtr, size_t>(const std::string &key)>;

// Where the storages saved at a location ("cpu", "cuda:0") go: torch.load's
// map_location, resolved for each storage as it is read.
using Placer = std::function<at::Device(const std::string &location)>;

// Read a pickle.  `name` prefixes messages ("data.pkl").  A scan accepts
// any class (as a dict holding its state) for checking an archive; a load
// accepts only what torch.save files of tensors hold.  Throws
// std::runtime_error on a malformed, cyclic or too deep pickle, and on a
// tensor that does not fit its storage.
// `place` (optional) moves each storage to the device of its location.
c10::IValue unpickle(const char *p, size_t n, const Records &records,
                     bool scan, const std::string &name, const Placer *place = nullptr);

// The archive's directory (parse_zip.c), checked: entries inside the
// file that do not overlap.  The caller frees it with zip_free_list.
void check_zip(const char *data, size_t len, zip_entry **es, size_t *n);

// Check a TorchScript archive before libtorch reads it (archive.cpp):
// the zip layout, every pickle's nesting, every tensor against its
// storage record, the nesting of the code.  Throws std::runtime_error.
void check_archive(const char *data, size_t len);

// libtorch's message on an archive it cannot load, made short: its gist
// and the file and line of the archive's code it names.
std::string load_message(const std::string &msg);

} // namespace bridge

#endif
