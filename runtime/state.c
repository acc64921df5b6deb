/*
** state.c: the lua_State of clara: standard libraries, module paths, the
** C modules, and the globals torch, nn, optim and clara.  libtorch is
** loaded on first use: its modules come from libclara_torch.so through a
** package searcher, and the four globals are required when first read.
*/
#include <dlfcn.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#include "clara_libs.h"
#include "state.h"

/* globals the runtime preloads, and the modules they come from */
static const struct {
  const char *global;
  const char *module;
} preloaded[] = {
  {"torch", "torch"},
  {"nn", "torch.nn"},
  {"optim", "torch.optim"},
  {"clara", "clara"},
  {NULL, NULL}
};

const char *claraS_exedir(void) {
  static char dir[PATH_MAX];
  static int done = 0;
  if (!done) {
    ssize_t n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
    char *slash;
    done = 1;
    dir[n > 0 ? n : 0] = '\0';
    slash = strrchr(dir, '/');
    if (slash == NULL) dir[0] = '\0';
    else if (slash == dir) dir[1] = '\0'; /* the binary is in / */
    else *slash = '\0';
  }
  return dir[0] ? dir : NULL;
}

/*
** A path is kept as a list of templates (at index 'list') and the set of
** those already in it (at index 'seen'), so that the same directory given
** twice (the binary installed under the prefix, LUA_PATH repeating the
** defaults) is searched once.
*/
static void addtemplates(lua_State *L, int list, int seen, const char *path) {
  while (*path) {
    const char *end = strchr(path, ';');
    size_t len = end ? (size_t)(end - path) : strlen(path);
    if (len > 0) {
      lua_pushlstring(L, path, len);
      lua_pushvalue(L, -1);
      if (lua_rawget(L, seen) == LUA_TNIL) {
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_pushboolean(L, 1);
        lua_rawset(L, seen);
        lua_rawseti(L, list, (lua_Integer)lua_rawlen(L, list) + 1);
      }
      else lua_pop(L, 2);
    }
    path += len;
    if (*path == ';') path++;
  }
}

static void addstdlib(lua_State *L, int list, int seen, const char *dir,
                      int forc) {
  if (forc) lua_pushfstring(L, "%s/?.so", dir);
  else lua_pushfstring(L, "%s/?.lua;%s/?/init.lua", dir, dir);
  addtemplates(L, list, seen, lua_tostring(L, -1));
  lua_pop(L, 1);
}

