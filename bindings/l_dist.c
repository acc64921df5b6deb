/*
** l_dist.c: torch.distributed.core, the process group as a userdata and
** its collectives.  Arguments arrive checked by stdlib/torch/distributed.lua;
** a collective that fails returns nil and the bridge's message, which the
** Lua side raises in the name of the function the user called.
*/
#include <stdlib.h>

#include "clara_libs.h"
#include "l_tensor.h"

#define PG_TYPENAME "torch.distributed.ProcessGroup"
#define REDUCER_TYPENAME "torch.distributed.Reducer"
#define MAX_FLAGS 64

static th_pg *pg_slot(lua_State *L) {
  return (th_pg *)luaL_checkudata(L, 1, PG_TYPENAME);
}

static th_pg pg_check(lua_State *L) {
  th_pg *slot = pg_slot(L);
  if (*slot == NULL) luaL_error(L, "the process group was destroyed");
  return *slot;
}

static int pg_result(lua_State *L, int rc) {
  if (rc == 0) {
    lua_pushboolean(L, 1);
    return 1;
  }
  lua_pushnil(L);
  lua_pushstring(L, th_last_error());
  return 2;
}

static int pg_free(lua_State *L) {
  th_pg *slot = pg_slot(L);
  th_dist_free(*slot);
  *slot = NULL;
  return 0;
}

/* init("tcp" | "file", host_or_path, port, rank, world_size, timeout, check)
   -> group | nil, message */
static int d_init(lua_State *L) {
  static const char *const kinds[] = {"tcp", "file", NULL};
  int kind = luaL_checkoption(L, 1, NULL, kinds);
  const char *where = luaL_checkstring(L, 2);
  int port = (int)luaL_checkinteger(L, 3);
  int rank = (int)luaL_checkinteger(L, 4);
  int size = (int)luaL_checkinteger(L, 5);
  double timeout = luaL_checknumber(L, 6);
  int check = lua_toboolean(L, 7);
  th_pg *slot = (th_pg *)lua_newuserdatauv(L, sizeof(th_pg), 0);
  *slot = NULL;
  luaL_setmetatable(L, PG_TYPENAME);
  if (th_dist_init(slot, kind, where, port, rank, size, timeout, check) != 0) {
    lua_pushnil(L);
    lua_pushstring(L, th_last_error());
    return 2;
  }
  return 1;
}

static int d_checked(lua_State *L) {
  lua_pushboolean(L, th_dist_checked(pg_check(L)));
  return 1;
}

/* all_reduce(group, tensor, op) */
static int d_all_reduce(lua_State *L) {
  th_pg g = pg_check(L);
  return pg_result(L, th_dist_all_reduce(g, lt_check(L, 2), (int)luaL_checkinteger(L, 3)));
}

/* reduce(group, tensor, dst, op) */
static int d_reduce(lua_State *L) {
  th_pg g = pg_check(L);
  return pg_result(L, th_dist_reduce(g, lt_check(L, 2), (int)luaL_checkinteger(L, 3),
                                     (int)luaL_checkinteger(L, 4)));
}

/* broadcast(group, tensor, src) */
static int d_broadcast(lua_State *L) {
  th_pg g = pg_check(L);
  return pg_result(L, th_dist_broadcast(g, lt_check(L, 2), (int)luaL_checkinteger(L, 3)));
}

/* the tensors of the list at idx; the list keeps them alive */
static th_tensor *tensor_list(lua_State *L, int idx, int *n) {
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_Integer len = luaL_len(L, idx);
  if (len < 1 || len > 1 << 20) luaL_argerror(L, idx, "a non-empty list of tensors expected");
  th_tensor *ts = (th_tensor *)lua_newuserdatauv(L, (size_t)len * sizeof(th_tensor), 0);
  for (lua_Integer i = 1; i <= len; i++) {
    lua_rawgeti(L, idx, i);
    ts[i - 1] = lt_check(L, -1);
    lua_pop(L, 1);
  }
  *n = (int)len;
  return ts;
}

/* all_reduce_coalesced(group, {tensors}, op) */
static int d_all_reduce_coalesced(lua_State *L) {
  th_pg g = pg_check(L);
  int op = (int)luaL_checkinteger(L, 3), n;
  th_tensor *ts = tensor_list(L, 2, &n);
  return pg_result(L, th_dist_all_reduce_coalesced(g, ts, n, op));
}

/* all_gather(group, {outputs}, tensor): as many outputs as ranks */
static int d_all_gather(lua_State *L) {
  th_pg g = pg_check(L);
  th_tensor t = lt_check(L, 3);
  int n;
  th_tensor *outs = tensor_list(L, 2, &n);
  return pg_result(L, th_dist_all_gather(g, outs, n, t));
}

static int d_barrier(lua_State *L) { return pg_result(L, th_dist_barrier(pg_check(L))); }


