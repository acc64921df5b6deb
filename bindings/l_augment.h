/*
** l_augment.h: a plan of batch augmentation steps drawn in Lua, as C holds
** it (T.batch.plan makes one; see stdlib/clara/transforms/batch.lua).
** The plan owns every parameter array, so once made it needs no Lua: a
** loader worker may run it with aug_plan_run on another thread while the
** Lua value stays referenced (the worker's owner keeps it alive).
*/
#ifndef L_AUGMENT_H
#define L_AUGMENT_H

#include <lauxlib.h>
#include <lua.h>

#include "augment.h"

#define LA_PLAN "clara.transforms.plan"

typedef struct {
  aug_step *steps;
  int nsteps;
  aug_dims in, out;   /* the batch it was drawn for, and what it makes */
  void **owned;       /* the parameter arrays, freed with the plan */
  int nowned;
} la_plan;

/* the plan at index idx, or a Lua argument error */
const la_plan *la_checkplan(lua_State *L, int idx);
/* registers core.plan into the table on top (l_augment_plan.c) */
void la_open_plan(lua_State *L);

#endif
