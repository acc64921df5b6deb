/*
** parse_csv.c: CSV/TSV into a float32 matrix of the chosen input columns
** and a label vector (numbers, or class ids with the class names).
**
** RFC 4180 quoting (quoted fields may hold separators, newlines and ""),
** CRLF or LF lines, blank lines skipped, a UTF-8 BOM ignored.  Every row
** must have as many fields as the first line.  Columns neither input nor
** label are skipped unparsed, so they may hold anything.  Numbers take a
** fast exact path (Clinger: <= 19 digits, |exp| <= 22) and fall back to
** strtod, so values are those strtod gives, rounded to float32.
*/
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "parse.h"

enum { ROLE_SKIP = -1, ROLE_LABEL = -2 };

static const char *const default_na[] = {"NA", "N/A", "NaN", "nan", "null", "NULL", "?"};

typedef struct {
  const char *p, *end, *ls; /* cursor, end, start of the current line */
  int64_t line;
  char sep;
  const csv_spec *s;
  parse_error *err;
} P;

static int64_t col_of(const P *st, const char *at) { return (int64_t)(at - st->ls) + 1; }

static int is_blank(char c, char sep) { return (c == ' ' || c == '\t') && c != sep; }
static int is_end(const P *st, const char *q) {
  return q >= st->end || *q == st->sep || *q == '\n' || *q == '\r';
}

/* ---- numbers ---- */

static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                               1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                               1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* strtod on a NUL-terminated copy of [a, b) */
static int slow_num(const char *a, const char *b, double *out) {
  char small[128], *buf = small;
  size_t n = (size_t)(b - a);
  if (n >= sizeof small && !(buf = malloc(n + 1))) return -1;
  memcpy(buf, a, n);
  buf[n] = 0;
  char *stop;
  *out = strtod(buf, &stop);
  int ok = stop == buf + n && n > 0;
  if (buf != small) free(buf);
  return ok ? 0 : -1;
}

/* a decimal number starting at p (after blanks); returns where it stops, or
   NULL when no number starts there.  inf, nan and hex are not numbers here:
   the slow path decides about them. */
static const char *fast_num(const P *st, const char *p, double *out) {
  const char *end = st->end, *start;
  while (p < end && is_blank(*p, st->sep)) p++;
  start = p;
  int neg = 0;
  if (p < end && (*p == '-' || *p == '+')) neg = *p++ == '-';
  uint64_t m = 0;
  int digits = 0, sig = 0, e10 = 0;
  for (; p < end && (unsigned)(*p - '0') < 10; p++, digits++)
    if (sig < 19) { m = m * 10 + (unsigned)(*p - '0'); if (m) sig++; }
    else e10++;
  if (p < end && *p == '.')
    for (p++; p < end && (unsigned)(*p - '0') < 10; p++, digits++)
      if (sig < 19) { m = m * 10 + (unsigned)(*p - '0'); if (m) sig++; e10--; }
  if (!digits) return NULL;
  if (p < end && (*p == 'e' || *p == 'E')) {
    const char *q = p + 1;
    int eneg = 0, ev = 0, ed = 0;
    if (q < end && (*q == '-' || *q == '+')) eneg = *q++ == '-';
    for (; q < end && (unsigned)(*q - '0') < 10; q++, ed++)
      if (ev < 100000) ev = ev * 10 + (*q - '0');
    if (!ed) return NULL;
    e10 += eneg ? -ev : ev;
    p = q;
  }
  if (sig >= 19 || m > (1ull << 53) || e10 < -22 || e10 > 22) {
    if (slow_num(start, p, out)) return NULL;
    return p;
  }
  double v = (double)m;
  v = e10 < 0 ? v / pow10[-e10] : v * pow10[e10];
  *out = neg ? -v : v;
  return p;
}

/* ---- fields ---- */

/* skip a quoted field starting at st->p (on the quote); leaves st->p after
   the closing quote; counts the newlines inside */
static int skip_quoted(P *st) {
  const char *open = st->p;
  int64_t line = st->line;
  const char *ls = st->ls;
  for (const char *q = st->p + 1; q < st->end; q++) {
    if (*q == '\n') st->line++, st->ls = q + 1;
    else if (*q == '"') {
      if (q + 1 < st->end && q[1] == '"') { q++; continue; }
      st->p = q + 1;
      if (!is_end(st, st->p))
        return parse_fail_at(st->err, st->line, col_of(st, st->p),
                             "text after the closing quote of a field");
      return 0;
    }
  }
  return parse_fail_at(st->err, line, (int64_t)(open - ls) + 1, "unterminated quoted field");
}

