/*
** parse_zip.c: the little of ZIP that .npz files need: the central
** directory (with ZIP64 sizes, which numpy writes), stored and deflated
** entries (zlib's raw inflate), CRC checks.  Sizes and offsets read from the
** archive are checked against the buffer before use.
*/
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "parse.h"

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t le64(const uint8_t *p) { return le32(p) | (uint64_t)le32(p + 4) << 32; }

/* 1. the end of central directory record: search back over a comment */
static int find_eocd(const uint8_t *buf, size_t len, uint64_t *count,
                     uint64_t *cd_off, uint64_t *cd_size, parse_error *err) {
  if (len == 0) return parse_fail(err, 0, "empty file");
  if (len < 22) return parse_fail(err, 0, "not a zip archive (%zu bytes)", len);
  size_t stop = len - 22 > 65535 ? len - 22 - 65535 : 0, at = len - 22 + 1;
  while (at-- > stop)
    if (le32(buf + at) == 0x06054b50) break;
  if (at == (size_t)-1 || at < stop || le32(buf + at) != 0x06054b50)
    return parse_fail(err, 0, "not a zip archive (no end of central directory)");
  *count = le16(buf + at + 10);
  *cd_size = le32(buf + at + 12);
  *cd_off = le32(buf + at + 16);
  /* ZIP64: the locator sits just before the record */
  if ((*count == 0xFFFF || *cd_off == 0xFFFFFFFF || *cd_size == 0xFFFFFFFF) &&
      at >= 20 && le32(buf + at - 20) == 0x07064b50) {
    uint64_t z = le64(buf + at - 20 + 8);
    if (z > len - 56 || len < 56 || le32(buf + z) != 0x06064b50)
      return parse_fail(err, (int64_t)(at - 20), "bad zip64 end of central directory");
    *count = le64(buf + z + 32);
    *cd_size = le64(buf + z + 40);
    *cd_off = le64(buf + z + 48);
  }
  if (*cd_off > len || *cd_size > len - *cd_off)
    return parse_fail(err, (int64_t)at, "central directory (offset %llu, %llu bytes) "
                      "lies outside the file", (unsigned long long)*cd_off,
                      (unsigned long long)*cd_size);
  return 0;
}

/* sizes of 0xFFFFFFFF are in the zip64 extra field (id 1), in this order */
static int zip64_extra(const uint8_t *x, size_t n, zip_entry *e, size_t at,
                       parse_error *err) {
  while (n >= 4) {
    uint16_t id = le16(x), sz = le16(x + 2);
    if (sz > n - 4) break;
    if (id == 1) {
      const uint8_t *p = x + 4, *end = x + 4 + sz;
      uint64_t *want[3] = {&e->usize, &e->csize, &e->header};
      for (int i = 0; i < 3; i++)
        if (*want[i] == 0xFFFFFFFF) {
          if (end - p < 8) return parse_fail(err, (int64_t)at, "short zip64 extra field");
          *want[i] = le64(p);
          p += 8;
        }
      return 0;
    }
    x += 4 + sz;
    n -= 4 + sz;
  }
  if (e->usize == 0xFFFFFFFF || e->csize == 0xFFFFFFFF || e->header == 0xFFFFFFFF)
    return parse_fail(err, (int64_t)at, "zip64 sizes without a zip64 extra field");
  return 0;
}

/* 2. one central directory entry at buf + at; returns its length */
static int64_t read_entry(const uint8_t *buf, size_t len, size_t at, zip_entry *e,
                          parse_error *err) {
  if (len - at < 46 || le32(buf + at) != 0x02014b50)
    return parse_fail(err, (int64_t)at, "bad central directory entry");
  const uint8_t *h = buf + at;
  size_t nlen = le16(h + 28), xlen = le16(h + 30), clen = le16(h + 32);
  if (46 + nlen + xlen + clen > len - at)
    return parse_fail(err, (int64_t)at, "central directory entry runs past the end");
  if (le16(h + 8) & 1)
    return parse_fail(err, (int64_t)at, "encrypted zip entries are not supported");
  e->method = le16(h + 10);
  e->crc = le32(h + 16);
  e->csize = le32(h + 20);
  e->usize = le32(h + 24);
  e->header = le32(h + 42);
  if (zip64_extra(h + 46 + nlen, xlen, e, at, err)) return -1;
  e->name = malloc(nlen + 1);
  if (!e->name) return parse_fail(err, (int64_t)at, "out of memory");
  memcpy(e->name, h + 46, nlen);
  e->name[nlen] = 0;
  if (memchr(e->name, 0, nlen)) {
    free(e->name);
    e->name = NULL;
    return parse_fail(err, (int64_t)at + 46, "zip entry name holds a NUL byte");
  }
  return (int64_t)(46 + nlen + xlen + clen);
}

int zip_list(const uint8_t *buf, size_t len, zip_entry **entries, size_t *n,
             parse_error *err) {
  uint64_t count = 0, off = 0, size = 0;
  *entries = NULL;
  *n = 0;
  if (find_eocd(buf, len, &count, &off, &size, err)) return -1;
  if (count > size / 46)
    return parse_fail(err, (int64_t)off, "%llu entries cannot fit a central "
                      "directory of %llu bytes", (unsigned long long)count,
                      (unsigned long long)size);
  zip_entry *es = calloc(count ? count : 1, sizeof *es);
  if (!es) return parse_fail(err, 0, "out of memory");
  size_t at = off;
  for (uint64_t i = 0; i < count; i++) {
    int64_t used = read_entry(buf, len, at, &es[i], err);
    if (used < 0) return zip_free_list(es, i), -1;
    at += (size_t)used;
  }
  *entries = es;
  *n = count;
  return 0;
}

