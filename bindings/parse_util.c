/*
** parse_util.c: what the data parsers share (dtype tables, errors, freeing).
*/
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "parse.h"

const int parse_dtype_size[PD_NTYPES] = {1, 1, 2, 4, 8, 2, 4, 8, 1};
const char *const parse_dtype_name[PD_NTYPES] = {
    "uint8", "int8", "int16", "int32", "int64",
    "float16", "float32", "float64", "bool"};

void parse_array_free(parse_array *a) {
  free(a->data);
  a->data = NULL;
  a->nbytes = 0;
}

static void vfill(parse_error *err, const char *fmt, va_list ap) {
  vsnprintf(err->msg, sizeof err->msg, fmt, ap);
}

int parse_fail(parse_error *err, int64_t offset, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfill(err, fmt, ap);
  va_end(ap);
  err->offset = offset;
  err->line = err->col = 0;
  return -1;
}

int parse_fail_at(parse_error *err, int64_t line, int64_t col,
                  const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfill(err, fmt, ap);
  va_end(ap);
  err->offset = -1;
  err->line = line;
  err->col = col;
  return -1;
}

static int not_regular(const struct stat *st, parse_error *err) {
  return parse_fail(err, -1, "%s", S_ISDIR(st->st_mode) ? "is a directory, not a regular file"
                    : S_ISFIFO(st->st_mode) ? "is a named pipe, not a regular file"
                    : S_ISSOCK(st->st_mode) ? "is a socket, not a regular file"
                    : S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)
                        ? "is a device, not a regular file"
                        : "not a regular file");
}

/* Opening a named pipe for reading waits for a writer, and a device may
   never end: open without blocking, then refuse anything but a regular
   file before reading a byte. */
int parse_open(const char *path, uint64_t *size, parse_error *err) {
  struct stat st;
  /* stat first: opening a socket fails, and says nothing useful */
  if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) return not_regular(&st, err);
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return parse_fail(err, -1, "cannot open: %s", strerror(errno));
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) { /* replaced meanwhile */
    int e = errno;
    close(fd);
    if (!S_ISREG(st.st_mode)) return not_regular(&st, err);
    return parse_fail(err, -1, "cannot open: %s", strerror(e));
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  *size = (uint64_t)st.st_size;
  return fd;
}

int parse_read_all(int fd, void *buf, uint64_t size, parse_error *err) {
  uint8_t *p = buf;
  for (uint64_t done = 0; done < size;) {
    ssize_t n = read(fd, p + done, size - done > (1u << 30) ? 1u << 30 : size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return parse_fail(err, (int64_t)done, "read error: %s", strerror(errno));
    if (n == 0) return parse_fail(err, (int64_t)done, "file shrank while being read");
    done += (uint64_t)n;
  }
  return 0;
}