/* the field at st->p as [*a, *b) (inside the quotes when quoted); st->p
   ends on its terminator */
static int field_span(P *st, const char **a, const char **b, int *quoted) {
  *quoted = st->p < st->end && *st->p == '"';
  if (*quoted) {
    *a = st->p + 1;
    if (skip_quoted(st)) return -1;
    *b = st->p - 1;
    return 0;
  }
  const char *q = st->p;
  while (!is_end(st, q)) q++;
  *a = st->p;
  *b = st->p = q;
  return 0;
}

/* printable excerpt of [a, b) for messages */
static const char *excerpt(const char *a, const char *b, char *buf, size_t size) {
  size_t n = 0;
  for (; a < b && n + 4 < size; a++) buf[n++] = isprint((unsigned char)*a) ? *a : '?';
  if (a < b) buf[n++] = '.', buf[n++] = '.', buf[n++] = '.';
  buf[n] = 0;
  return buf;
}

static void column_name(const P *st, int c, char *buf, size_t size) {
  if (st->s->colnames && st->s->colnames[c]) snprintf(buf, size, "'%s'", st->s->colnames[c]);
  else snprintf(buf, size, "%d", c + 1);
}

static int is_na(const P *st, const char *a, const char *b) {
  size_t n = (size_t)(b - a);
  while (n && is_blank(*a, st->sep)) a++, n--;
  while (n && is_blank(a[n - 1], st->sep)) n--;
  if (n == 0) return 1;
  const char *const *na = st->s->na ? st->s->na : default_na;
  int nna = st->s->na ? st->s->nna : (int)(sizeof default_na / sizeof *default_na);
  for (int i = 0; i < nna; i++)
    if (strlen(na[i]) == n && memcmp(na[i], a, n) == 0) return 1;
  return 0;
}

/* inf, infinity, nan with an optional sign, as numpy reads them */
static int special_num(const P *st, const char *a, const char *b, double *v) {
  while (a < b && is_blank(*a, st->sep)) a++;
  while (b > a && is_blank(b[-1], st->sep)) b--;
  int neg = a < b && *a == '-';
  if (a < b && (*a == '-' || *a == '+')) a++;
  size_t n = (size_t)(b - a);
  if ((n == 3 && strncasecmp(a, "inf", 3) == 0) || (n == 8 && strncasecmp(a, "infinity", 8) == 0))
    *v = neg ? -INFINITY : INFINITY;
  else if (n == 3 && strncasecmp(a, "nan", 3) == 0) *v = NAN;
  else return -1;
  return 0;
}

/* a numeric field: 0 with *v, 1 when missing, -1 on error */
static int num_field(P *st, int c, double *v) {
  const char *a = st->p, *b, *q;
  int quoted;
  if (a < st->end && *a != '"' && (q = fast_num(st, a, v)) != NULL) {
    while (q < st->end && is_blank(*q, st->sep)) q++;
    if (is_end(st, q)) { st->p = q; return 0; }
  }
  /* slow path: the whole field, then missing / special / number / error */
  if (field_span(st, &a, &b, &quoted)) return -1;
  if (is_na(st, a, b)) return 1;
  if (special_num(st, a, b, v) == 0) return 0;
  if (quoted && (q = fast_num(st, a, v)) != NULL) {
    while (q < b && is_blank(*q, st->sep)) q++;
    if (q == b) return 0;
  }
  char ex[48], name[80];
  column_name(st, c, name, sizeof name);
  return parse_fail_at(st->err, st->line, col_of(st, quoted ? a - 1 : a),
                       "non-numeric value '%s' in column %s",
                       excerpt(a, b, ex, sizeof ex), name);
}

/* ---- class names: an open-addressing table, names kept in order seen ---- */

typedef struct {
  char **names;
  int n, cap;
  int *slots; /* -1 empty, else index into names */
  int nslots;
  int fixed;  /* names given: unknown names are errors */
} Classes;

static uint32_t hash(const char *a, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)a[i]) * 16777619u;
  return h;
}

