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

return M
