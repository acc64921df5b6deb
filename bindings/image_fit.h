/*
** image_fit.h: one decoded image resized and centre-cropped to what an
** ImageFolder was asked for (size =, crop =, resize =, antialias =), in
** plain C: the loader's worker threads (loader_jobs.c) and the main
** thread (l_image.c, ImageFolder:get) call the same function, so both
** give the same pixels.
**
** The sizes follow torchvision 0.14: Resize(N) makes the smaller edge N
** and the other int(N * long / short); Resize((H, W)) makes H x W; an
** image already of the target size is left alone; CenterCrop takes the
** window at (round((h - ch) / 2), round((w - cw) / 2)), halves to even as
** Python's round.  Unlike CenterCrop, a crop larger than the image is an
** error, not a padding.  The resize is aug_resize_f32 (augment.h) in
** float32; a uint8 result is rounded (halves to even, as torch.round) and
** clamped, as torchvision's F.resize on a uint8 tensor does.
*/
#ifndef IMAGE_FIT_H
#define IMAGE_FIT_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  int64_t h, w;            /* resize to exactly h x w (0: not this way) */
  int64_t shorter;         /* resize the smaller edge to this (0: not) */
  int64_t crop_h, crop_w;  /* centre crop (0: none) */
  int mode;                /* AUG_NEAREST, AUG_BILINEAR, AUG_BICUBIC */
  int antialias;           /* for bilinear and bicubic downscaling */
  int64_t max_pixels;      /* a larger resized image is refused (0: no limit) */
} clara_fit;

/* the size an h x w image gets: resized (rh, rw), then output (oh, ow);
   0, or 1 with err saying the crop does not fit, or the resized image is
   empty or larger than max_pixels */
int clara_fit_size(const clara_fit *f, int64_t h, int64_t w, int64_t *rh,
                   int64_t *rw, int64_t *oh, int64_t *ow, char *err,
                   size_t errlen);

/* in: c float32 planes of h x w; out: c planes of the clara_fit_size
   output, float32, or uint8 when u8 (in then holds 0..255 values);
   0, or 1 with err (a crop that does not fit, no memory) */
int clara_fit_run(const clara_fit *f, const float *in, int64_t c, int64_t h,
                  int64_t w, void *out, int u8, char *err, size_t errlen);

#endif
