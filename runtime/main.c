/*
** main.c: the clara command, with the command line of lua 5.4's lua.c.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <signal.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#include "clara_libs.h"
#include "repl.h"
#include "run.h"
#include "state.h"

#ifndef CLARA_VERSION
#define CLARA_VERSION "0.0.0"
#endif

/* bits of what collectargs found */
#define has_error 1 /* bad option */
#define has_i 2     /* -i */
#define has_v 4     /* -v or --version */
#define has_e 8     /* -e */
#define has_E 16    /* -E */
#define has_l 32    /* -l */
#define has_help 64 /* --help */

/* the libtorch version the build saw: printing it must not load libtorch */
#ifndef CLARA_TORCH_VERSION
#define CLARA_TORCH_VERSION "unknown"
#endif

static void print_version(void) {
  printf("clara %s (%s, libtorch %s)\n", CLARA_VERSION, LUA_RELEASE, CLARA_TORCH_VERSION);
  fflush(stdout);
}

static void print_help(FILE *f, const char *progname) {
  fprintf(f,
    "usage: %s [options] [script [args]]\n"
    "       %s COMMAND [options]   (when no file has that name)\n"
    "Available options are:\n"
    "  -e stat   execute string 'stat'\n"
    "  -i        enter interactive mode after executing 'script'\n"
    "  -l mod    require library 'mod' into global 'mod'\n"
    "  -l g=mod  require library 'mod' into global 'g'\n"
    "  -v        show version information\n"
    "  -E        ignore environment variables\n"
    "  -W        turn warnings on\n"
    "  --        stop handling options\n"
    "  -         stop handling options and execute stdin\n"
    "  --help    show this help\n"
    "  --version same as -v\n"
    "With no script, clara reads a program from stdin, or starts the REPL\n"
    "when stdin is a terminal.  The globals torch, nn, optim and clara are\n"
    "preloaded.\n",
    progname, progname);
  fflush(f);
}

/* `clara --help`: the options, then the commands, one line each, from
   their declarations in the stdlib (clara.cli.commands) */
static void print_full_help(lua_State *L, const char *progname) {
  print_help(stdout, progname);
  claraS_openlibs(L);
  claraD_dostring(L, "io.write('Commands (`clara help COMMAND`: every option of one, with an example):\\n', "
                     "require('clara.cli.usage').overview())", "=(help)");
  fflush(stdout);
}

static void print_usage(const char *progname, const char *badoption) {
  if (badoption[1] == 'e' || badoption[1] == 'l')
    fprintf(stderr, "%s: '%s' needs argument\n", progname, badoption);
  else
    fprintf(stderr, "%s: unrecognized option '%s'\n", progname, badoption);
  print_help(stderr, progname);
  fprintf(stderr, "%s --help also lists the commands.\n", progname);
}

/*
** Sets *first to the index of the script name (argc when there is none) or
** of the bad option, and returns what options it found.
*/
static int collectargs(char **argv, int *first) {
  int args = 0;
  int i;
  for (i = 1; argv[i] != NULL; i++) {
    *first = i;
    if (argv[i][0] != '-') return args; /* the script */
    switch (argv[i][1]) {
      case '-':
        if (argv[i][2] == '\0') { /* "--" */
          *first = i + 1;
          return args;
        }
        if (strcmp(argv[i], "--help") == 0) args |= has_help;
        else if (strcmp(argv[i], "--version") == 0) args |= has_v;
        else return has_error;
        break;
      case '\0': /* "-": the script is stdin */
        return args;
      case 'E':
        if (argv[i][2] != '\0') return has_error;
        args |= has_E;
        break;
      case 'W':
        if (argv[i][2] != '\0') return has_error;
        break;
      case 'i':
        args |= has_i; /* -i implies -v */
        /* FALLTHROUGH */
      case 'v':
        if (argv[i][2] != '\0') return has_error;
        args |= has_v;
        break;
      case 'e':
        args |= has_e;
        /* FALLTHROUGH */
      case 'l':
        if (argv[i][1] == 'l') args |= has_l;
        if (argv[i][2] == '\0') { /* the argument is the next word */
          i++;
          if (argv[i] == NULL || argv[i][0] == '-') return has_error;
        }
        break;
      default:
        return has_error;
    }
  }
  *first = i;
  return args;
}

/* arg[0] is the script, arg[1..] its arguments, and the interpreter and
   its options go to negative indices; with no script, arg[0] is clara */
