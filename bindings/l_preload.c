/*
** l_preload.c: the C modules that need no libtorch, by the name `require`
** knows them; one line each.  They are linked into the clara program; the
** others are listed in l_torch_preload.c.
*/
#include "clara_libs.h"

const luaL_Reg clara_preloads[] = {
    {"clara.signal.core", luaopen_clara_signal_core},
    {"clara.sys.core", luaopen_clara_sys_core},
    {"clara.process.core", luaopen_clara_process_core},
    {NULL, NULL}};
