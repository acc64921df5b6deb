// archive.cpp: a TorchScript archive, checked before libtorch reads it.
//
// libtorch trusts its archives: a storage record shorter than the tensor
// it backs is read past its end (a crash in forward, or heap bytes in a
// weight), and its pickle and TorchScript parsers recurse once per level
// of nesting (20,000 parentheses overflow the stack).  So, before
// torch::jit::load: the zip layout (parse_zip.c), every pickle read by
// clara's unpickler in scan mode (nesting, cycles, lengths, each tensor
// against its storage record), and the nesting and statement length of
// every code/ source file (source.cpp), against clara.limits.
#include <memory>
#include <sstream>
#include <stdexcept>
#include <unordered_map>

#include "source.h"
#include "unpickle.h"

namespace bridge {

namespace {

bool ends_with(const std::string &s, const std::string &end) {
  return s.size() >= end.size() && s.compare(s.size() - end.size(), end.size(), end) == 0;
}

struct Entries {
  zip_entry *es = nullptr;
  size_t n = 0;
  ~Entries() { zip_free_list(es, n); }
};

struct Bytes {
  uint8_t *p = nullptr;
  size_t n = 0;
  ~Bytes() { free(p); }
};

void extract(const char *data, size_t len, const zip_entry &e, Bytes &out) {
  parse_error err;
  if (zip_extract((const uint8_t *)data, len, &e, &out.p, &out.n, &err) != 0)
    throw std::runtime_error(std::string("truncated or corrupt file (") + err.msg + ")");
}

} // namespace

// {====================== source nesting ======================

void check_source(const std::string &source, const std::string &name) {
  SourceShape sh = source_shape(source.data(), source.size());
  auto over = [&](const char *what, int64_t line, int64_t n, const char *limit, int64_t max) {
    throw std::runtime_error(name + ":" + std::to_string(line) + ": " + what + " is " +
                             std::to_string(n) + ", over the limit clara.limits." + limit +
                             " = " + std::to_string(max) + " (raise it with clara.limits." +
                             limit + " = n)");
  };
  if (sh.depth > load_limits.script_depth)
    over("the nesting depth of the source (brackets, blocks and prefix operators)",
         sh.depth_line, sh.depth, "script_depth", load_limits.script_depth);
  if (sh.terms > load_limits.script_terms)
    over("the number of terms in the statement", sh.terms_line, sh.terms, "script_terms",
         load_limits.script_terms);
}
// }================================================================

// libtorch's message on an archive it cannot compile is long (the source
// around the error, twice, suggestions, "File a bug report"): keep its first
// line and where in the archive's code it happened.
std::string load_message(const std::string &msg) {
  std::istringstream in(msg);
  std::string gist, where;
  for (std::string line; std::getline(in, line);) {
    size_t a = line.find_first_not_of(" \t");
    if (a == std::string::npos) continue;
    line = line.substr(a);
    if (gist.empty()) gist = line;
    size_t f = line.find("File \"code/");
    size_t l = line.find("\", line ");
    if (where.empty() && f != std::string::npos && l != std::string::npos)
      where = line.substr(f + 6, l - f - 6) + ", line " + line.substr(l + 8);
  }
  for (const char *noise : {" File a bug report:", " File a bug report."}) {
    size_t p = gist.find(noise);
    if (p != std::string::npos) gist.erase(p);
  }
  // a parser's assertion on malformed code is no bug of the reader's
  size_t ia = gist.find("INTERNAL ASSERT FAILED");
  if (ia != std::string::npos) {
    const std::string mark = "please report a bug to PyTorch.";
    size_t pr = gist.find(mark);
    std::string rest = pr == std::string::npos ? "" : gist.substr(pr + mark.size());
    rest.erase(0, std::min(rest.size(), rest.find_first_not_of(" ")));
    gist = "malformed TorchScript code" + (rest.empty() ? "" : ": " + rest);
  }
  if (gist.size() > 300) gist = gist.substr(0, 297) + "...";
  return gist + (where.empty() ? "" : " (in " + where + ")");
}

void check_zip(const char *data, size_t len, zip_entry **es, size_t *n) {
  parse_error err;
  if (zip_list((const uint8_t *)data, len, es, n, &err) != 0 ||
      zip_check_layout((const uint8_t *)data, len, *es, *n, &err) != 0) {
    zip_free_list(*es, *n);
    *es = nullptr;
    *n = 0;
    throw std::runtime_error(std::string("truncated or corrupt file (") + err.msg + ")");
  }
}

void check_archive(const char *data, size_t len) {
  // 1. the directory
  Entries z;
  check_zip(data, len, &z.es, &z.n);
  std::unordered_map<std::string, const zip_entry *> byname;
  std::string prefix;
  bool found = false;
  for (size_t i = 0; i < z.n; i++) {
    std::string name = z.es[i].name;
    byname[name] = &z.es[i];
    if (ends_with(name, "/data.pkl") &&
        name.find('/') == name.size() - 9 && !found) {
      prefix = name.substr(0, name.size() - 8);
      found = true;
    }
  }
  if (!found) return; // not an archive libtorch reads: it says so itself
  // 2. every pickle: nesting, and its tensors against their records
  for (size_t i = 0; i < z.n; i++) {
    std::string name = z.es[i].name;
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    std::string rel = name.substr(prefix.size());
    if (!ends_with(rel, ".pkl") && !ends_with(rel, ".debug_pkl")) continue;
    std::string dir = rel == "constants.pkl" ? "constants/" : "data/";
    Records records = [&](const std::string &key) {
      for (const std::string &d : {dir, std::string("constants/"), std::string(".data/")}) {
        auto it = byname.find(prefix + d + key);
        if (it != byname.end())
          return std::make_pair(at::DataPtr(), (size_t)it->second->usize);
      }
      throw std::runtime_error(rel + ": storage record " + dir + key +
                               " is missing from the archive");
    };
    Bytes b;
    extract(data, len, z.es[i], b);
    unpickle((const char *)b.p, b.n, records, true, rel);
  }
  // 3. the source
  for (size_t i = 0; i < z.n; i++) {
    std::string name = z.es[i].name;
    if (name.compare(0, prefix.size() + 5, prefix + "code/") != 0 || !ends_with(name, ".py"))
      continue;
    Bytes b;
    extract(data, len, z.es[i], b);
    check_source(std::string((const char *)b.p, b.n), name.substr(prefix.size()));
  }
}

} // namespace bridge
