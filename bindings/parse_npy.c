/*
** parse_npy.c: NumPy .npy arrays (format versions 1, 2 and 3).
** "\x93NUMPY", major, minor, header length (2 bytes in v1, 4 after), then a
** Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
** and the raw values.  Big-endian and Fortran-order arrays are turned into
** native C order; unsigned types torch lacks are widened.
*/
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

typedef struct {
  const char *p, *end, *start; /* header text; start for offsets */
  size_t base;                 /* offset of the header text in the file */
} Lex;

static int64_t lex_off(const Lex *x) { return (int64_t)(x->base + (x->p - x->start)); }

static void skip_space(Lex *x) {
  while (x->p < x->end && isspace((unsigned char)*x->p)) x->p++;
}

static int expect(Lex *x, char c, parse_error *err) {
  skip_space(x);
  if (x->p >= x->end || *x->p != c)
    return parse_fail(err, lex_off(x), "npy header: expected '%c'", c);
  x->p++;
  return 0;
}

/* a quoted Python string (no escapes in what numpy writes) into buf */
static int lex_string(Lex *x, char *buf, size_t size, parse_error *err) {
  skip_space(x);
  if (x->p >= x->end || (*x->p != '\'' && *x->p != '"'))
    return parse_fail(err, lex_off(x), "npy header: expected a string");
  char q = *x->p++;
  size_t n = 0;
  while (x->p < x->end && *x->p != q) {
    if (n + 1 >= size) return parse_fail(err, lex_off(x), "npy header: string too long");
    buf[n++] = *x->p++;
  }
  if (x->p >= x->end) return parse_fail(err, lex_off(x), "npy header: unterminated string");
  x->p++;
  buf[n] = 0;
  return 0;
}

/* (d0, d1, ...) with an optional trailing comma; () is a 0-d array */
static int lex_shape(Lex *x, parse_array *a, parse_error *err) {
  if (expect(x, '(', err)) return -1;
  a->ndim = 0;
  for (;;) {
    skip_space(x);
    if (x->p < x->end && *x->p == ')') { x->p++; return 0; }
    if (x->p >= x->end || !isdigit((unsigned char)*x->p))
      return parse_fail(err, lex_off(x), "npy header: bad shape");
    if (a->ndim >= PARSE_MAX_DIMS)
      return parse_fail(err, lex_off(x), "npy header: more than %d dimensions",
                        PARSE_MAX_DIMS);
    int64_t v = 0;
    while (x->p < x->end && isdigit((unsigned char)*x->p)) {
      if (v > (INT64_MAX - 9) / 10)
        return parse_fail(err, lex_off(x), "npy header: size too large");
      v = v * 10 + (*x->p++ - '0');
    }
    a->shape[a->ndim++] = v;
    skip_space(x);
    if (x->p < x->end && *x->p == ',') x->p++;
    else if (x->p >= x->end || *x->p != ')')
      return parse_fail(err, lex_off(x), "npy header: bad shape (expected ',' or ')')");
  }
}

typedef struct {
  int dtype;   /* PD_* of the result */
  int width;   /* bytes per stored value */
  int swap;    /* stored big-endian */
  char kind;   /* 'b' 'i' 'u' 'f' */
} Descr;

