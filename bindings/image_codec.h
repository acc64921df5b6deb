/*
** image_codec.h: what the PNG and JPEG decoders share with image.c.
**
** A decoder fills a clara_image with the file's own channels (gray 1,
** gray+alpha 2, RGB 3, RGBA 4) at the file's depth; image.c then converts
** mode and depth.  Width * height is checked against o->max_pixels before
** the pixel buffer is allocated.
*/
#ifndef CLARA_IMAGE_CODEC_H
#define CLARA_IMAGE_CODEC_H

#include "image.h"

int image_png_decode(const uint8_t *buf, size_t len, const clara_image_opts *o,
                     clara_image *out, char *err, size_t errlen);
int image_jpeg_decode(const uint8_t *buf, size_t len, const clara_image_opts *o,
                      clara_image *out, char *err, size_t errlen);

/* EXIF (parse_jpeg.c): IFD0's Orientation (1..8) in a TIFF structure of n
   bytes, 1 when absent or invalid; and img turned as PIL's exif_transpose
   turns that orientation */
int image_exif_orientation(const uint8_t *tiff, size_t n);
int image_orient(clara_image *img, int orientation, char *err, size_t errlen);

/* fill err (printf style), return -1 */
int image_fail(char *err, size_t errlen, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* the header's size against the limit, before any allocation */
int image_check_size(uint64_t w, uint64_t h, const clara_image_opts *o,
                     char *err, size_t errlen);
/* a buffer of h * w * c samples of depth bits, or -1 */
int image_alloc(clara_image *img, int c, int h, int w, int depth,
                char *err, size_t errlen);

#endif
