/*
** parse_idx.c: IDX files (MNIST family), from memory or from a raw or gzip
** file.  Format: two zero bytes, a type code, the number of dims, one
** big-endian uint32 size per dim, then the values row-major, big-endian.
** stdlib/clara/data/idx.lua is the readable version of the same reader.
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "parse.h"

/* IDX type code -> PD_* (-1: not an IDX type) */
static int idx_dtype(unsigned code) {
  switch (code) {
  case 0x08: return PD_UINT8;
  case 0x09: return PD_INT8;
  case 0x0B: return PD_INT16;
  case 0x0C: return PD_INT32;
  case 0x0D: return PD_FLOAT32;
  case 0x0E: return PD_FLOAT64;
  default: return -1;
  }
}

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* big-endian values to the machine's order, in place */
static void to_native(uint8_t *p, size_t count, int width) {
  const uint16_t one = 1;
  if (width == 1 || *(const uint8_t *)&one == 0) return; /* big-endian host */
  for (size_t i = 0; i < count; i++, p += width)
    for (int a = 0, b = width - 1; a < b; a++, b--) {
      uint8_t t = p[a];
      p[a] = p[b];
      p[b] = t;
    }
}

/* 1. the 4-byte magic; fills dtype and ndim */
static int check_magic(const uint8_t *m, size_t have, parse_array *out,
                       parse_error *err) {
  if (have >= 2 && m[0] == 0x1f && m[1] == 0x8b)
    return parse_fail(err, 0, "gzip data where IDX bytes were expected");
  if (have < 4)
    return parse_fail(err, (int64_t)have, "file too short for an IDX header "
                      "(%zu bytes, need at least 4)", have);
  if (m[0] != 0 || m[1] != 0)
    return parse_fail(err, 0, "bad magic 0x%02x%02x%02x%02x (an IDX file starts "
                      "with two zero bytes)", m[0], m[1], m[2], m[3]);
  out->dtype = idx_dtype(m[2]);
  if (out->dtype < 0)
    return parse_fail(err, 2, "unknown IDX type code 0x%02x", m[2]);
  out->ndim = m[3];
  if (out->ndim > PARSE_MAX_DIMS)
    return parse_fail(err, 3, "%d dimensions (at most %d)", out->ndim, PARSE_MAX_DIMS);
  return 0;
}

/* 2. the sizes; returns the number of data bytes they promise */
static int read_sizes(const uint8_t *p, parse_array *out, uint64_t *nbytes,
                      parse_error *err) {
  uint64_t count = 1;
  for (int i = 0; i < out->ndim; i++) {
    out->shape[i] = be32(p + 4 * i);
    if (out->shape[i] != 0 && count > (UINT64_MAX >> 4) / (uint64_t)out->shape[i])
      return parse_fail(err, 4 + 4 * i, "sizes overflow (dimension %d)", i + 1);
    count *= (uint64_t)out->shape[i];
  }
  *nbytes = count * (uint64_t)parse_dtype_size[out->dtype];
  return 0;
}

int parse_idx(const uint8_t *buf, size_t len, parse_array *out, parse_error *err) {
  uint64_t nbytes;
  memset(out, 0, sizeof *out);
  if (check_magic(buf, len, out, err)) return -1;
  size_t start = 4 + 4 * (size_t)out->ndim;
  if (len < start)
    return parse_fail(err, (int64_t)len, "truncated header: %d dimensions need "
                      "%zu bytes, file has %zu", out->ndim, start, len);
  if (read_sizes(buf + 4, out, &nbytes, err)) return -1;
  if (nbytes != len - start)
    return parse_fail(err, (int64_t)len, "%s: sizes promise %llu bytes of data "
                      "after offset %zu, file has %zu",
                      nbytes > len - start ? "truncated" : "trailing bytes",
                      (unsigned long long)nbytes, start, len - start);
  out->data = malloc(nbytes ? nbytes : 1);
  if (!out->data) return parse_fail(err, 0, "out of memory (%llu bytes)",
                                    (unsigned long long)nbytes);
  memcpy(out->data, buf + start, nbytes);
  out->nbytes = nbytes;
  to_native(out->data, nbytes / parse_dtype_size[out->dtype],
            parse_dtype_size[out->dtype]);
  return 0;
}

/* ---- from a file: gzread reads gzip and raw files alike ---- */

/* the size the file will have once inflated (gzip keeps it, mod 2^32, in its
   last 4 bytes); a hint for the first allocation only */
