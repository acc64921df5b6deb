-- bench/clock.lua: the clock of the Lua twins.
--
-- The C++ and Python twins time with a monotonic wall clock
-- (std::chrono::steady_clock, time.perf_counter).  clara has no clock
-- binding yet and standard Lua only has os.time() (1 s) and os.clock()
-- (process CPU time), so the Lua twins use lua-system's monotime():
-- clock_gettime(CLOCK_MONOTONIC), nanosecond resolution, one cheap C call.
-- lua-system is a dependency of lua-busted, which clara requires (make deps).
-- Without it we fall back to os.clock() and say so on stderr: with one
-- thread CPU time tracks wall time, but it misses time spent blocked.
-- os.clock() is always reported next to the wall time as a cross-check
-- (run.sh warns when the two disagree).
local M = {}

local ok, system = pcall(require, "system")
if ok and type(system) == "table" and system.monotime then
  M.kind, M.now = "wall", system.monotime
else
  io.stderr:write("bench/clock.lua: lua-system not found; timing with os.clock() (CPU time)\n")
  M.kind, M.now = "cpu", os.clock
end
M.cpu = os.clock

-- count from arg[1], else default * BENCH_SCALE (at least `min`)
function M.count(default, min)
  local n = arg and tonumber(arg[1])
  if n then return math.floor(n) end
  local scale = tonumber(os.getenv("BENCH_SCALE") or "1") or 1
  return math.max(min, math.floor(default * scale))
end

-- the protocol of every twin: a warm-up, then `reps` timed repetitions of
-- fn(); prints the best wall and CPU time, each divided by `per` (the work
-- units in one repetition), and returns what the last fn() returned.
-- `warmup` (default fn) must match the other twins' warm-up, since the
-- CHECK value of a training benchmark depends on every step taken
function M.best(name, fn, reps, per, warmup)
  per = per or 1
  ;(warmup or fn)()
  local best_wall, best_cpu, out = math.huge, math.huge, nil
  for _ = 1, reps do
    local c0, w0 = M.cpu(), M.now()
    out = table.pack(fn())
    best_wall = math.min(best_wall, (M.now() - w0) / per)
    best_cpu = math.min(best_cpu, (M.cpu() - c0) / per)
  end
  print(string.format("RESULT %s %.6e", name, best_wall))
  print(string.format("CPU %s %.6e", name, best_cpu))
  return table.unpack(out, 1, out.n)
end

return M
