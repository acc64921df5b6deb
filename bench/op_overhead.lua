-- op_overhead, clara twin: cost of one small op, c = a:add(b), on 16-element
-- float32 tensors.  Same work as op_overhead.py/.cpp.  A repetition is
-- `calls` (200000) calls; the time is per call.
-- Usage: ./clara bench/op_overhead.lua [calls]   (BENCH_SCALE scales)
-- Timing and protocol: bench/clock.lua.
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local clock = dofile(here .. "/clock.lua")

local calls = clock.count(2e5, 1000)

torch.set_num_threads(1)
torch.manual_seed(0)
local a = torch.randn(16)
local b = torch.randn(16)

local function run(n)
  local c
  for _ = 1, n do
    c = a:add(b)
  end
  return c:sum():item()
end

clock.twin { name = "op_overhead", rep = function() return run(calls) end, per = calls,
             warmup = function() run(calls // 5) end }