static int parse_descr(const char *d, Descr *o, int64_t off, parse_error *err) {
  const uint16_t one = 1;
  int little_host = *(const uint8_t *)&one == 1;
  char order = d[0];
  if (order != '<' && order != '>' && order != '|' && order != '=')
    return parse_fail(err, off, "npy: unsupported dtype '%s'", d);
  o->kind = d[1];
  o->width = atoi(d + 2);
  o->swap = o->width > 1 && ((order == '>' && little_host) || (order == '<' && !little_host));
  static const struct { char kind; int width, dtype; } map[] = {
      {'b', 1, PD_BOOL},    {'i', 1, PD_INT8},    {'i', 2, PD_INT16},
      {'i', 4, PD_INT32},   {'i', 8, PD_INT64},   {'u', 1, PD_UINT8},
      {'u', 2, PD_INT32},   {'u', 4, PD_INT64},   {'u', 8, PD_INT64},
      {'f', 2, PD_FLOAT16}, {'f', 4, PD_FLOAT32}, {'f', 8, PD_FLOAT64}};
  char digits[8];
  snprintf(digits, sizeof digits, "%d", o->width);
  if (d[1] && strcmp(d + 2, digits) == 0)
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
      if (map[i].kind == o->kind && map[i].width == o->width) {
        o->dtype = map[i].dtype;
        return 0;
      }
  return parse_fail(err, off, "npy: unsupported dtype '%s' (bool, int, uint and "
                    "float arrays only)", d);
}

/* 1. the dict: descr, fortran_order, shape, in any order */
static int parse_dict(Lex *x, Descr *dt, int *fortran, parse_array *a,
                      parse_error *err) {
  char key[32], val[32];
  int seen = 0;
  if (expect(x, '{', err)) return -1;
  for (;;) {
    skip_space(x);
    if (x->p < x->end && *x->p == '}') break;
    int64_t at = lex_off(x);
    if (lex_string(x, key, sizeof key, err) || expect(x, ':', err)) return -1;
    skip_space(x);
    if (strcmp(key, "descr") == 0) {
      at = lex_off(x);
      if (x->p < x->end && *x->p == '[')
        return parse_fail(err, at, "npy: structured dtypes are not supported");
      if (lex_string(x, val, sizeof val, err) || parse_descr(val, dt, at, err)) return -1;
      seen |= 1;
    } else if (strcmp(key, "fortran_order") == 0) {
      size_t left = (size_t)(x->end - x->p);
      if (left >= 4 && memcmp(x->p, "True", 4) == 0) *fortran = 1, x->p += 4;
      else if (left >= 5 && memcmp(x->p, "False", 5) == 0) *fortran = 0, x->p += 5;
      else return parse_fail(err, lex_off(x), "npy header: fortran_order must be True or False");
      seen |= 2;
    } else if (strcmp(key, "shape") == 0) {
      if (lex_shape(x, a, err)) return -1;
      seen |= 4;
    } else {
      return parse_fail(err, at, "npy header: unknown key '%s'", key);
    }
    skip_space(x);
    if (x->p < x->end && *x->p == ',') x->p++;
  }
  if (seen != 7)
    return parse_fail(err, lex_off(x), "npy header: missing '%s'",
                      !(seen & 1) ? "descr" : !(seen & 2) ? "fortran_order" : "shape");
  return 0;
}

/* 2. one stored value -> one native value of the result type */
static int convert(uint8_t *dst, const uint8_t *src, const Descr *dt) {
  uint8_t v[8];
  for (int i = 0; i < dt->width; i++) v[i] = src[dt->swap ? dt->width - 1 - i : i];
  if (dt->kind == 'b') { dst[0] = v[0] != 0; return 0; }
  if (dt->kind == 'u' && dt->width == 2) {
    uint16_t u; memcpy(&u, v, 2);
    int32_t w = u; memcpy(dst, &w, 4); return 0;
  }
  if (dt->kind == 'u' && dt->width == 4) {
    uint32_t u; memcpy(&u, v, 4);
    int64_t w = u; memcpy(dst, &w, 8); return 0;
  }
  if (dt->kind == 'u' && dt->width == 8) {
    uint64_t u; memcpy(&u, v, 8);
    if (u > (uint64_t)INT64_MAX) return -1;
  }
  memcpy(dst, v, dt->width);
  return 0;
}

