/*
** image.h: PNG and JPEG decoding (libspng, libturbojpeg) and PNG encoding,
** in plain C.
**
** No Lua, no torch, no globals: every call owns its decoder state, so the
** loader's worker threads may decode concurrently.  Results are malloc'd
** interleaved HWC buffers; clara_image_planar copies one into CHW planes
** (the layout of a (C, H, W) tensor).
**
** The reader rules of parse.h hold: a file is read whole and bounded by its
** size, a header's width and height are checked against max_pixels before
** anything is allocated for them, and every failure fills err with what was
** wrong (clara_image_decode_file puts the path first) and returns -1 with
** nothing left allocated.
**
** Pixels equal PIL's (Image.open(p).convert(mode), and with exif set the
** EXIF orientation of a JPEG's APP1 or a PNG's eXIf turned as
** ImageOps.exif_transpose turns it):
**   - CLARA_IMAGE_KEEP keeps the file's channels: gray 1, gray+alpha 2,
**     RGB 3, RGBA 4; a palette becomes RGB, or RGBA when it has tRNS; a
**     CMYK JPEG becomes RGB (PIL's CMYK -> RGB conversion);
**   - CLARA_IMAGE_L is PIL's ITU-R 601-2 luma, (19595 R + 38470 G + 7471 B
**     + 0x8000) >> 16 (alpha dropped);
**   - CLARA_IMAGE_RGB replicates gray and drops alpha (no compositing);
**   - CLARA_IMAGE_RGBA adds an opaque alpha where the file has none.
** 16-bit PNG samples become 8-bit as v >> 8 (libpng's strip_16, and PIL's
** for RGB/RGBA) unless depth is 16; JPEG is always 8-bit.
*/
#ifndef CLARA_IMAGE_H
#define CLARA_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* modes: the value is the channel count of the result, KEEP the file's */
enum {
  CLARA_IMAGE_KEEP = 0,
  CLARA_IMAGE_L = 1,
  CLARA_IMAGE_RGB = 3,
  CLARA_IMAGE_RGBA = 4
};

/* formats, from the file's first bytes (never from its name) */
enum { CLARA_IMAGE_UNKNOWN = 0, CLARA_IMAGE_PNG = 1, CLARA_IMAGE_JPEG = 2 };

typedef struct {
  int mode;          /* CLARA_IMAGE_* */
  int depth;         /* 8, or 16 to keep a 16-bit PNG's samples */
  int exif;          /* apply the EXIF orientation (nonzero) */
  uint64_t max_pixels; /* width * height over this is refused (0: no limit) */
} clara_image_opts;

typedef struct {
  int c, h, w;
  int depth;         /* 8 (uint8 samples) or 16 (uint16, host byte order) */
  int format;        /* CLARA_IMAGE_PNG or CLARA_IMAGE_JPEG */
  void *data;        /* malloc'd, h * w * c samples, HWC interleaved */
  size_t nbytes;
} clara_image;

/* opts may be NULL: KEEP, 8-bit, EXIF applied, no pixel limit */
void clara_image_opts_default(clara_image_opts *o);

int clara_image_format(const uint8_t *buf, size_t len);

int clara_image_decode(const uint8_t *buf, size_t len, const clara_image_opts *o,
                       clara_image *out, char *err, size_t errlen);
/* reads a regular file (a directory, pipe or device is refused); err starts
   with the path */
int clara_image_decode_file(const char *path, const clara_image_opts *o,
                            clara_image *out, char *err, size_t errlen);
void clara_image_free(clara_image *img);

/* copy img's samples into dst as C planes of h * w (dst holds img->nbytes) */
void clara_image_planar(const clara_image *img, void *dst);

/* PNG bytes (malloc'd) of an interleaved 8- or 16-bit image of 1 to 4
   channels (gray, gray+alpha, RGB, RGBA) */
int clara_image_encode_png(const clara_image *img, uint8_t **png, size_t *len,
                           char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
