/*
** l_error.c: the one place where a bridge failure becomes the text of a
** Lua error.  libtorch's message is handed to torch.messages.translate
** (stdlib/torch/messages.lua: 1-based dims, no backtrace, no internal
** assertion, at most clara.limits.message_bytes); without the stdlib (the
** C tests) it is only cut to length.
*/
#include <string.h>

#include "l_tensor.h"

#define LT_TRANSLATE "torch.messages.translate" /* registry: the function */
#define LT_RAWCAP 4096 /* bytes kept when nothing translates */

/* push torch.messages.translate, loading it once; false when unavailable */
static int push_translator(lua_State *L) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, LT_TRANSLATE) == LUA_TFUNCTION) return 1;
  lua_pop(L, 1);
  if (lua_getglobal(L, "require") != LUA_TFUNCTION) {
    lua_pop(L, 1);
    return 0;
  }
  lua_pushliteral(L, "torch.messages");
  if (lua_pcall(L, 1, 1, 0) != LUA_OK || !lua_istable(L, -1)) {
    lua_pop(L, 1);
    return 0;
  }
  lua_getfield(L, -1, "translate");
  lua_remove(L, -2);
  if (!lua_isfunction(L, -1)) {
    lua_pop(L, 1);
    return 0;
  }
  lua_pushvalue(L, -1);
  lua_setfield(L, LUA_REGISTRYINDEX, LT_TRANSLATE);
  return 1;
}

/* Push the user's form of the bridge's last message, "fname: ..." (no
   prefix when fname is NULL), and return it.  Safe in any C frame of a
   binding; the bridge has returned, so a Lua error may follow. */
const char *lt_errormsg(lua_State *L, const char *fname) {
  const char *raw = th_last_error();
  luaL_checkstack(L, 6, "error message");
  if (push_translator(L)) {
    lua_pushstring(L, raw);
    if (fname) lua_pushstring(L, fname);
    else lua_pushnil(L);
    if (lua_pcall(L, 2, 1, 0) == LUA_OK && lua_type(L, -1) == LUA_TSTRING)
      return lua_tostring(L, -1);
    lua_pop(L, 1);
  }
  size_t len = strlen(raw);
  lua_pushfstring(L, "%s%s", fname ? fname : "", fname ? ": " : "");
  lua_pushlstring(L, raw, len > LT_RAWCAP ? LT_RAWCAP : len);
  lua_concat(L, 2);
  return lua_tostring(L, -1);
}

/* the bridge has returned, its C++ frames are gone: now it is safe to jump
   (with the caller's position, as luaL_error gives it) */
int lt_fail(lua_State *L, const char *fname) {
  lt_errormsg(L, fname);
  luaL_where(L, 1);
  lua_insert(L, -2);
  lua_concat(L, 2);
  return lua_error(L);
}
