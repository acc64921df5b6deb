// archive.cpp: a TorchScript archive, checked before libtorch reads it.
//
// libtorch trusts its archives: a storage record shorter than the tensor
// it backs is read past its end (a crash in forward, or heap bytes in a
// weight), and its pickle and TorchScript parsers recurse once per level
// of nesting (20,000 parentheses overflow the stack).  So, before
// torch::jit::load: the zip layout (parse_zip.c), every pickle read by
// clara's unpickler in scan mode (nesting, cycles, lengths, each tensor
// against its storage record), and the bracket and block depth of every
// code/ source file, against clara.limits.
#include <cctype>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <unordered_map>

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

// {====================== source nesting ======================

// Skip a string literal starting at s[i] (a quote); returns the index
// after it.  Triple quotes span lines.
size_t skip_string(const std::string &s, size_t i, int64_t &line) {
  char q = s[i];
  bool triple = s.compare(i, 3, std::string(3, q)) == 0;
  i += triple ? 3 : 1;
  while (i < s.size()) {
    if (s[i] == '\\') { i += 2; continue; }
    if (s[i] == '\n') {
      line++;
      if (!triple) return i;
    }
    if (s[i] == q && (!triple || s.compare(i, 3, std::string(3, q)) == 0))
      return i + (triple ? 3 : 1);
    i++;
  }
  return i;
}

// Does an operand end just before s[i]?  Then '-' there is binary.  A
// keyword (not, and, return ...) is no operand.
bool operand_before(const std::string &s, size_t i) {
  static const char *const keywords[] = {"not", "and", "or", "in", "is", "return",
                                         "if", "elif", "else", "while", "assert",
                                         "yield", "lambda", nullptr};
  while (i > 0 && (s[i - 1] == ' ' || s[i - 1] == '\t')) i--;
  if (i == 0) return false;
  char c = s[i - 1];
  if (std::isalnum((unsigned char)c) || c == '_') {
    size_t b = i;
    while (b > 0 && (std::isalnum((unsigned char)s[b - 1]) || s[b - 1] == '_')) b--;
    std::string word = s.substr(b, i - b);
    for (int k = 0; keywords[k]; k++)
      if (word == keywords[k]) return false;
    return true;
  }
  return c == ')' || c == ']' || c == '}' || c == '\'' || c == '"' || c == '.';
}

} // namespace

// The nesting of TorchScript source as its recursive parser sees it:
// open brackets, indented blocks, and prefix operators (unary - + ~, not,
// and ** chains) within a line.  Throws past `limit`, naming the line.
void check_code_depth(const std::string &s, int64_t limit, const std::string &name) {
  std::vector<size_t> indents{0};
  int64_t line = 1, brackets = 0, prefix = 0;
  bool at_start = true;
  auto over = [&]() {
    int64_t d = brackets + prefix + (int64_t)indents.size() - 1;
    if (d > limit)
      throw std::runtime_error(
          name + ":" + std::to_string(line) + ": code nested deeper than " +
          std::to_string(limit) + " levels (brackets, blocks, operators), over the "
          "limit clara.limits.code_depth (raise it with clara.limits.code_depth = n)");
  };
  for (size_t i = 0; i < s.size();) {
    char c = s[i];
    if (at_start && brackets == 0) { // a logical line's indentation
      size_t w = 0;
      while (i + w < s.size() && (s[i + w] == ' ' || s[i + w] == '\t')) w++;
      char next = i + w < s.size() ? s[i + w] : '\n';
      if (next != '\n' && next != '#' && next != '\r') {
        while (w < indents.back()) indents.pop_back();
        if (w > indents.back()) indents.push_back(w);
        prefix = 0;
        over();
      }
      i += w;
      at_start = false;
      continue;
    }
    if (c == '\n') { line++; at_start = true; i++; continue; }
    if (c == '#') { while (i < s.size() && s[i] != '\n') i++; continue; }
    if (c == '\'' || c == '"') { i = skip_string(s, i, line); continue; }
    if (c == '(' || c == '[' || c == '{') brackets++, over();
    else if ((c == ')' || c == ']' || c == '}') && brackets > 0) brackets--;
    else if (c == '*' && i + 1 < s.size() && s[i + 1] == '*') prefix++, i++, over();
    else if ((c == '-' || c == '+' || c == '~') && !operand_before(s, i)) prefix++, over();
    else if (c == 'n' && s.compare(i, 4, "not ") == 0 && !operand_before(s, i) &&
             (i == 0 || !(std::isalnum((unsigned char)s[i - 1]) || s[i - 1] == '_')))
      prefix++, over();
    i++;
  }
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
    check_code_depth(std::string((const char *)b.p, b.n), load_limits.code_depth,
                     name.substr(prefix.size()));
  }
}

} // namespace bridge
