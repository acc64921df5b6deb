/*
** l_image.h: what other bindings take from l_image.c.
*/
#ifndef L_IMAGE_H
#define L_IMAGE_H

#include <lua.h>

#include "image_fit.h"

/* the fit table at arg ({h =, w =, shorter =, crop_h =, crop_w =,
   mode = "nearest" | "bilinear" | "bicubic", antialias =, max_pixels =}, as
   stdlib/clara/data/image_folder.lua makes it) into f */
void limg_checkfit(lua_State *L, int arg, clara_fit *f);

#endif