static uint64_t size_hint(int fd) {
  uint8_t m[4];
  struct stat st;
  if (fstat(fd, &st) != 0 || pread(fd, m, 2, 0) != 2) return 0;
  if (m[0] == 0x1f && m[1] == 0x8b) {
    if (st.st_size >= 4 && pread(fd, m, 4, st.st_size - 4) == 4)
      return (uint64_t)m[0] | (uint64_t)m[1] << 8 | (uint64_t)m[2] << 16 |
             (uint64_t)m[3] << 24;
    return 0;
  }
  return (uint64_t)st.st_size;
}

/* gzread as much as asked; -1 with err filled on a corrupt stream */
static int64_t read_full(gzFile f, uint8_t *p, uint64_t want, uint64_t at,
                         parse_error *err) {
  uint64_t got = 0;
  while (got < want) {
    unsigned chunk = want - got > (1u << 30) ? 1u << 30 : (unsigned)(want - got);
    int n = gzread(f, p + got, chunk);
    if (n < 0) {
      int code;
      const char *m = gzerror(f, &code);
      if (code == Z_ERRNO) return parse_fail(err, -1, "read error: %s", strerror(errno));
      const char *colon = strstr(m, ": "); /* zlib puts the path in front */
      /* zlib inflates ahead of what we asked: no reliable offset */
      return parse_fail(err, -1, "corrupt gzip stream (%s) after %llu bytes",
                        colon ? colon + 2 : m, (unsigned long long)(at + got));
    }
    if (n == 0) break;
    got += (uint64_t)n;
  }
  return (int64_t)got;
}

/* 3. the data, into a buffer grown as bytes really arrive (a lying header
   cannot make us allocate much more than the file holds) */
static int read_data(gzFile f, parse_array *out, uint64_t nbytes, size_t start,
                     uint64_t hint, parse_error *err) {
  uint64_t cap = hint > start ? hint - start + 1 : 1 << 20;
  uint64_t have = 0;
  if (cap > nbytes) cap = nbytes;
  uint8_t *data = malloc(cap ? cap : 1);
  for (;;) {
    if (!data) return parse_fail(err, start, "out of memory");
    int64_t n = read_full(f, data + have, cap - have, start + have, err);
    if (n < 0) return free(data), -1;
    have += (uint64_t)n;
    if (have < cap || cap == nbytes) break;
    cap = cap * 2 > nbytes ? nbytes : cap * 2;
    uint8_t *grown = realloc(data, cap);
    if (!grown) free(data);
    data = grown;
  }
  uint8_t extra;
  if (have < nbytes)
    return free(data), parse_fail(err, (int64_t)(start + have), "truncated: sizes "
                                  "promise %llu bytes of data after offset %zu, "
                                  "file has %llu", (unsigned long long)nbytes,
                                  start, (unsigned long long)have);
  int64_t more = read_full(f, &extra, 1, start + have, err);
  if (more != 0) {
    free(data);
    if (more < 0) return -1;
    return parse_fail(err, (int64_t)(start + have), "trailing bytes after the "
                      "%llu bytes of data the sizes promise",
                      (unsigned long long)nbytes);
  }
  out->data = data;
  out->nbytes = nbytes;
  to_native(data, nbytes / parse_dtype_size[out->dtype], parse_dtype_size[out->dtype]);
  return 0;
}

int parse_idx_file(const char *path, parse_array *out, parse_error *err) {
  uint8_t head[4 + 4 * PARSE_MAX_DIMS];
  uint64_t nbytes;
  memset(out, 0, sizeof *out);
  uint64_t size;
  int fd = parse_open(path, &size, err);
  if (fd < 0) return -1;
  uint64_t hint = size_hint(fd);
  gzFile f = gzdopen(fd, "rb");
  if (!f) return close(fd), parse_fail(err, -1, "cannot open: %s", strerror(errno ? errno : ENOMEM));
  gzbuffer(f, 1 << 18);
  int rc = -1;
  int64_t n = read_full(f, head, 4, 0, err);
  if (n < 0) goto done;
  if (n == 0) { parse_fail(err, 0, "empty file"); goto done; }
  if (check_magic(head, (size_t)n, out, err)) goto done;
  size_t start = 4 + 4 * (size_t)out->ndim;
  n = read_full(f, head + 4, start - 4, 4, err);
  if (n < 0) goto done;
  if ((size_t)n < start - 4) {
    parse_fail(err, 4 + n, "truncated header: %d dimensions need %zu bytes, "
               "file has %lld", out->ndim, start, (long long)(4 + n));
    goto done;
  }
  if (read_sizes(head + 4, out, &nbytes, err)) goto done;
  rc = read_data(f, out, nbytes, start, hint, err);
done:
  gzclose(f);
  return rc;
}
