// source.cpp: how deep and how long TorchScript source is, as libtorch's
// parser and compiler will recurse over it.
//
// They recurse once per open bracket, indented block, prefix operator
// (- + ~ not) and ** of a right-associative chain, and the compiler once
// more per term of a statement (x + x + ... + x): some thousands of either
// overflow the C stack (SIGSEGV, no message).  The scan follows Python's
// lexical rules far enough to skip strings and comments, whose contents do
// not nest, and counts a run of prefix operators only until the operator
// that ends it, so [-1, -2, ..., -1000] is flat while - - - ... x is deep.
#include "source.h"

#include <vector>

namespace bridge {

namespace {

bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool is_operator(char c) {
  for (const char *p = "+-*/%@&|^~<>=!."; *p; p++)
    if (c == *p) return true;
  return false;
}

// keyword operators: each a term, each ends a run of prefix operators
bool is_keyword_operator(const std::string &w) {
  for (const char *k : {"and", "or", "if", "else", "lambda", "is", "in"})
    if (w == k) return true;
  return false;
}

// words after which no operand has ended (a '-' after one is unary)
bool is_keyword(const std::string &w) {
  for (const char *k : {"not", "return", "elif", "while", "for", "assert", "yield", "del",
                        "raise", "with", "as", "def", "class", "import", "from", "await"})
    if (w == k) return true;
  return is_keyword_operator(w);
}

struct Scan {
  const char *s;
  size_t n, i = 0;
  SourceShape shape;
  int64_t line = 1, terms = 0, prefix = 0; // prefix: all runs' operators
  std::vector<size_t> indents{0};
  std::vector<int64_t> runs{0}; // open prefix operators per bracket level
  bool operand = false;         // did an operand just end?

  int64_t brackets() const { return (int64_t)runs.size() - 1; }

  void note_depth() {
    int64_t d = brackets() + prefix + (int64_t)indents.size() - 1;
    if (d > shape.depth) shape.depth = d, shape.depth_line = line;
  }
  void add_terms(int64_t k) {
    terms += k;
    if (terms > shape.terms) shape.terms = terms, shape.terms_line = line;
  }
  void start_run() { prefix++, runs.back()++, note_depth(); }
  void end_run() { prefix -= runs.back(), runs.back() = 0; }

  // a logical line's indentation opens or closes blocks
  void indentation() {
    size_t w = 0;
    for (; i < n; i++) {
      if (s[i] == ' ') w++;
      else if (s[i] == '\t') w = (w / 8 + 1) * 8;
      else if (s[i] == '\f') w = 0;
      else break;
    }
    if (i == n || s[i] == '\n' || s[i] == '\r' || s[i] == '#') return; // blank
    while (w < indents.back()) indents.pop_back();
    if (w > indents.back()) indents.push_back(w);
    terms = 0, operand = false;
    end_run();
    note_depth();
  }

  // past the string literal opened by the quote at i; a one-line string
  // left open stops at the newline (libtorch reports it)
  void string() {
    char q = s[i];
    bool triple = i + 2 < n && s[i + 1] == q && s[i + 2] == q;
    i += triple ? 3 : 1;
    while (i < n) {
      if (s[i] == '\\') {
        if (i + 1 < n && s[i + 1] == '\n') line++;
        i += 2;
      } else if (s[i] == '\n' && !triple) {
        break;
      } else if (s[i] == q && (!triple || (i + 2 < n && s[i + 1] == q && s[i + 2] == q))) {
        i += triple ? 3 : 1;
        break;
      } else {
        line += s[i] == '\n';
        i++;
      }
    }
    operand = true;
  }

  void word() {
    size_t b = i;
    while (i < n && is_word_char(s[i])) i++;
    std::string w(s + b, i - b);
    if (w == "not" && !operand) { // `a not in b` is binary
      add_terms(1), start_run();
    } else if (is_keyword_operator(w) || w == "not") {
      add_terms(1), end_run();
    }
    operand = !is_keyword(w);
  }

  void number() { // digits, letters, '.', and an exponent's sign
    while (i < n && (is_word_char(s[i]) || s[i] == '.' ||
                     ((s[i] == '-' || s[i] == '+') && (s[i - 1] == 'e' || s[i - 1] == 'E'))))
      i++;
    operand = true;
  }

  void op() {
    char c = s[i];
    if (c == '*' && i + 1 < n && s[i + 1] == '*') { // right-associative
      add_terms(2), start_run();
      i += 2;
    } else {
      add_terms(1);
      if ((c == '-' || c == '+' || c == '~') && !operand) start_run();
      else if (c != '.') end_run();
      i++;
    }
    operand = false;
  }

  void newline() {
    line++, i++;
    if (brackets() == 0) { // the statement ends
      while (i < n && is_blank_line()) skip_line();
      if (i < n) indentation();
    }
  }
  bool is_blank_line() const {
    size_t j = i;
    while (j < n && (s[j] == ' ' || s[j] == '\t' || s[j] == '\f' || s[j] == '\r')) j++;
    return j == n || s[j] == '\n' || s[j] == '#';
  }
  void skip_line() {
    while (i < n && s[i] != '\n') i++;
    if (i < n) line++, i++;
  }

  // a backslash ending the line (LF or CRLF) joins the next to it: past both
  bool continuation() {
    size_t end = i + 1 < n && s[i + 1] == '\r' ? i + 2 : i + 1;
    if (end >= n || s[end] != '\n') return false;
    i = end + 1;
    return true;
  }

  void run() {
    while (i < n && is_blank_line()) skip_line();
    if (i < n) indentation();
    while (i < n) {
      char c = s[i];
      if (c == '\n') {
        newline();
      } else if (c == '#') {
        while (i < n && s[i] != '\n') i++;
      } else if (c == '\'' || c == '"') {
        string();
      } else if (c == '\\' && continuation()) {
        line++;
      } else if (c == '(' || c == '[' || c == '{') {
        add_terms(1), runs.push_back(0), note_depth();
        operand = false, i++;
      } else if (c == ')' || c == ']' || c == '}') {
        if (brackets() > 0) end_run(), runs.pop_back();
        operand = true, i++;
      } else if (is_digit(c) || (c == '.' && i + 1 < n && is_digit(s[i + 1]) && !operand)) {
        number();
      } else if (is_word_char(c)) {
        word();
      } else if (is_operator(c)) {
        op();
      } else {
        if (c == ',' || c == ':' || c == ';') end_run(), operand = false;
        i++;
      }
    }
  }
};

} // namespace

SourceShape source_shape(const char *src, size_t len) {
  Scan scan{src, len};
  scan.run();
  return scan.shape;
}

} // namespace bridge