void zip_free_list(zip_entry *entries, size_t n) {
  for (size_t i = 0; i < n; i++) free(entries[i].name);
  free(entries);
}

/* 3. inflate a raw deflate stream of known sizes */
static int inflate_raw(const uint8_t *src, uint64_t csize, uint8_t *dst,
                       uint64_t usize, size_t at, parse_error *err) {
  z_stream z;
  memset(&z, 0, sizeof z);
  if (inflateInit2(&z, -15) != Z_OK) return parse_fail(err, (int64_t)at, "zlib init failed");
  z.next_in = (Bytef *)src;
  z.next_out = dst;
  int rc = Z_OK;
  uint64_t in_left = csize, out_left = usize;
  while (rc == Z_OK) {
    /* zlib counts in uInt: feed at most 1 GB at a time */
    if (z.avail_in == 0 && in_left) {
      z.avail_in = in_left > (1u << 30) ? 1u << 30 : (uInt)in_left;
      in_left -= z.avail_in;
    }
    if (z.avail_out == 0 && out_left) {
      z.avail_out = out_left > (1u << 30) ? 1u << 30 : (uInt)out_left;
      out_left -= z.avail_out;
    }
    rc = inflate(&z, Z_NO_FLUSH);
    if (rc == Z_BUF_ERROR && (in_left || out_left)) rc = Z_OK;
  }
  uint64_t produced = usize - out_left - z.avail_out;
  const char *msg = z.msg;
  inflateEnd(&z);
  if (rc != Z_STREAM_END)
    return parse_fail(err, (int64_t)at, "corrupt deflate data (%s)",
                      msg ? msg : rc == Z_BUF_ERROR ? "data ends early or inflates "
                      "beyond the size the directory gives" : "zlib error");
  if (produced != usize)
    return parse_fail(err, (int64_t)at, "entry inflates to %llu bytes, directory "
                      "says %llu", (unsigned long long)produced, (unsigned long long)usize);
  return 0;
}

/* 4. where an entry's data lies, checked: the local header, the bytes
      inside the archive, a method we read, sizes that can be true */
static int entry_data(const uint8_t *buf, size_t len, const zip_entry *e,
                      uint64_t *start, parse_error *err) {
  if (e->header > len || len - e->header < 30 || le32(buf + e->header) != 0x04034b50)
    return parse_fail(err, (int64_t)e->header, "bad local header for '%s'", e->name);
  *start = e->header + 30 + le16(buf + e->header + 26) + le16(buf + e->header + 28);
  if (*start > len || e->csize > len - *start)
    return parse_fail(err, (int64_t)e->header, "'%s' runs past the end of the "
                      "archive", e->name);
  if (e->method != 0 && e->method != 8)
    return parse_fail(err, (int64_t)e->header, "'%s': compression method %d is "
                      "not supported (stored and deflate only)", e->name, e->method);
  /* deflate cannot expand more than ~1032:1; a larger claim is a lie */
  if ((e->method == 0 && e->usize != e->csize) ||
      (e->method == 8 && e->usize / 1032 > e->csize + 1))
    return parse_fail(err, (int64_t)e->header, "'%s': sizes do not fit (%llu "
                      "stored, %llu claimed)", e->name, (unsigned long long)e->csize,
                      (unsigned long long)e->usize);
  return 0;
}

static int by_header(const void *a, const void *b) {
  const zip_entry *x = *(const zip_entry *const *)a, *y = *(const zip_entry *const *)b;
  return x->header < y->header ? -1 : x->header > y->header;
}

/* Entries whose bytes overlap (or many entries naming one member) would let
   a small archive claim far more data than it holds: every entry must own
   its bytes.  Each entry is checked as zip_extract would check it. */
int zip_check_layout(const uint8_t *buf, size_t len, const zip_entry *es, size_t n,
                     parse_error *err) {
  const zip_entry **order = malloc((n ? n : 1) * sizeof *order);
  if (!order) return parse_fail(err, 0, "out of memory");
  for (size_t i = 0; i < n; i++) order[i] = &es[i];
  qsort(order, n, sizeof *order, by_header);
  uint64_t end = 0, start;
  const char *prev = NULL;
  for (size_t i = 0; i < n; i++) {
    const zip_entry *e = order[i];
    if (entry_data(buf, len, e, &start, err)) return free(order), -1;
    if (prev && e->header < end) {
      parse_fail(err, (int64_t)e->header, "zip entries '%s' and '%s' overlap (a "
                 "corrupt or hostile archive)", prev, e->name);
      return free(order), -1;
    }
    end = start + e->csize;
    prev = e->name;
  }
  free(order);
  return 0;
}

int zip_extract(const uint8_t *buf, size_t len, const zip_entry *e,
                uint8_t **data, size_t *size, parse_error *err) {
  uint64_t start;
  *data = NULL;
  *size = 0;
  if (entry_data(buf, len, e, &start, err)) return -1;
  uint8_t *out = malloc(e->usize ? e->usize : 1);
  if (!out) return parse_fail(err, (int64_t)e->header, "out of memory");
  if (e->method == 0) memcpy(out, buf + start, e->usize);
  else if (inflate_raw(buf + start, e->csize, out, e->usize, (size_t)start, err))
    return free(out), -1;
  uLong crc = crc32(0L, Z_NULL, 0);
  for (uint64_t done = 0; done < e->usize;) {
    uInt n = e->usize - done > (1u << 30) ? 1u << 30 : (uInt)(e->usize - done);
    crc = crc32(crc, out + done, n);
    done += n;
  }
  if ((uint32_t)crc != e->crc)
    return free(out), parse_fail(err, (int64_t)start, "'%s': CRC mismatch (corrupt "
                                 "archive)", e->name);
  *data = out;
  *size = e->usize;
  return 0;
}