/* 3. the values, converted, in C order */
static int read_values(const uint8_t *src, uint64_t count, const Descr *dt,
                       int fortran, parse_array *a, size_t start, parse_error *err) {
  int ow = parse_dtype_size[dt->dtype];
  uint8_t *out = a->data;
  int64_t idx[PARSE_MAX_DIMS] = {0}, stride[PARSE_MAX_DIMS];
  if (count == 0) return 0; /* (and the strides below could overflow) */
  /* Fortran order: element (i0, i1, ...) is at i0 + d0 * (i1 + d1 * (...)) */
  int64_t s = 1;
  for (int k = 0; k < a->ndim; k++) stride[k] = s, s *= a->shape[k];
  for (uint64_t i = 0; i < count; i++) {
    uint64_t from = i;
    if (fortran && a->ndim > 1) {
      from = 0;
      for (int k = 0; k < a->ndim; k++) from += (uint64_t)(idx[k] * stride[k]);
      for (int k = a->ndim - 1; k >= 0 && ++idx[k] == a->shape[k]; k--) idx[k] = 0;
    }
    if (convert(out + i * ow, src + from * dt->width, dt))
      return parse_fail(err, (int64_t)(start + from * dt->width), "npy: uint64 "
                        "value too large for int64");
  }
  return 0;
}

int parse_npy(const uint8_t *buf, size_t len, parse_array *out, parse_error *err) {
  Descr dt = {0, 0, 0, 0};
  int fortran = 0;
  memset(out, 0, sizeof *out);
  if (len == 0) return parse_fail(err, 0, "empty file");
  if (len < 10 || memcmp(buf, "\x93NUMPY", 6) != 0)
    return parse_fail(err, 0, "bad magic (an .npy file starts with \\x93NUMPY)");
  int major = buf[6];
  size_t hlen, hstart;
  if (major == 1) hlen = buf[8] | (size_t)buf[9] << 8, hstart = 10;
  else if (major == 2 || major == 3) {
    if (len < 12) return parse_fail(err, (int64_t)len, "truncated header");
    hlen = buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
    hstart = 12;
  } else {
    return parse_fail(err, 6, "unsupported npy format version %d.%d", major, buf[7]);
  }
  if (hlen > len - hstart)
    return parse_fail(err, (int64_t)len, "truncated header: %zu bytes promised "
                      "after offset %zu, file has %zu", hlen, hstart, len - hstart);
  Lex x = {(const char *)buf + hstart, (const char *)buf + hstart + hlen,
           (const char *)buf + hstart, hstart};
  if (parse_dict(&x, &dt, &fortran, out, err)) return -1;
  /* the values: their count must fit what the file holds */
  size_t start = hstart + hlen, have = len - start;
  uint64_t count = 1;
  for (int k = 0; k < out->ndim; k++) if (out->shape[k] == 0) count = 0;
  for (int k = 0; k < out->ndim && count; k++) {
    if (count > have / (uint64_t)out->shape[k])
      return parse_fail(err, (int64_t)len, "truncated: shape promises more data "
                        "than the %zu bytes after offset %zu", have, start);
    count *= (uint64_t)out->shape[k];
  }
  if (count > have / dt.width || count * dt.width != have)
    return parse_fail(err, (int64_t)len, "%s: shape promises %llu bytes of data "
                      "after offset %zu, file has %zu",
                      count > have / dt.width ? "truncated" : "trailing bytes",
                      (unsigned long long)(count * dt.width), start, have);
  out->dtype = dt.dtype;
  out->nbytes = count * parse_dtype_size[dt.dtype];
  out->data = malloc(out->nbytes ? out->nbytes : 1);
  if (!out->data) return parse_fail(err, 0, "out of memory");
  if (!fortran && !dt.swap && dt.width == parse_dtype_size[dt.dtype] && dt.kind != 'b' &&
      !(dt.kind == 'u' && dt.width == 8))
    memcpy(out->data, buf + start, out->nbytes);
  else if (read_values(buf + start, count, &dt, fortran, out, start, err))
    return parse_array_free(out), -1;
  return 0;
}
