-- torch: tensors and autograd.  The C half (torch.core) holds the tensor
-- type and every operation; this file adds what reads better in Lua.
local torch = require "torch.core"

-- dtype names as values, so torch.float64 reads as in PyTorch
for _, name in ipairs { "float32", "float64", "int64", "int32", "int16", "int8",
                        "uint8", "bool", "float16", "bfloat16" } do
  torch[name] = name
end
torch.float, torch.double, torch.long, torch.int = "float32", "float64", "int64", "int32"
torch.half, torch.short, torch.byte = "float16", "int16", "uint8"

-- torch.device("cuda", 1) or torch.device("cuda:1") -> "cuda:1": devices,
-- like dtypes, are their names; whether this build has one is checked where
-- a tensor is placed on it
function torch.device(kind, index)
  local E = require "clara.error"
  if type(kind) ~= "string" or not (kind == "cpu" or kind:find("^cuda$") or kind:find("^cuda:%d+$")) then
    E.raise("torch.device", "expected 'cpu', 'cuda' or 'cuda:<index>', got %s", E.show(kind))
  end
  if index == nil then return kind end
  if math.type(index) ~= "integer" or index < 0 or kind ~= "cuda" then
    E.raise("torch.device", "an index (an integer >= 0) goes with 'cuda', got %s, %s", E.show(kind), E.show(index))
  end
  return kind .. ":" .. index
end

require("torch.size")(torch)

torch.format = function(t) return require("torch.format")(t) end
torch.autocast = function(...) return require("torch.autocast")(...) end

-- nn and optim load on first use, so `require "torch"` stays cheap; a
-- name that is neither here nor lazy raises with the closest ones
-- (probe optional names with rawget)
local LAZY = { "nn", "optim", "jit", "ops", "distributed", "get_rng_state", "set_rng_state", "save", "load", "load_safe" }
require("clara.error").namespace(torch, "torch", LAZY, function(self, key)
    if key == "nn" or key == "optim" then
      local mod = require("torch." .. key)
      rawset(self, key, mod)
      return mod
    end
    if key == "jit" or key == "ops" or key == "distributed" then
      local mod = require("torch." .. key)
      rawset(self, key, mod)
      return mod
    end
    if key == "get_rng_state" or key == "set_rng_state" then
      local fn = require("torch.rng.core")[key]
      rawset(self, key, fn)
      return fn
    end
    if key == "save" or key == "load" or key == "load_safe" then
      local fn = require("torch.serialize")[key]
      rawset(self, key, fn)
      return fn
    end
  end)

return torch