static int cls_rehash(Classes *c) {
  int ns = c->nslots ? c->nslots * 2 : 64;
  int *slots = malloc(sizeof *slots * (size_t)ns);
  if (!slots) return -1;
  for (int i = 0; i < ns; i++) slots[i] = -1;
  for (int i = 0; i < c->n; i++) {
    uint32_t h = hash(c->names[i], strlen(c->names[i])) & (uint32_t)(ns - 1);
    while (slots[h] >= 0) h = (h + 1) & (uint32_t)(ns - 1);
    slots[h] = i;
  }
  free(c->slots);
  c->slots = slots;
  c->nslots = ns;
  return 0;
}

/* the id of name [a, b) (unescaping "" when quoted); -1 out of memory, -2 unknown */
static int64_t cls_id(Classes *c, const char *a, const char *b, int quoted) {
  char small[256], *name = small;
  size_t n = 0, len = (size_t)(b - a);
  if (len >= sizeof small && !(name = malloc(len + 1))) return -1;
  for (const char *q = a; q < b; q++) {
    name[n++] = *q;
    if (quoted && *q == '"' && q + 1 < b && q[1] == '"') q++;
  }
  name[n] = 0;
  int64_t id = -2;
  if ((c->n + 1) * 2 > c->nslots && cls_rehash(c)) goto done;
  uint32_t h = hash(name, n) & (uint32_t)(c->nslots - 1);
  for (; c->slots[h] >= 0; h = (h + 1) & (uint32_t)(c->nslots - 1))
    if (strlen(c->names[c->slots[h]]) == n && memcmp(c->names[c->slots[h]], name, n) == 0) {
      id = c->slots[h];
      goto done;
    }
  if (c->fixed) goto done;
  if (c->n == c->cap) {
    int cap = c->cap ? c->cap * 2 : 16;
    char **grown = realloc(c->names, sizeof *grown * (size_t)cap);
    if (!grown) { id = -1; goto done; }
    c->names = grown, c->cap = cap;
  }
  if (!(c->names[c->n] = strdup(name))) { id = -1; goto done; }
  c->slots[h] = c->n;
  id = c->n++;
done:
  if (name != small) free(name);
  return id;
}

static void cls_free(Classes *c) {
  for (int i = 0; i < c->n; i++) free(c->names[i]);
  free(c->names);
  free(c->slots);
}

static int by_name(const void *a, const void *b) {
  return strcmp(**(char *const *const *)a, **(char *const *const *)b);
}

/* learnt names sorted, ids renumbered to match (as sklearn's LabelEncoder) */
static int cls_sort(Classes *c, int64_t *ids, int64_t rows) {
  char ***order = malloc(sizeof *order * (size_t)(c->n ? c->n : 1));
  int64_t *newid = malloc(sizeof *newid * (size_t)(c->n ? c->n : 1));
  char **sorted = malloc(sizeof *sorted * (size_t)(c->n ? c->n : 1));
  if (!order || !newid || !sorted) return free(order), free(newid), free(sorted), -1;
  for (int i = 0; i < c->n; i++) order[i] = &c->names[i];
  qsort(order, (size_t)c->n, sizeof *order, by_name);
  for (int i = 0; i < c->n; i++) {
    newid[order[i] - c->names] = i;
    sorted[i] = *order[i];
  }
  for (int64_t r = 0; r < rows; r++) ids[r] = newid[ids[r]];
  free(c->names);
  c->names = sorted;
  c->cap = c->n;
  free(order);
  free(newid);
  return 0;
}

/* ---- the header ---- */

static const char *skip_bom(const char *buf, size_t len) {
  return len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0 ? buf + 3 : buf;
}

static int only_space(const char *a, const char *b) {
  for (; a < b; a++) if (!isspace((unsigned char)*a)) return 0;
  return 1;
}

static void skip_blank_lines(P *st) {
  while (st->p < st->end && (*st->p == '\n' || *st->p == '\r')) {
    if (*st->p == '\n') st->line++;
    st->p++;
  }
  st->ls = st->p;
}

