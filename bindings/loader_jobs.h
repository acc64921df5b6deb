/*
** loader_jobs.h: what a DataLoader's worker thread does for one batch, in
** plain C (no Lua, no libtorch): it runs on raw buffers the main thread
** prepared (l_workers.c), under the pool of workers.h.
**
**   gather: rows idx[0..n) of each field's source copied to consecutive
**           rows of its output (index_select on contiguous memory);
**   images: n image files decoded (image.h), each resized and cropped as
**           fit says (image_fit.h) when has_fit, into one (n, C, H, W)
**           uint8 or float32 (x / 255) batch; every image must end up that
**           size.
** Either then runs an augmentation plan (augment.h) on field 0, when one
** is given: the stage writes float32 into a scratch buffer, and the plan
** writes the output.
*/
#ifndef LOADER_JOBS_H
#define LOADER_JOBS_H

#include <stddef.h>
#include <stdint.h>

#include "augment.h"
#include "image_fit.h"

#define LJ_MAX_FIELDS 16

enum { LJ_GATHER, LJ_IMAGES };
enum { LJ_UINT8, LJ_FLOAT32 };

typedef struct {
  const char *src;
  char *out;
  size_t row_bytes;
  int64_t src_rows;
} lj_field;

typedef struct {
  int kind;
  char label[64];   /* "batch 3 of epoch 1": every error starts with it */
  int64_t n;        /* samples */
  /* LJ_GATHER */
  const int64_t *idx;
  int nfields;
  lj_field fields[LJ_MAX_FIELDS];
  /* LJ_IMAGES */
  char **paths;     /* n paths */
  int mode;         /* CLARA_IMAGE_* */
  int exif;         /* apply a JPEG's EXIF orientation */
  int c, h, w;      /* the size every image must have */
  int dtype;        /* LJ_UINT8 or LJ_FLOAT32 */
  uint64_t max_pixels;
  void *images_out; /* n * c * h * w samples */
  int has_fit;      /* resize / crop each image after decoding */
  clara_fit fit;
  /* the augmentation plan on field 0 (images: the batch), nsteps 0 for none */
  const aug_step *steps;
  int nsteps;
  aug_dims plan_in;  /* the dims the stage writes (float32) */
} lj_job;

/* runs job (a worker thread): 0, or 1 with err holding the message */
int lj_run(lj_job *job, char *err, size_t errlen);

#endif
