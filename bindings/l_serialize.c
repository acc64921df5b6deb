/*
** l_serialize.c: whole files in and out for torch.jit.core, and the pickle
** functions behind torch.save / torch.load.  A write goes to a temporary
** file in the same directory, is flushed to disk and renamed over the
** target, so a killed process leaves the old file or the new one, never
** half of one.
*/
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "l_jit.h"
#include "parse.h"

static int inject_failure; /* tests: fail after the temporary is written */

static int new_buffer(lua_State *L) {
  lua_newuserdatauv(L, (size_t)luaL_checkinteger(L, 1), 0);
  return 1;
}

/* a userdata of n bytes pushed, or 0 when there is no memory for it: a
   memory error raised here would skip the caller's close() */
static int push_buffer(lua_State *L, uint64_t n) {
  if (n >= (uint64_t)LUA_MAXINTEGER || n >= SIZE_MAX) return 0;
  lua_pushcfunction(L, new_buffer);
  lua_pushinteger(L, (lua_Integer)n);
  if (lua_pcall(L, 1, 1, 0) == LUA_OK) return 1;
  lua_pop(L, 1);
  return 0;
}

/* the file's bytes, in a userdata left on the stack to keep them alive;
   a directory, named pipe or device is refused before a byte is read */
const char *lj_readfile(lua_State *L, const char *path, size_t *len,
                        const char *fname) {
  parse_error e;
  uint64_t size;
  int fd = parse_open(path, &size, &e);
  if (fd < 0 && strncmp(e.msg, "cannot open: ", 13) == 0)
    luaL_error(L, "%s: cannot open '%s': %s", fname, path, e.msg + 13);
  if (fd < 0) luaL_error(L, "%s: cannot read '%s': %s", fname, path, e.msg);
  if (!push_buffer(L, size + 1)) {
    close(fd);
    luaL_error(L, "%s: cannot read '%s': not enough memory for its %I bytes", fname, path,
               (lua_Integer)size); /* st_size: at most LUA_MAXINTEGER */
  }
  char *buf = (char *)lua_touserdata(L, -1);
  int rc = parse_read_all(fd, buf, size, &e);
  close(fd);
  if (rc) luaL_error(L, "%s: cannot read '%s': %s", fname, path, e.msg);
  *len = (size_t)size;
  return buf;
}

/* clara.limits' reader limits, handed to the bridge before a load */
void lj_load_limits(lua_State *L) {
  lua_Integer v[3] = {0, 0, 0};
  const char *names[3] = {"pickle_depth", "script_depth", "script_terms"};
  lua_getglobal(L, "require");
  lua_pushliteral(L, "clara.limits");
  if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_istable(L, -1))
    for (int i = 0; i < 3; i++) {
      lua_getfield(L, -1, names[i]);
      v[i] = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
      lua_pop(L, 1);
    }
  lua_pop(L, 1);
  th_load_set_limits((int64_t)v[0], (int64_t)v[1], (int64_t)v[2]);
}

static int write_all(int fd, const char *data, size_t len) {
  while (len > 0) {
    ssize_t w = write(fd, data, len);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    data += w;
    len -= (size_t)w;
  }
  return 0;
}

/* the directory's entry for the renamed file reaches the disk too */
static void sync_dir(const char *path) {
  char *copy = strdup(path);
  if (copy == NULL) return;
  int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
  free(copy);
}

void lj_writefile(lua_State *L, const char *path, const char *data,
                  size_t len, const char *fname) {
  /* 1. a temporary file next to the target (rename is atomic only within
        one file system), with the permissions a plain create would give */
  /* the pid in the name: clara.fs removes only a dead writer's temporaries */
  const char *pattern = lua_pushfstring(L, "%s.tmp-%d-XXXXXX", path, (int)getpid());
  size_t plen = strlen(pattern);
  char *tmp = (char *)lua_newuserdatauv(L, plen + 1, 0);
  memcpy(tmp, pattern, plen + 1);
  int fd = mkstemp(tmp);
  if (fd < 0)
    luaL_error(L, "%s: cannot write '%s': %s", fname, path, strerror(errno));
  mode_t mask = umask(0);
  umask(mask);
  fchmod(fd, 0666 & ~mask);
  /* 2. the bytes, flushed to the disk */
  int bad = write_all(fd, data, len) != 0 || fsync(fd) != 0;
  int e = errno;
  if (close(fd) != 0 && !bad) bad = 1, e = errno;
  if (!bad && inject_failure) bad = 1, e = EIO;
  /* 3. the rename: readers see the old file or the new, nothing between */
  if (!bad && rename(tmp, path) != 0) bad = 1, e = errno;
  if (bad) {
    unlink(tmp);
    luaL_error(L, "%s: cannot write '%s': %s", fname, path, strerror(e));
  }
  sync_dir(path);
  lua_pop(L, 2);
}

/* pickle_save(path, value): torch.save */
static int s_pickle_save(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  luaL_checkany(L, 2);
  th_value v = lj_tovalue(L, 2, "torch.save");
  th_value *bytes = lj_newvalue(L);
  size_t len;
  if (th_pickle_save(bytes, v) != 0)
    return luaL_error(L, "torch.save: '%s': %s", path, lt_errormsg(L, NULL));
  const char *data = th_value_string(*bytes, &len);
  lj_writefile(L, path, data, len, "torch.save");
  return 0;
}

/* pickle_load(path [, map]) -> value, locations: torch.load.  map: a list
   {location, device, ...} (torch.serialize resolves map_location into it) */
#define MAX_LOCATIONS 64
static int s_pickle_load(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  const char *map[2 * MAX_LOCATIONS];
  int n = 0;
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    n = (int)luaL_len(L, 2) / 2;
    luaL_argcheck(L, n <= MAX_LOCATIONS, 2, "too many locations");
    for (int i = 0; i < 2 * n; i++) {
      lua_rawgeti(L, 2, i + 1); /* the strings stay referenced by the table */
      map[i] = luaL_checkstring(L, -1);
      lua_pop(L, 1);
    }
  }
  size_t len;
  const char *data = lj_readfile(L, path, &len, "torch.load");
  th_value *out = lj_newvalue(L);
  th_value *locations = lj_newvalue(L);
  lj_load_limits(L);
  if (th_pickle_load(out, locations, data, len, map, n) != 0)
    return luaL_error(L, "torch.load: '%s': %s", path, lt_errormsg(L, NULL));
  lj_pushvalue(L, *out, "torch.load");
  lj_pushvalue(L, *locations, "torch.load");
  return 2;
}

static int s_inject_failure(lua_State *L) {
  inject_failure = lua_toboolean(L, 1);
  return 0;
}

static const luaL_Reg serialize_functions[] = {
    {"pickle_save", s_pickle_save},
    {"pickle_load", s_pickle_load},
    {"_inject_write_failure", s_inject_failure},
    {NULL, NULL}};

void lj_open_serialize(lua_State *L) { lt_register(L, serialize_functions); }