int parse_csv_header(const char *buf, size_t len, char sep, csv_header *out,
                     parse_error *err) {
  P st = {skip_bom(buf, len), buf + len, NULL, 1, sep, NULL, err};
  skip_blank_lines(&st);
  out->names = NULL;
  out->n = 0;
  if (only_space(st.p, st.end)) return parse_fail_at(err, 1, 1, "empty file");
  int cap = 0;
  for (;;) {
    const char *a, *b;
    int quoted;
    if (field_span(&st, &a, &b, &quoted)) return csv_header_free(out), -1;
    if (out->n == cap) {
      cap = cap ? cap * 2 : 16;
      char **grown = realloc(out->names, sizeof *grown * (size_t)cap);
      if (!grown) return csv_header_free(out), parse_fail_at(err, 1, 1, "out of memory");
      out->names = grown;
    }
    char *name = malloc((size_t)(b - a) + 1);
    if (!name) return csv_header_free(out), parse_fail_at(err, 1, 1, "out of memory");
    size_t n = 0;
    for (const char *q = a; q < b; q++) {
      name[n++] = *q;
      if (quoted && *q == '"' && q + 1 < b && q[1] == '"') q++;
    }
    name[n] = 0;
    out->names[out->n++] = name;
    if (st.p >= st.end || *st.p != sep) break;
    st.p++;
  }
  return 0;
}

void csv_header_free(csv_header *h) {
  for (int i = 0; i < h->n; i++) free(h->names[i]);
  free(h->names);
  h->names = NULL;
  h->n = 0;
}

/* ---- the rows ---- */

typedef struct {
  int *role;          /* per column: input slot, ROLE_LABEL or ROLE_SKIP */
  int ncols;
  int64_t *missing;   /* positions (row * ninputs + slot) of missing inputs */
  int64_t nmissing, capmissing;
  Classes cls;
} Work;

static int note_missing(Work *w, int64_t pos) {
  if (w->nmissing == w->capmissing) {
    int64_t cap = w->capmissing ? w->capmissing * 2 : 64;
    int64_t *grown = realloc(w->missing, sizeof *grown * (size_t)cap);
    if (!grown) return -1;
    w->missing = grown, w->capmissing = cap;
  }
  w->missing[w->nmissing++] = pos;
  return 0;
}

/* the label field of row r; 0, 1 when missing, -1 on error */
static int label_field(P *st, Work *w, csv_result *r, int c) {
  if (st->s->label_kind == CSV_LABEL_NUMBER) {
    double v;
    int rc = num_field(st, c, &v);
    if (rc == 0) r->y[r->rows] = (float)v;
    return rc;
  }
  const char *a, *b;
  int quoted;
  if (field_span(st, &a, &b, &quoted)) return -1;
  if (!quoted && is_na(st, a, b)) return 1;
  int64_t id = cls_id(&w->cls, a, b, quoted);
  if (id == -1) return parse_fail_at(st->err, st->line, col_of(st, a), "out of memory");
  if (id == -2) {
    char ex[48];
    return parse_fail_at(st->err, st->line, col_of(st, quoted ? a - 1 : a),
                         "label '%s' is not one of the %d classes given",
                         excerpt(a, b, ex, sizeof ex), st->s->nclasses);
  }
  r->ids[r->rows] = id;
  return 0;
}

static int missing_error(P *st, int c, const char *at, const char *what) {
  char name[80];
  column_name(st, c, name, sizeof name);
  return parse_fail_at(st->err, st->line, col_of(st, at), "missing %s in column %s",
                       what, name);
}