/* {====================== the gradient reducer ======================
   A userdata holding the th_reducer; its user value 1 is the group's
   userdata (alive as long as the reducer; a destroyed group is refused). */

static th_reducer *reducer_slot(lua_State *L) {
  return (th_reducer *)luaL_checkudata(L, 1, REDUCER_TYPENAME);
}

static th_reducer reducer_check(lua_State *L) {
  th_reducer *slot = reducer_slot(L);
  if (*slot == NULL) luaL_error(L, "the reducer was freed");
  lua_getiuservalue(L, 1, 1);
  th_pg *g = (th_pg *)luaL_checkudata(L, -1, PG_TYPENAME);
  if (*g == NULL) luaL_error(L, "the process group was destroyed");
  lua_pop(L, 1);
  return *slot;
}

static int reducer_free(lua_State *L) {
  th_reducer *slot = reducer_slot(L);
  th_reducer_free(*slot);
  *slot = NULL;
  return 0;
}

/* the numbers of the list at idx (at most MAX_FLAGS) */
static int number_list(lua_State *L, int idx, double *v) {
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_Integer n = luaL_len(L, idx);
  if (n > MAX_FLAGS) luaL_argerror(L, idx, "too many flags");
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, idx, i);
    v[i - 1] = luaL_checknumber(L, -1);
    lua_pop(L, 1);
  }
  return (int)n;
}

static const char *const TRANSPORTS[] = {"auto", "gloo", "shm", NULL};

/* reducer(group, {params}, first_bucket_mb, bucket_mb, nflags, transport)
   -> reducer | nil, message */
static int d_reducer(lua_State *L) {
  th_pg g = pg_check(L);
  double first = luaL_checknumber(L, 3), cap = luaL_checknumber(L, 4);
  int nflags = (int)luaL_checkinteger(L, 5), n;
  int transport = luaL_checkoption(L, 6, "auto", TRANSPORTS);
  luaL_argcheck(L, nflags >= 0 && nflags <= MAX_FLAGS, 5, "0 to 64 flags");
  th_tensor *ts = tensor_list(L, 2, &n);
  th_reducer *slot = (th_reducer *)lua_newuserdatauv(L, sizeof(th_reducer), 1);
  *slot = NULL;
  luaL_setmetatable(L, REDUCER_TYPENAME);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1);
  if (th_reducer_new(slot, g, ts, n, first, cap, nflags, transport) != 0) {
    lua_pushnil(L);
    lua_pushstring(L, th_last_error());
    return 2;
  }
  return 1;
}

/* reducer:arm({flags}) -> true | nil, message */
static int r_arm(lua_State *L) {
  th_reducer r = reducer_check(L);
  double v[MAX_FLAGS];
  int n = number_list(L, 2, v);
  return pg_result(L, th_reducer_arm(r, v, n));
}

/* reducer:finish({flags}) -> {sums} | nil, message */
static int r_finish(lua_State *L) {
  th_reducer r = reducer_check(L);
  double v[MAX_FLAGS], out[MAX_FLAGS];
  int n = number_list(L, 2, v);
  if (th_reducer_finish(r, v, n, out) != 0) return pg_result(L, -1);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    lua_pushnumber(L, out[i]);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static int r_buckets(lua_State *L) {
  lua_pushinteger(L, th_reducer_buckets(reducer_check(L)));
  return 1;
}

static int r_transport(lua_State *L) {
  lua_pushstring(L, TRANSPORTS[th_reducer_transport(reducer_check(L))]);
  return 1;
}

static const luaL_Reg reducer_methods[] = {
    {"arm", r_arm},       {"finish", r_finish},         {"buckets", r_buckets},
    {"transport", r_transport}, {"free", reducer_free}, {NULL, NULL}};

/* }================================================================== */

static const luaL_Reg dist_functions[] = {
    {"init", d_init},
    {"destroy", pg_free},
    {"checked", d_checked},
    {"all_reduce", d_all_reduce},
    {"all_reduce_coalesced", d_all_reduce_coalesced},
    {"reduce", d_reduce},
    {"broadcast", d_broadcast},
    {"all_gather", d_all_gather},
    {"barrier", d_barrier},
    {"reducer", d_reducer},
    {NULL, NULL}};

int luaopen_torch_distributed_core(lua_State *L) {
  lua_getglobal(L, "require"); /* the tensor type must exist first */
  lua_pushliteral(L, "torch.core");
  lua_call(L, 1, 0);
  if (luaL_newmetatable(L, PG_TYPENAME)) {
    lua_pushcfunction(L, pg_free);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, REDUCER_TYPENAME)) {
    lua_pushcfunction(L, reducer_free);
    lua_setfield(L, -2, "__gc");
    luaL_newlib(L, reducer_methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  lua_newtable(L);
  lt_register(L, dist_functions);
  return 1;
}
