// jit_value.h: th_value's insides, shared by jit.cpp (script modules) and
// pickle.cpp (torch.save / torch.load files).
#ifndef BRIDGE_JIT_VALUE_H
#define BRIDGE_JIT_VALUE_H

#include <ATen/core/ivalue.h>
#include <string>
#include <vector>

#include "internal.h"

// A value under construction keeps its items apart until first use:
// tuples are immutable, and a list's or dict's element types are only known
// once every item is in.  A finished dict caches its entries flattened
// (key, value, key, value ...) so that entry i costs O(1).
struct th_value_s {
  c10::IValue v;
  int building = -1; // TH_V_LIST, TH_V_TUPLE or TH_V_DICT while built
  std::vector<c10::IValue> items;
};

namespace bridge {

inline th_value make_value(c10::IValue v) {
  auto *h = new th_value_s;
  h->v = std::move(v);
  return h;
}

const c10::IValue &finish(th_value h); // the value, built if need be

// v made into a value of type `want` where Lua cannot say it (an integer
// for a float, an empty table for a list, a list for a tuple); false when
// v does not fit.  lua_kind names v as the Lua side knows it.
bool coerce(c10::IValue &v, const c10::TypePtr &want);
std::string lua_kind(const c10::IValue &v);

} // namespace bridge

#endif
