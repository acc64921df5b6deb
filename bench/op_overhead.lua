-- op_overhead, clara twin: cost of one small op, c = a:add(b), on 16-element
-- float32 tensors.  Same work, clock and repetitions as op_overhead.py/.cpp.
-- Usage: ./clara bench/op_overhead.lua [calls]   (BENCH_SCALE scales)
-- Timing: wall clock, see bench/clock.lua.
-- bench/clock.lua sits next to this script
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local clock = dofile(here .. "/clock.lua")

local calls = clock.count(1e6, 1000)
local REPS = 5
local per_rep = calls // REPS

torch.set_num_threads(1)
torch.manual_seed(0)
local a = torch.randn(16)
local b = torch.randn(16)

local function run(n)
  local c
  for _ = 1, n do
    c = a:add(b)
  end
  return c
end

local c = clock.best("op_overhead", function() return run(per_rep) end, REPS, per_rep,
  function() run(per_rep // 5) end)
print(string.format("CHECK op_overhead %.6g", c:sum():item()))
