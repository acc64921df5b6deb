// source.h: the shape of TorchScript source text (source.cpp), the one
// check that keeps libtorch's recursive parser and compiler on their stack,
// for torch.jit.compile (through th_source_shape) and torch.jit.load's
// archives (archive.cpp).
#ifndef BRIDGE_SOURCE_H
#define BRIDGE_SOURCE_H

#include <cstddef>
#include <cstdint>
#include <string>

namespace bridge {

// The deepest nesting (brackets, indented blocks, runs of prefix operators
// and ** chains) with the line it is first reached on, and the most terms
// (operators, '.', keyword operators, brackets) of one statement, with its
// line.  Strings and comments do not count.
struct SourceShape {
  int64_t depth = 0, depth_line = 1, terms = 0, terms_line = 1;
};
SourceShape source_shape(const char *src, size_t len);

// Throw std::runtime_error when source is deeper or longer than
// clara.limits.script_depth / script_terms (load_limits); name (a file)
// starts the message.
void check_source(const std::string &source, const std::string &name);

} // namespace bridge

#endif
