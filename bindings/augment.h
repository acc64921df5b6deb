/*
** augment.h: resizing and augmentation of whole image batches, in plain C.
**
** Every kernel works on a contiguous NCHW batch and takes per-sample
** parameters that were ALREADY DRAWN (on the main thread, from torch's
** generator, by stdlib/clara/transforms/batch.lua): the kernels themselves
** draw nothing, hold no globals, call no Lua and no libtorch, so any thread
** may run them on its own buffers (the loader workers do).  Kernels return 0,
** or -1 with nothing written when an argument is out of range (a bad mode, a
** NULL buffer, a size < 1); the callers check shapes before calling.
**
** Conventions
**   - in and out never overlap unless a kernel says "in place".
**   - sample i of a batch of dims d starts at i * d.c * d.h * d.w.
**   - boxes are (top, left, height, width) in input pixels, 0-based.
**   - angles are degrees counter-clockwise (torchvision's rotate).
**   - float kernels compute in float32 in the order torchvision's tensor
**     functions do, so that most results are bitwise equal to theirs
**     (spec/augment_batch_spec.lua states where they are not, and why).
**
** The plan (aug_plan_run) chains steps over one batch: a worker thread
** builds the aug_step list from the parameters the main thread drew for
** that batch and runs it; intermediate buffers are malloc'ed and freed here.
*/
#ifndef AUGMENT_H
#define AUGMENT_H

#include <stdint.h>

typedef struct { int64_t n, c, h, w; } aug_dims;

/* interpolation modes (resize; rotate takes NEAREST and BILINEAR) */
enum { AUG_NEAREST, AUG_BILINEAR, AUG_BICUBIC };
/* how a crop fills pixels outside the image (torchvision's padding_mode) */
enum { AUG_PAD_CONSTANT, AUG_PAD_EDGE, AUG_PAD_REFLECT };
/* flip flags, per sample */
enum { AUG_FLIP_H = 1, AUG_FLIP_V = 2 };

/* crop (with padding and flips): out (n, c, oh, ow) holds the window of
   sample i starting at (top[i], left[i]) of the image; those may be negative
   or run past the edge, and the pixels outside are filled per pad
   (CONSTANT: fill; EDGE: the nearest edge pixel; REFLECT: mirrored without
   repeating the edge, as torch.nn.functional.pad's "reflect", which needs
   the padding smaller than the image side).  flip[i] (NULL = none) mirrors
   the window afterwards.  torchvision's RandomCrop(padding = p) is
   top = i - p for its drawn i; center_crop is top = round((h - oh) / 2). */
int aug_crop_f32(const float *in, aug_dims d, float *out, int64_t oh,
                 int64_t ow, const int64_t *top, const int64_t *left,
                 const uint8_t *flip, int pad, float fill);
int aug_crop_u8(const uint8_t *in, aug_dims d, uint8_t *out, int64_t oh,
                int64_t ow, const int64_t *top, const int64_t *left,
                const uint8_t *flip, int pad, uint8_t fill);

/* flip in place: flip[i] as for aug_crop_f32 */
int aug_flip_f32(float *x, aug_dims d, const uint8_t *flip);

/* resize: box[4 * i ..] (NULL = the whole image) of sample i resized to
   (oh, ow), as ATen's upsample_{nearest,bilinear,bicubic}2d with
   align_corners = false and no scale factors (torchvision's F.resize and
   F.resized_crop on tensors); antialias = 1 uses ATen's
   _upsample_{bilinear,bicubic}2d_aa (torchvision's antialias = True), which
   differs from the plain kernels only when downscaling. */
int aug_resize_f32(const float *in, aug_dims d, float *out, int64_t oh,
                   int64_t ow, const int64_t *box, int mode, int antialias);

/* rotate by angle[i] degrees about the image centre, same size, as
   torchvision's F.rotate(img, angle, interpolation, fill = fill) on tensors
   (grid_sample with zeros padding, then the fill blended by the sampled
   mask); fill holds d.c values */
int aug_rotate_f32(const float *in, aug_dims d, float *out,
                   const float *angle, int mode, const float *fill);

/* colour jitter in place: factors[3 * i ..] = brightness, contrast,
   saturation factors of sample i (1 = unchanged), applied in the order
   order[3 * i ..] (a permutation of 0, 1, 2; NULL = 0, 1, 2) with
   torchvision's tensor formulas: blend with black / the grayscale mean /
   the grayscale image, clamped to [0, 1].  Contrast and saturation need
   d.c == 1 or 3 (for 1 channel saturation leaves the image alone). */
int aug_jitter_f32(float *x, aug_dims d, const float *factors,
                   const uint8_t *order);

/* normalize: out = (in - mean[c]) / std[c]; in place allowed (out == in) */
int aug_normalize_f32(const float *in, aug_dims d, float *out,
                      const float *mean, const float *std);

/* random erasing in place: box[4 * i ..] of sample i set to value[c]
   (d.c values); a box of height 0 leaves the sample alone */
int aug_erase_f32(float *x, aug_dims d, const int64_t *box,
                  const float *value);

/* {====================== plans ====================== */

enum { AUG_CROP, AUG_FLIP, AUG_RESIZE, AUG_ROTATE, AUG_JITTER,
       AUG_NORMALIZE, AUG_ERASE };

/* one step: kind, and the arguments of the kernel of that name; the arrays
   hold d.n entries (or 3 d.n, 4 d.n, d.c as above) and belong to the
   caller */
typedef struct {
  int kind;
  int64_t oh, ow;               /* CROP, RESIZE: the output size */
  const int64_t *top, *left;    /* CROP */
  const uint8_t *flip;          /* CROP, FLIP */
  int pad;                      /* CROP */
  float fill;                   /* CROP */
  const int64_t *box;           /* RESIZE, ERASE */
  int mode, antialias;          /* RESIZE, ROTATE */
  const float *angle;           /* ROTATE */
  const float *values;          /* ROTATE: fill; ERASE: value */
  const float *factors;         /* JITTER */
  const uint8_t *order;         /* JITTER */
  const float *mean, *std;      /* NORMALIZE */
} aug_step;

/* the output dims of a batch of dims d after steps[0 .. nsteps) */
aug_dims aug_plan_dims(const aug_step *steps, int nsteps, aug_dims d);

/* runs the steps on the batch in (dims d) and writes out, which holds
   aug_plan_dims(...) elements; returns 0, or -1 (a bad step, or no memory
   for the intermediate buffers), and then out may hold a partial result */
int aug_plan_run(const aug_step *steps, int nsteps, const float *in,
                 aug_dims d, float *out);

/* }====================================================== */

#endif
