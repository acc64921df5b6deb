/*
** complete.c: tab completion of globals, keywords and fields for the REPL.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <editline/readline.h>

#include <lua.h>
#include <lauxlib.h>

#include "complete.h"

/* how many metatable __index tables to follow; __index chains can loop */
#define MAXDEPTH 8

static const char *const keywords[] = {
  "and", "break", "do", "else", "elseif", "end", "false", "for",
  "function", "goto", "if", "in", "local", "nil", "not", "or", "repeat",
  "return", "then", "true", "until", "while", NULL
};

typedef struct Query {
  int set;          /* stack index of the set of candidates found */
  const char *head; /* what precedes the name being completed */
  const char *part; /* the start of the name being completed */
  size_t partlen;
  int methods;      /* after ':', only functions */
} Query;

static int isname(const char *s, size_t len) {
  size_t i;
  if (len == 0 || (s[0] >= '0' && s[0] <= '9')) return 0;
  for (i = 0; i < len; i++) {
    char c = s[i];
    if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9')))
      return 0;
  }
  return 1;
}

static void addcandidate(lua_State *L, const Query *q, const char *name) {
  lua_pushfstring(L, "%s%s", q->head, name);
  lua_pushboolean(L, 1);
  lua_rawset(L, q->set);
}

/* the keys of the table at 't' that fit the query */
static void addtable(lua_State *L, const Query *q, int t) {
  lua_pushnil(L);
  while (lua_next(L, t)) {
    if (lua_type(L, -2) == LUA_TSTRING) {
      size_t len;
      const char *key = lua_tolstring(L, -2, &len);
      if (isname(key, len) && len >= q->partlen &&
          memcmp(key, q->part, q->partlen) == 0 &&
          (!q->methods || lua_type(L, -1) == LUA_TFUNCTION))
        addcandidate(L, q, key);
    }
    lua_pop(L, 1);
  }
}

/* metamethods are looked up raw: completion should not run user code */
static int rawfield(lua_State *L, int t, const char *name) {
  lua_pushstring(L, name);
  return lua_rawget(L, t);
}

/* the fields of the value at 'obj': its own keys if it is a table, those
   its metatable declares in __fields, and those of its __index tables */
static void addfields(lua_State *L, const Query *q, int obj, int depth) {
  int mt;
  obj = lua_absindex(L, obj);
  luaL_checkstack(L, 8, "completion");
  if (lua_type(L, obj) == LUA_TTABLE) addtable(L, q, obj);
  if (depth >= MAXDEPTH || !lua_getmetatable(L, obj)) return;
  mt = lua_gettop(L);
  if (rawfield(L, mt, "__fields") == LUA_TTABLE) addtable(L, q, mt + 1);
  lua_pop(L, 1);
  if (rawfield(L, mt, "__index") == LUA_TTABLE && !lua_rawequal(L, -1, obj))
    addfields(L, q, -1, depth + 1);
  lua_pop(L, 2);
}

/* the value named by text[0..len), a chain of names joined by '.' */
static int pushchain(lua_State *L, const char *text, size_t len) {
  const char *p = text, *end = text + len;
  lua_pushglobaltable(L);
  while (p < end) {
    const char *dot = memchr(p, '.', (size_t)(end - p));
    const char *stop = dot ? dot : end;
    int t = lua_type(L, -1);
    if (!isname(p, (size_t)(stop - p)) || t == LUA_TNIL || t == LUA_TNONE)
      return 0;
    lua_pushlstring(L, p, (size_t)(stop - p));
    lua_gettable(L, -2); /* may run __index: the user asked for this value */
    lua_remove(L, -2);
    p = stop + 1;
  }
  return 1;
}

/* returns the set of completions of the light userdata text at 1 */
static int collect(lua_State *L) {
  const char *text = (const char *)lua_touserdata(L, 1);
  const char *sep = NULL, *p;
  Query q;
  for (p = text; *p; p++)
    if (*p == '.' || *p == ':') sep = p;
  lua_newtable(L);
  q.set = lua_gettop(L);
  if (sep == NULL) {
    int i;
    q.head = "";
    q.part = text;
    q.partlen = strlen(text);
    q.methods = 0;
    lua_pushglobaltable(L);
    addfields(L, &q, -1, 0);
    lua_pop(L, 1);
    for (i = 0; keywords[i] != NULL; i++)
      if (strncmp(keywords[i], text, q.partlen) == 0)
        addcandidate(L, &q, keywords[i]);
    return 1;
  }
  q.head = lua_pushlstring(L, text, (size_t)(sep - text) + 1);
  q.part = sep + 1;
  q.partlen = strlen(q.part);
  q.methods = (*sep == ':');
  if (pushchain(L, text, (size_t)(sep - text))) addfields(L, &q, -1, 0);
  lua_settop(L, q.set);
  return 1;
}

static int compare(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void freelist(char **list) {
  size_t i;
  if (list == NULL) return;
  for (i = 0; list[i] != NULL; i++) free(list[i]);
  free(list);
}

char **claraC_candidates(lua_State *L, const char *text) {
  int top = lua_gettop(L);
  char **list = NULL;
  size_t n = 0;
  if (!lua_checkstack(L, 4)) return NULL;
  lua_pushcfunction(L, collect);
  lua_pushlightuserdata(L, (void *)text);
  if (lua_pcall(L, 1, 1, 0) == LUA_OK) {
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      n++;
      lua_pop(L, 1);
    }
    if (n > 0 && (list = calloc(n + 1, sizeof(char *))) != NULL) {
      size_t i = 0;
      lua_pushnil(L);
      while (lua_next(L, -2)) {
        if (i < n) list[i++] = strdup(lua_tostring(L, -2));
        lua_pop(L, 1);
      }
      qsort(list, i, sizeof(char *), compare);
    }
  }
  lua_settop(L, top);
  return list;
}

/* libedit asks for candidates one by one; they are computed at the first */
static lua_State *completeL = NULL;
static char **current = NULL;
static size_t position = 0;

static char *generator(const char *text, int state) {
  if (state == 0) {
    freelist(current);
    current = claraC_candidates(completeL, text);
    position = 0;
  }
  if (current == NULL || current[position] == NULL) {
    freelist(current);
    current = NULL;
    return NULL;
  }
  return strdup(current[position++]);
}

static char **attempt(const char *text, int start, int end) {
  (void)start;
  (void)end;
  rl_attempted_completion_over = 1; /* never fall back to file names */
  return rl_completion_matches(text, generator);
}

void claraC_install(lua_State *L) {
  /* '.' and ':' are not breaks, so "torch.nn.fu" is one word to complete */
  static char breaks[] = " \t\n\"\\'`@$><=;|&{}()[],+-*/%^~#";
  completeL = L;
  rl_attempted_completion_function = attempt;
  rl_basic_word_break_characters = breaks;
  rl_completer_word_break_characters = breaks;
  rl_completion_append_character = '\0';
}
