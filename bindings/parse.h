/*
** parse.h: the data parsers (IDX, CSV, NPY, NPZ/zip), in plain C.
**
** No Lua, no torch: each parser takes bytes (or a path, for gzip IDX) and
** fills a result it allocated with malloc, or an error that says where the
** input went wrong (byte offset, or line and column for text).  So the
** libFuzzer targets in tests/fuzz drive exactly the code clara runs, and
** l_data.c only turns results into tensors and errors into Lua errors.
**
** Every function returns 0 on success, -1 on error (then *err is filled and
** nothing is left allocated).  Sizes claimed by a header are checked against
** the bytes present before anything is allocated for them.
*/
#ifndef PARSE_H
#define PARSE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PARSE_MAX_DIMS 32

/* element types of parsed arrays */
enum {
  PD_UINT8, PD_INT8, PD_INT16, PD_INT32, PD_INT64,
  PD_FLOAT16, PD_FLOAT32, PD_FLOAT64, PD_BOOL, PD_NTYPES
};
extern const int parse_dtype_size[PD_NTYPES];
extern const char *const parse_dtype_name[PD_NTYPES];

/* where and what went wrong; line/col are 0 for binary formats */
typedef struct {
  char msg[256];
  int64_t offset; /* byte offset into the input, -1 if none applies */
  int64_t line, col; /* 1-based, text formats only */
} parse_error;

/* an n-d array in C order, native byte order; data is malloc'd and owned */
typedef struct {
  int dtype;
  int ndim;
  int64_t shape[PARSE_MAX_DIMS];
  void *data;
  size_t nbytes;
} parse_array;

void parse_array_free(parse_array *a);

/* ---- IDX (MNIST family) ---- */
int parse_idx(const uint8_t *buf, size_t len, parse_array *out, parse_error *err);
/* reads a raw or gzip file (zlib's gzread tells them apart); offsets in
   errors are offsets into the decompressed stream */
int parse_idx_file(const char *path, parse_array *out, parse_error *err);

/* ---- NPY ---- */
int parse_npy(const uint8_t *buf, size_t len, parse_array *out, parse_error *err);

/* ---- ZIP (for .npz): stored and deflated entries ---- */
typedef struct {
  char *name;         /* malloc'd, NUL-terminated */
  uint64_t header;    /* offset of the local file header */
  uint64_t csize, usize;
  uint32_t crc;
  int method;         /* 0 stored, 8 deflate */
} zip_entry;

int zip_list(const uint8_t *buf, size_t len, zip_entry **entries, size_t *n,
             parse_error *err);
void zip_free_list(zip_entry *entries, size_t n);
/* every entry's bytes inside the archive, readable, and its own: no two
   entries overlap (nor name one member twice) */
int zip_check_layout(const uint8_t *buf, size_t len, const zip_entry *entries,
                     size_t n, parse_error *err);
/* the entry's bytes, malloc'd (CRC-checked) */
int zip_extract(const uint8_t *buf, size_t len, const zip_entry *e,
                uint8_t **data, size_t *size, parse_error *err);

/* ---- CSV / TSV ---- */
/* the fields of the first line (names when there is a header) */
typedef struct {
  char **names; /* malloc'd, unquoted */
  int n;
} csv_header;

int parse_csv_header(const char *buf, size_t len, char sep, csv_header *out,
                     parse_error *err);
void csv_header_free(csv_header *h);

enum { CSV_MISSING_ERROR, CSV_MISSING_DROP, CSV_MISSING_ZERO, CSV_MISSING_MEAN };
enum { CSV_LABEL_NONE, CSV_LABEL_NUMBER, CSV_LABEL_CATEGORY };

typedef struct {
  char sep;
  int header;            /* skip the first line */
  const int *inputs;     /* 0-based column numbers, in output order */
  int ninputs;
  int label;             /* 0-based column, or -1 */
  int label_kind;        /* CSV_LABEL_* */
  const char *const *classes; /* fixed class names (ids = positions), or NULL */
  int nclasses;
  int missing;           /* CSV_MISSING_* for input columns */
  const char *const *na; /* strings that mean "missing" (besides ""), or NULL */
  int nna;
  const char *const *colnames; /* for messages, may be NULL */
} csv_spec;

typedef struct {
  float *x;          /* rows x ninputs */
  float *y;          /* rows, CSV_LABEL_NUMBER */
  int64_t *ids;      /* rows, CSV_LABEL_CATEGORY */
  int64_t rows;
  char **classes;    /* learnt or given class names, sorted when learnt */
  int nclasses;
  int64_t dropped;   /* rows dropped by CSV_MISSING_DROP */
} csv_result;

int parse_csv(const char *buf, size_t len, const csv_spec *spec,
              csv_result *out, parse_error *err);
void csv_result_free(csv_result *r);

/* open path for reading, without ever blocking: a regular file only (a
   directory, named pipe, socket or device is refused, saying which);
   returns the descriptor and fills *size, or -1 with err filled */
int parse_open(const char *path, uint64_t *size, parse_error *err);
/* read exactly size bytes from fd into buf */
int parse_read_all(int fd, void *buf, uint64_t size, parse_error *err);

/* shared by the parsers: fill err (printf style), return -1 */
int parse_fail(parse_error *err, int64_t offset, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
int parse_fail_at(parse_error *err, int64_t line, int64_t col,
                  const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

#ifdef __cplusplus
}
#endif

#endif