/* one row starting at st->p; leaves st->p at the start of the next line */
static int parse_row(P *st, Work *w, csv_result *r) {
  const csv_spec *s = st->s;
  float *x = r->x + r->rows * s->ninputs;
  int drop = 0;
  for (int c = 0;; c++) {
    const char *at = st->p;
    if (c >= w->ncols)
      return parse_fail_at(st->err, st->line, col_of(st, at), "row has more than "
                           "%d fields (as many as the first line)", w->ncols);
    int role = w->role[c], rc;
    if (role >= 0) {
      double v;
      rc = num_field(st, c, &v);
      if (rc < 0) return -1;
      if (rc == 0) x[role] = (float)v;
      else if (s->missing == CSV_MISSING_ERROR) return missing_error(st, c, at, "value");
      else if (s->missing == CSV_MISSING_DROP) drop = 1;
      else {
        x[role] = 0;
        if (s->missing == CSV_MISSING_MEAN && note_missing(w, r->rows * s->ninputs + role))
          return parse_fail_at(st->err, st->line, 1, "out of memory");
      }
    } else if (role == ROLE_LABEL) {
      rc = label_field(st, w, r, c);
      if (rc < 0) return -1;
      if (rc == 1) {
        if (s->missing != CSV_MISSING_DROP) return missing_error(st, c, at, "label");
        drop = 1;
      }
    } else if (st->p < st->end && *st->p == '"') {
      if (skip_quoted(st)) return -1;
    } else {
      while (!is_end(st, st->p)) st->p++;
    }
    /* the terminator: a separator goes on, anything else ends the row */
    if (st->p < st->end && *st->p == st->sep) { st->p++; continue; }
    if (c + 1 < w->ncols)
      return parse_fail_at(st->err, st->line, col_of(st, st->p), "row has %d "
                           "fields, expected %d (as many as the first line)",
                           c + 1, w->ncols);
    break;
  }
  if (st->p < st->end && *st->p == '\r') st->p++;
  if (st->p < st->end && *st->p == '\n') st->p++;
  st->line++;
  st->ls = st->p;
  if (drop) {
    /* forget the missing positions noted for this row */
    while (w->nmissing && w->missing[w->nmissing - 1] >= r->rows * s->ninputs) w->nmissing--;
    r->dropped++;
  } else {
    r->rows++;
  }
  return 0;
}

/* column means over the values present, into the missing places */
static int fill_means(Work *w, csv_result *r, const csv_spec *s, parse_error *err) {
  int n = s->ninputs;
  double *sum = calloc((size_t)n + 1, sizeof *sum);
  int64_t *absent = calloc((size_t)n + 1, sizeof *absent);
  if (!sum || !absent) return free(sum), free(absent), parse_fail(err, -1, "out of memory");
  for (int64_t i = 0; i < w->nmissing; i++) absent[w->missing[i] % n]++;
  for (int64_t row = 0; row < r->rows; row++)
    for (int k = 0; k < n; k++) sum[k] += r->x[row * n + k];
  for (int k = 0; k < n; k++) {
    if (absent[k] && absent[k] == r->rows) {
      int c = s->inputs[k];
      free(sum), free(absent);
      if (s->colnames) return parse_fail(err, -1, "column '%s' has no values to take "
                                         "the mean of", s->colnames[c]);
      return parse_fail(err, -1, "column %d has no values to take the mean of", c + 1);
    }
    sum[k] = absent[k] ? sum[k] / (double)(r->rows - absent[k]) : 0;
  }
  for (int64_t i = 0; i < w->nmissing; i++)
    r->x[w->missing[i]] = (float)sum[w->missing[i] % n];
  free(sum), free(absent);
  return 0;
}

/* 1. roles of the columns, from the first line's field count */
static int setup(const char *buf, size_t len, const csv_spec *s, Work *w,
                 parse_error *err) {
  csv_header h;
  if (parse_csv_header(buf, len, s->sep, &h, err)) return -1;
  w->ncols = h.n;
  csv_header_free(&h);
  w->role = malloc(sizeof *w->role * (size_t)w->ncols);
  if (!w->role) return parse_fail_at(err, 1, 1, "out of memory");
  for (int c = 0; c < w->ncols; c++) w->role[c] = ROLE_SKIP;
  for (int k = 0; k < s->ninputs; k++) {
    if (s->inputs[k] < 0 || s->inputs[k] >= w->ncols)
      return parse_fail_at(err, 1, 1, "input column %d does not exist (the first "
                           "line has %d fields)", s->inputs[k] + 1, w->ncols);
    if (w->role[s->inputs[k]] != ROLE_SKIP)
      return parse_fail_at(err, 1, 1, "input column %d given twice", s->inputs[k] + 1);
    w->role[s->inputs[k]] = k;
  }
  if (s->label >= 0) {
    if (s->label >= w->ncols)
      return parse_fail_at(err, 1, 1, "label column %d does not exist (the first "
                           "line has %d fields)", s->label + 1, w->ncols);
    if (w->role[s->label] != ROLE_SKIP)
      return parse_fail_at(err, 1, 1, "column %d is both input and label", s->label + 1);
    w->role[s->label] = ROLE_LABEL;
  }
  for (int i = 0; s->classes && i < s->nclasses; i++) {
    w->cls.fixed = 0;
    int64_t id = cls_id(&w->cls, s->classes[i], s->classes[i] + strlen(s->classes[i]), 0);
    if (id < 0) return parse_fail_at(err, 1, 1, "out of memory");
    if (id != i) return parse_fail_at(err, 1, 1, "class '%s' given twice", s->classes[i]);
  }
  w->cls.fixed = s->classes != NULL;
  return 0;
}

