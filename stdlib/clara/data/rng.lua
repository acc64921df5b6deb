-- clara.data.rng: a small seeded generator (SplitMix64) for shuffles,
-- partitions and folds.  Its own state, not torch's: a loader's shuffle
-- must not move the global RNG that initialises weights, and a permutation
-- is a pure function of (seed, stream), so a checkpoint or a saved fold
-- assignment reproduces it anywhere.
local E = require "clara.error"
local M = {}

local GOLDEN = 0x9E3779B97F4A7C15

local function mix(z)
  z = (z ~ (z >> 30)) * 0xBF58476D1CE4E5B9
  z = (z ~ (z >> 27)) * 0x94D049BB133111EB
  return z ~ (z >> 31)
end

local Rng = {}
Rng.__index = Rng

-- M.new(seed, stream...): independent sequences per (seed, stream) pair,
-- e.g. (seed, epoch) for a loader, (seed, repeat) for repeated k-fold
function M.new(seed, ...)
  local s = mix(math.tointeger(seed) or E.raise(nil, "rng: seed must be an integer, got " .. tostring(seed)))
  for i = 1, select("#", ...) do
    s = mix(s ~ (select(i, ...) * GOLDEN))
  end
  return setmetatable({ state = s }, Rng)
end

function Rng:next()
  self.state = self.state + GOLDEN
  return mix(self.state)
end

-- an integer in [0, m); 53 random bits, the bias for m < 2^31 is < 2^-22
function Rng:below(m)
  return math.floor(((self:next() >> 11) * 2.0 ^ -53) * m)
end

-- Fisher-Yates over a Lua list, in place; returns it.  next() and below()
-- inlined: a loader shuffles 60000 indices per epoch and this is its cost.
function Rng:shuffle(list)
  local s, scale = self.state, 2.0 ^ -53
  for i = #list, 2, -1 do
    s = s + GOLDEN
    local z = s
    z = (z ~ (z >> 30)) * 0xBF58476D1CE4E5B9
    z = (z ~ (z >> 27)) * 0x94D049BB133111EB
    z = z ~ (z >> 31)
    local j = math.floor(((z >> 11) * scale) * i) + 1
    list[i], list[j] = list[j], list[i]
  end
  self.state = s
  return list
end

-- a permutation of 0..n-1 as a Lua list
function Rng:permutation(n)
  local p = {}
  for i = 1, n do p[i] = i - 1 end
  return self:shuffle(p)
end

-- a seed for callers that were given none: drawn from torch's global
-- generator, so torch.manual_seed makes the run reproducible (as PyTorch's
-- DataLoader and random_split do), and recorded so it can be saved
function M.draw_seed()
  return torch.randint(0, 2 ^ 31 - 1, { 1 }):item()
end

return M
