/*
** loader_jobs.c: the batch jobs of loader_jobs.h.
*/
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "loader_jobs.h"

/* rows idx of one field into dst (row_bytes each) */
static int gather_field(const lj_job *j, const lj_field *f, char *dst,
                        char *err, size_t errlen) {
  for (int64_t r = 0; r < j->n; r++) {
    int64_t i = j->idx[r];
    if (i < 0 || i >= f->src_rows) {
      snprintf(err, errlen, "%s: index %" PRId64 " out of range for %" PRId64 " rows",
               j->label, i, f->src_rows);
      return 1;
    }
    memcpy(dst + (size_t)r * f->row_bytes, f->src + (size_t)i * f->row_bytes, f->row_bytes);
  }
  return 0;
}

/* img's planes as float32: x / 255 for a float batch, x for a uint8 one */
static float *planes_f32(const clara_image *img, int scale) {
  size_t count = (size_t)img->c * img->h * img->w;
  uint8_t *bytes = malloc(count + 1);
  float *f = malloc(count * sizeof *f + 1);
  if (bytes && f) {
    clara_image_planar(img, bytes);
    for (size_t k = 0; k < count; k++) f[k] = scale ? (float)bytes[k] / 255.0f : (float)bytes[k];
  }
  free(bytes);
  if (bytes == NULL) { free(f); return NULL; }
  return f;
}

/* the decoded image resized and cropped into dst */
static int fit_one(const lj_job *j, int64_t i, const clara_image *img, void *dst, char *err,
                   size_t errlen) {
  char why[300];
  float *in = planes_f32(img, j->dtype != LJ_UINT8);
  if (in == NULL) {
    snprintf(err, errlen, "%s: %s: out of memory", j->label, j->paths[i]);
    return 1;
  }
  int rc = clara_fit_run(&j->fit, in, img->c, img->h, img->w, dst, j->dtype == LJ_UINT8, why, sizeof why);
  if (rc) snprintf(err, errlen, "%s: %s: %s", j->label, j->paths[i], why);
  free(in);
  return rc;
}

/* the size img gets in the batch; 1 with err when its crop does not fit */
static int batch_size_of(const lj_job *j, int64_t i, const clara_image *img, int64_t *h, int64_t *w,
                         char *err, size_t errlen) {
  int64_t rh, rw;
  char why[300];
  *h = img->h, *w = img->w;
  if (!j->has_fit) return 0;
  if (clara_fit_size(&j->fit, img->h, img->w, &rh, &rw, h, w, why, sizeof why) == 0) return 0;
  snprintf(err, errlen, "%s: %s: %s", j->label, j->paths[i], why);
  return 1;
}

/* image i of the batch into dst (uint8 or float32 planes) */
static int decode_one(const lj_job *j, int64_t i, void *dst, char *err, size_t errlen) {
  clara_image_opts o;
  clara_image img;
  char why[400];
  int64_t h, w;
  clara_image_opts_default(&o);
  o.mode = j->mode;
  o.exif = j->exif;
  o.max_pixels = j->max_pixels;
  if (clara_image_decode_file(j->paths[i], &o, &img, why, sizeof why) != 0) {
    snprintf(err, errlen, "%s: %s", j->label, why);
    return 1;
  }
  if (batch_size_of(j, i, &img, &h, &w, err, errlen)) {
    clara_image_free(&img);
    return 1;
  }
  if (img.c != j->c || h != j->h || w != j->w) {
    snprintf(err, errlen, "%s: %s: a %" PRId64 "x%" PRId64 " image with %d channels%s, the batch's are %dx%d "
             "with %d (%s)", j->label, j->paths[i], h, w, img.c, j->has_fit ? " after resizing" : "",
             j->h, j->w, j->c, j->has_fit ? "give the ImageFolder a crop, or a size {H, W}"
                                          : "give the ImageFolder a size to resize to, or a mode");
    clara_image_free(&img);
    return 1;
  }
  size_t count = (size_t)j->c * j->h * j->w;
  int rc = 0;
  if (j->has_fit) {
    rc = fit_one(j, i, &img, dst, err, errlen);
  } else if (j->dtype == LJ_UINT8) {
    clara_image_planar(&img, dst);
  } else {
    /* planes in the first bytes of dst, then widened from the end down,
       so no sample is overwritten before it is read */
    uint8_t *bytes = dst;
    float *f = dst;
    clara_image_planar(&img, bytes);
    for (size_t k = count; k-- > 0;) f[k] = (float)bytes[k] / 255.0f;
  }
  clara_image_free(&img);
  return rc;
}

static size_t sample_bytes(const lj_job *j, int dtype) {
  return (size_t)j->c * j->h * j->w * (dtype == LJ_FLOAT32 ? sizeof(float) : 1);
}

/* the stage: gathered rows or decoded images, into dst0 for field 0 */
static int stage(const lj_job *j, char *dst0, char *err, size_t errlen) {
  if (j->kind == LJ_IMAGES) {
    size_t each = sample_bytes(j, j->nsteps > 0 ? LJ_FLOAT32 : j->dtype);
    for (int64_t i = 0; i < j->n; i++)
      if (decode_one(j, i, dst0 + (size_t)i * each, err, errlen)) return 1;
    return 0;
  }
  for (int k = 0; k < j->nfields; k++)
    if (gather_field(j, &j->fields[k], k == 0 ? dst0 : j->fields[k].out, err, errlen)) return 1;
  return 0;
}

int lj_run(lj_job *j, char *err, size_t errlen) {
  char *out0 = j->kind == LJ_IMAGES ? j->images_out : j->fields[0].out;
  if (j->nsteps == 0) return stage(j, out0, err, errlen);
  aug_dims d = j->plan_in;
  float *scratch = malloc((size_t)(d.n * d.c * d.h * d.w) * sizeof(float) + 1);
  if (scratch == NULL) {
    snprintf(err, errlen, "%s: out of memory", j->label);
    return 1;
  }
  int rc = stage(j, (char *)scratch, err, errlen);
  if (rc == 0 && aug_plan_run(j->steps, j->nsteps, scratch, d, (float *)out0) != 0) {
    snprintf(err, errlen, "%s: the augmentation plan failed (a bad step or no memory)", j->label);
    rc = 1;
  }
  free(scratch);
  return rc;
}
