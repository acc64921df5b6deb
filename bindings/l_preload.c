/*
** l_preload.c: the C modules the runtime preloads; one line each.
*/
#include "clara_libs.h"

const luaL_Reg clara_preloads[] = {
    {"torch.core", luaopen_torch_core},
    {NULL, NULL}};