static void joinpath(lua_State *L, int list) {
  luaL_Buffer b;
  lua_Integer i, n = (lua_Integer)lua_rawlen(L, list);
  luaL_buffinit(L, &b);
  for (i = 1; i <= n; i++) {
    if (i > 1) luaL_addchar(&b, ';');
    lua_rawgeti(L, list, i);
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
}

/*
** Where clara's files are, found from the program's own path so that a
** moved tree (a DESTDIR staging copied elsewhere) works: the build tree
** (the program at the root, next to stdlib/ and build/), else an installed
** tree (PREFIX/bin/clara, PREFIX/share/clara/stdlib, PREFIX/lib/clara), else
** the prefix it was built for.  Only the first found is used: two versions
** of the stdlib must not mix.
*/
enum { BUILDTREE, INSTALLED, BUILTIN, NWHERE };

/* the directory of 'what' (STDLIB or LIBDIR) in tree 'where', or NULL */
enum { STDLIB, LIBDIR };
static const char *claradir(int where, int what, char *buf, size_t n) {
  static const char *sub[NWHERE][2] = {
    {"/stdlib", "/build"},
    {"/share/clara/stdlib", "/lib/clara"},
    {CLARA_PREFIX "/share/clara/stdlib", CLARA_PREFIX "/lib/clara"}
  };
  const char *exe = claraS_exedir();
  int len;
  if (where == BUILTIN) len = snprintf(buf, n, "%s", sub[where][what]);
  else if (exe == NULL) return NULL;
  else {
    /* the prefix of PREFIX/bin is the program's directory's parent */
    size_t dirlen = strcmp(exe, "/") == 0 ? 0 : strlen(exe);
    if (where == INSTALLED) {
      const char *slash = strrchr(exe, '/');
      dirlen = slash ? (size_t)(slash - exe) : 0;
    }
    len = snprintf(buf, n, "%.*s%s", (int)dirlen, exe, sub[where][what]);
  }
  return len > 0 && (size_t)len < n ? buf : NULL;
}

static int isdir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* the tree this program uses: the first whose stdlib is there */
static int claratree(void) {
  char buf[PATH_MAX + 64];
  for (int where = BUILDTREE; where < BUILTIN; where++) {
    const char *dir = claradir(where, STDLIB, buf, sizeof buf);
    if (dir && isdir(dir)) return where;
  }
  return BUILTIN;
}

/* package[field] = clara's directory of its tree (see claratree); what
   Lua set from the environment or its defaults; Debian's defaults */
static void setpath(lua_State *L, const char *field, int what,
                    const char *deflt) {
  int pkg, list, seen;
  char buf[PATH_MAX + 64];
  const char *dir = claradir(claratree(), what, buf, sizeof buf);
  if (lua_getglobal(L, LUA_LOADLIBNAME) != LUA_TTABLE)
    luaL_error(L, "the 'package' library is not loaded");
  pkg = lua_gettop(L);
  lua_newtable(L);
  list = lua_gettop(L);
  lua_newtable(L);
  seen = lua_gettop(L);
  if (dir) addstdlib(L, list, seen, dir, what == LIBDIR);
  if (lua_getfield(L, pkg, field) == LUA_TSTRING)
    addtemplates(L, list, seen, lua_tostring(L, -1));
  lua_pop(L, 1);
  addtemplates(L, list, seen, deflt);
  joinpath(L, list);
  lua_setfield(L, pkg, field);
  lua_pop(L, 3);
}

void claraS_setpaths(lua_State *L) {
  setpath(L, "path", STDLIB, LUA_PATH_DEFAULT);
  setpath(L, "cpath", LIBDIR, LUA_CPATH_DEFAULT);
}

/* linked in (the C tests) or NULL: then libclara_torch.so has it */
extern const luaL_Reg clara_torch_preloads[] __attribute__((weak));

static void preload(lua_State *L, const luaL_Reg *m) {
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  for (; m->name != NULL; m++) {
    lua_pushcfunction(L, m->func);
    lua_setfield(L, -2, m->name);
  }
  lua_pop(L, 1);
}

/* the list of libclara_torch.so, from the tree the stdlib came from */
static const luaL_Reg *torchlib(lua_State *L) {
  static const luaL_Reg *list = NULL;
  char dir[PATH_MAX + 64], path[PATH_MAX + 96];
  void *h;
  if (list) return list;
  if (!claradir(claratree(), LIBDIR, dir, sizeof dir))
    luaL_error(L, "cannot load libtorch's modules: the path of clara's files is too long");
  snprintf(path, sizeof path, "%s/libclara_torch.so", dir);
  if (access(path, R_OK) != 0)
    luaL_error(L, "cannot load libtorch's modules: %s is missing (build it with make, "
               "or reinstall clara with make install)", path);
  h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
  if (!h) {
    const char *why = dlerror();
    luaL_error(L, "cannot load libtorch's modules: %s", why ? why : path);
  }
  list = (const luaL_Reg *)dlsym(h, "clara_torch_preloads");
  if (!list) luaL_error(L, "libclara_torch.so has no module list (clara_torch_preloads)");
  return list;
}

/* package.searchers entry: torch.*.core and clara.*.core from the library */
static int searchtorch(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  size_t len = strlen(name);
  if (!(strncmp(name, "torch.", 6) == 0 || strncmp(name, "clara.", 6) == 0) || len < 5 ||
      strcmp(name + len - 5, ".core") != 0) {
    lua_pushfstring(L, "no C module '%s' in libclara_torch.so", name);
    return 1;
  }
  for (const luaL_Reg *m = torchlib(L); m->name != NULL; m++) {
    if (strcmp(m->name, name) == 0) {
      lua_pushcfunction(L, m->func);
      lua_pushstring(L, "libclara_torch.so");
      return 2;
    }
  }
  lua_pushfstring(L, "no C module '%s' in libclara_torch.so", name);
  return 1;
}

void claraS_preloadcore(lua_State *L) {
  preload(L, clara_preloads);
  if (clara_torch_preloads) {
    preload(L, clara_torch_preloads);
    return;
  }
  /* the searcher goes right after package.preload's */
  lua_getglobal(L, LUA_LOADLIBNAME);
  lua_getfield(L, -1, "searchers");
  lua_getglobal(L, "table");
  lua_getfield(L, -1, "insert");
  lua_pushvalue(L, -3);
  lua_pushinteger(L, 2);
  lua_pushcfunction(L, searchtorch);
  lua_call(L, 3, 0);
  lua_pop(L, 3);
}

/* a broken stdlib file is someone's bug to find: show where it broke */
static int tracebackhandler(lua_State *L) {
  const char *msg = luaL_tolstring(L, 1, NULL);
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* _G's __index: a preloaded global is required the first time it is read */
static int lazyglobal(lua_State *L) {
  const char *key = lua_tostring(L, 2);
  int i;
  if (key == NULL) return 0;
  for (i = 0; preloaded[i].global != NULL; i++) {
    if (strcmp(key, preloaded[i].global) != 0) continue;
    lua_pushcfunction(L, tracebackhandler);
    lua_getglobal(L, "require");
    lua_pushstring(L, preloaded[i].module);
    if (lua_pcall(L, 1, 1, -3) != LUA_OK)
      return luaL_error(L, "cannot load the standard library "
                        "(module '%s' for global '%s'):\n%s",
                        preloaded[i].module, preloaded[i].global, lua_tostring(L, -1));
    lua_pushvalue(L, -1);
    lua_setglobal(L, preloaded[i].global); /* rawset: _G has no __newindex */
    return 1;
  }
  return 0;
}

void claraS_loadglobals(lua_State *L) {
  lua_pushglobaltable(L);
  lua_newtable(L);
  lua_pushcfunction(L, lazyglobal);
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, -2);
  lua_pop(L, 1);
}

/* the globals now (the REPL: completion lists what is there) */
int claraS_requireglobals(lua_State *L) {
  int i;
  for (i = 0; preloaded[i].global != NULL; i++) {
    lua_getglobal(L, preloaded[i].global);
    lua_pop(L, 1);
  }
  return 0;
}

int claraS_openlibs(lua_State *L) {
  luaL_openlibs(L);
  claraS_setpaths(L);
  claraS_preloadcore(L);
  claraS_loadglobals(L);
  return 0;
}