/* 2. room for every row there can be: no more than the lines, nor than
   the bytes allow at ncols - 1 separators and one newline per row */
static int allocate(const char *buf, size_t len, const csv_spec *s, Work *w,
                    csv_result *r, parse_error *err) {
  int64_t lines = 1; /* a lone \r ends a line too */
  for (const char *q = buf, *end = buf + len; (q = memchr(q, '\n', (size_t)(end - q))); q++)
    lines++;
  for (const char *q = buf, *end = buf + len; (q = memchr(q, '\r', (size_t)(end - q))); q++)
    lines++;
  int64_t cap = (int64_t)(len / (size_t)w->ncols) + 1;
  if (cap > lines) cap = lines;
  r->x = malloc(sizeof *r->x * (size_t)(cap * s->ninputs + 1));
  if (s->label >= 0 && s->label_kind == CSV_LABEL_NUMBER) r->y = malloc(sizeof *r->y * (size_t)cap);
  if (s->label >= 0 && s->label_kind == CSV_LABEL_CATEGORY) r->ids = malloc(sizeof *r->ids * (size_t)cap);
  if (!r->x || (s->label >= 0 && !r->y && !r->ids)) return parse_fail_at(err, 1, 1, "out of memory");
  return 0;
}

int parse_csv(const char *buf, size_t len, const csv_spec *s, csv_result *r,
              parse_error *err) {
  Work w;
  memset(&w, 0, sizeof w);
  memset(r, 0, sizeof *r);
  P st = {skip_bom(buf, len), buf + len, NULL, 1, s->sep, s, err};
  st.ls = st.p;
  int rc = -1;
  if (setup(buf, len, s, &w, err) || allocate(buf, len, s, &w, r, err)) goto done;
  if (s->header) {
    const char *a, *b;
    skip_blank_lines(&st);
    int quoted;
    for (int c = 0; c < w.ncols; c++) {
      if (field_span(&st, &a, &b, &quoted)) goto done;
      if (st.p < st.end && *st.p == st.sep) st.p++;
    }
    if (st.p < st.end && *st.p == '\r') st.p++;
    if (st.p < st.end && *st.p == '\n') st.p++;
    st.line++, st.ls = st.p;
  }
  while (st.p < st.end) {
    if (*st.p == '\n' || *st.p == '\r') { /* blank line */
      if (*st.p == '\r' && st.p + 1 < st.end && st.p[1] == '\n') st.p++;
      st.p++, st.line++, st.ls = st.p;
      continue;
    }
    if (parse_row(&st, &w, r)) goto done;
  }
  if (r->rows == 0) {
    if (r->dropped)
      parse_fail_at(err, st.line, 1, "no rows left: all %lld had a missing value "
                    "(missing = \"drop\")", (long long)r->dropped);
    else
      parse_fail_at(err, st.line, 1, "no data rows%s", s->header ? " after the header" : "");
    goto done;
  }
  if (s->missing == CSV_MISSING_MEAN && w.nmissing && fill_means(&w, r, s, err)) goto done;
  if (s->label >= 0 && s->label_kind == CSV_LABEL_CATEGORY && !w.cls.fixed &&
      cls_sort(&w.cls, r->ids, r->rows)) {
    parse_fail(err, -1, "out of memory");
    goto done;
  }
  r->classes = w.cls.names;
  r->nclasses = w.cls.n;
  w.cls.names = NULL, w.cls.n = 0;
  rc = 0;
done:
  if (rc) csv_result_free(r);
  cls_free(&w.cls);
  free(w.role);
  free(w.missing);
  return rc;
}

void csv_result_free(csv_result *r) {
  free(r->x);
  free(r->y);
  free(r->ids);
  for (int i = 0; i < r->nclasses; i++) free(r->classes[i]);
  free(r->classes);
  memset(r, 0, sizeof *r);
}