static void createargtable(lua_State *L, char **argv, int argc, int script) {
  int i;
  if (script == argc) script = 0;
  lua_createtable(L, argc - (script + 1), script + 1);
  for (i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - script);
  }
  lua_setglobal(L, "arg");
}

/* -l mod, -l g=mod: g = require "mod"; "-l a-b" loads a-b into global a */
static int dolibrary(lua_State *L, char *globname) {
  int status;
  char *suffix = NULL;
  char *modname = strchr(globname, '=');
  if (modname == NULL) {
    modname = globname;
    suffix = strchr(modname, '-'); /* as LUA_IGMARK of loadlib.c */
  }
  else *modname++ = '\0';
  lua_getglobal(L, "require");
  lua_pushstring(L, modname);
  status = claraD_docall(L, 1, 1);
  if (status == LUA_OK) {
    if (suffix != NULL) *suffix = '\0';
    lua_setglobal(L, globname);
  }
  return claraD_report(L, status);
}

/* -e, -l and -W in the order given; 0 if one of them failed */
static int runargs(lua_State *L, char **argv, int n) {
  int i;
  for (i = 1; i < n; i++) {
    int option = argv[i][1];
    if (option == 'e' || option == 'l') {
      char *extra = argv[i] + 2;
      int status;
      if (*extra == '\0') extra = argv[++i];
      status = option == 'e'
               ? claraD_dostring(L, extra, "=(command line)")
               : dolibrary(L, extra);
      if (status != LUA_OK) return 0;
    }
    else if (option == 'W')
      lua_warning(L, "@on", 0);
  }
  return 1;
}

/* the script's arguments become its '...' */
static int pushargs(lua_State *L) {
  int i, n;
  if (lua_getglobal(L, "arg") != LUA_TTABLE)
    luaL_error(L, "'arg' is not a table");
  n = (int)luaL_len(L, -1);
  luaL_checkstack(L, n + 3, "too many arguments to script");
  for (i = 1; i <= n; i++) lua_rawgeti(L, -i, i);
  lua_remove(L, -i);
  return n;
}

/* `clara run exp.lua`: a bare lowercase word that is not a file names a
   command (`clara lr-find`): pushes the path of the stdlib script that
   dispatches it, clara/cli/dispatch.lua, or returns NULL (a file of that
   name in the cwd runs as a script, as lua would run it) */
static const char *cli_command(lua_State *L, const char *word) {
  const char *c;
  const char *path = NULL;
  for (c = word; *c; c++) {
    int inner_dash = *c == '-' && c != word && c[1] != '\0' && c[-1] != '-';
    if ((*c < 'a' || *c > 'z') && !inner_dash) return NULL;
  }
  if (*word == '\0' || access(word, F_OK) == 0) return NULL;
  lua_getglobal(L, "package");
  if (lua_getfield(L, -1, "searchpath") == LUA_TFUNCTION) {
    lua_pushliteral(L, "clara.cli.dispatch");
    lua_getfield(L, -3, "path");
    if (lua_pcall(L, 2, 1, 0) == LUA_OK && lua_isstring(L, -1))
      path = lua_tostring(L, -1);
  }
  if (path == NULL) {
    lua_settop(L, lua_gettop(L) - 2);
    return NULL;
  }
  lua_remove(L, -2); /* package; the path stays on the stack, alive */
  return path;
}

static int handle_script(lua_State *L, char **argv) {
  int status;
  const char *fname = argv[0];
  const char *cmd;
  if (strcmp(fname, "-") == 0 && strcmp(argv[-1], "--") != 0)
    fname = NULL; /* stdin */
  else if ((cmd = cli_command(L, fname)) != NULL) {
    status = luaL_loadfile(L, cmd);
    lua_remove(L, -2); /* the path */
    if (status == LUA_OK) {
      int n;
      lua_pushstring(L, fname); /* the command's word, then its arguments */
      n = pushargs(L);
      status = claraD_docall(L, n + 1, LUA_MULTRET);
    }
    return claraD_report(L, status);
  }
  status = luaL_loadfile(L, fname);
  if (status == LUA_OK) {
    int n = pushargs(L);
    status = claraD_docall(L, n, LUA_MULTRET);
  }
  return claraD_report(L, status);
}

