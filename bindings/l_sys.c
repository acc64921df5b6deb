/*
** l_sys.c: clara.sys.core.  Two facts about the process that plain Lua
** cannot learn: whether a file descriptor is a terminal (the progress
** display draws a bar there and writes plain lines to logs otherwise), and
** a monotonic clock in seconds (os.clock is CPU time, os.time whole
** seconds: neither gives a step rate).
*/
#include <time.h>
#include <unistd.h>

#include "clara_libs.h"

/* isatty(fd) -> boolean */
static int sys_isatty(lua_State *L) {
  lua_Integer fd = luaL_checkinteger(L, 1);
  if (fd < 0) return luaL_argerror(L, 1, "file descriptor must be non-negative");
  lua_pushboolean(L, isatty((int)fd) == 1);
  return 1;
}

/* clock() -> seconds since an arbitrary point, monotonic */
static int sys_clock(lua_State *L) {
  struct timespec ts;
  if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
    return luaL_error(L, "clock: clock_gettime failed");
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
  return 1;
}

static const luaL_Reg sys_funcs[] = {
    {"isatty", sys_isatty}, {"clock", sys_clock}, {NULL, NULL}};

int luaopen_clara_sys_core(lua_State *L) {
  luaL_newlib(L, sys_funcs);
  return 1;
}