/* CLARA_INIT, else LUA_INIT_5_4, else LUA_INIT: code, or @file */
static int handle_init(lua_State *L) {
  static const char *const names[] = {
    "CLARA_INIT", "LUA_INIT" LUA_VERSUFFIX, "LUA_INIT", NULL
  };
  int i;
  for (i = 0; names[i] != NULL; i++) {
    const char *init = getenv(names[i]);
    if (init == NULL) continue;
    if (init[0] == '@') return claraD_dofile(L, init + 1);
    lua_pushfstring(L, "=%s", names[i]);
    return claraD_dostring(L, init, lua_tostring(L, -1));
  }
  return LUA_OK;
}

static int pmain(lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = (char **)lua_touserdata(L, 2);
  int script = argc;
  int args = collectargs(argv, &script);
  int optlim = script < argc ? script : argc;
  luaL_checkversion(L);
  if (args == has_error) {
    print_usage(claraD_progname(), argv[script]);
    return 0;
  }
  if (args & has_help) {
    print_full_help(L, claraD_progname());
    lua_pushboolean(L, 1);
    return 1;
  }
  if (args & has_v) print_version();
  /* a bare -v must work even when the stdlib does not load */
  if ((args & has_v) && !(args & (has_i | has_e | has_l)) && script == argc) {
    lua_pushboolean(L, 1);
    return 1;
  }
  if (args & has_E) {
    lua_pushboolean(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "LUA_NOENV");
  }
  claraS_openlibs(L);
  createargtable(L, argv, argc, script);
  /* lua.c switches to generational mode; clara stays incremental, whose
     steps are what the bindings use to account for tensor memory that
     Lua's heap does not see */
  lua_gc(L, LUA_GCRESTART);
  if (!(args & has_E) && handle_init(L) != LUA_OK) return 0;
  if (!runargs(L, argv, optlim)) return 0;
  if (script < argc && handle_script(L, argv + script) != LUA_OK) return 0;
  if (args & has_i) claraR_repl(L);
  else if (script == argc && !(args & (has_e | has_v))) {
    if (isatty(STDIN_FILENO)) {
      print_version();
      claraR_repl(L);
    }
    else if (claraD_dofile(L, NULL) != LUA_OK) return 0;
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int clara_main(int argc, char **argv) {
  int status, result;
  lua_State *L = luaL_newstate();
  if (argv[0] && argv[0][0]) claraD_setprogname(argv[0]);
  if (L == NULL) {
    claraD_message(claraD_progname(), "cannot create state: not enough memory");
    return EXIT_FAILURE;
  }
  lua_gc(L, LUA_GCSTOP); /* no collection while the state is set up */
  lua_pushcfunction(L, pmain);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  status = lua_pcall(L, 2, 1, 0);
  result = lua_toboolean(L, -1);
  claraD_report(L, status);
  lua_close(L);
  return (result && status == LUA_OK) ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* The Lua state runs on a thread with a 512 MB stack (reserved, committed
** only as used): libtorch's TorchScript compiler and graph passes recurse
** per statement and per nesting level, and the bridge runs them inline
** only on a stack this big (see bindings/bridge/jit_guard.cpp). */
#define CLARA_STACK ((size_t)512 << 20)

struct clara_args { int argc; char **argv; int status; };

static void *clara_thread(void *p) {
  struct clara_args *a = p;
  a->status = clara_main(a->argc, a->argv);
  return NULL;
}

/* The commands whose contract is checkpoint-and-exit-75 on a signal
   (clara run, clara battery; a file of that name runs as a script) */
static int requeues_on_signal(int argc, char **argv) {
  return argc > 1 &&
         (strcmp(argv[1], "run") == 0 || strcmp(argv[1], "battery") == 0 ||
          strcmp(argv[1], "launch") == 0) &&
         access(argv[1], F_OK) != 0;
}

int main(int argc, char **argv) {
  struct clara_args a = { argc, argv, EXIT_FAILURE };
  if (requeues_on_signal(argc, argv)) claraS_install_early();
  pthread_attr_t attr;
  pthread_t t;
  if (pthread_attr_init(&attr) == 0) {
    int rc = pthread_attr_setstacksize(&attr, CLARA_STACK);
    if (rc == 0) rc = pthread_create(&t, &attr, clara_thread, &a);
    pthread_attr_destroy(&attr);
    if (rc == 0) {
      /* signals go to the Lua thread, whose handlers and reads expect them */
      sigset_t all;
      sigfillset(&all);
      pthread_sigmask(SIG_BLOCK, &all, NULL);
      if (pthread_join(t, NULL) == 0) return a.status;
    }
  }
  return clara_main(argc, argv); /* no thread: the process's own stack */
}
