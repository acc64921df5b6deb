-- bench/clock.lua: the clock and the run protocol of the Lua twins.
--
-- Clock.  The C++ and Python twins time with a monotonic wall clock
-- (std::chrono::steady_clock, time.perf_counter).  Standard Lua only has
-- os.time() (1 s) and os.clock() (process CPU time), so the Lua twins use
-- lua-system's monotime(): clock_gettime(CLOCK_MONOTONIC), one cheap C
-- call.  lua-system is a dependency of lua-busted, which clara requires
-- (make deps).  Without it we fall back to os.clock() and say so on stderr.
-- os.clock() is always reported next to the wall time as a cross-check.
--
-- Protocol (the same in twin.py and twin.h).  A twin defines one
-- repetition, rep(), returning the CHECK value (a number every twin must
-- agree on), optionally followed by the wall and CPU seconds it measured
-- itself (when only part of rep() is the benchmark: an epoch inside an
-- experiment run, say).  M.twin{...} then either
--   * under bench/driver.py (BENCH_DRIVER=1): runs the warm-up, prints
--     "READY <name>", then answers each "run" line on stdin with
--     "TIME <name> <wall> <cpu>" (seconds per unit) and, at "quit" or end of
--     input, prints "CHECK <name> <value>" and returns.  The driver thus
--     alternates the twins' repetitions in one run, so a busy machine slows
--     all of them alike;
--   * alone (`./clara bench/x.lua`): warm-up, `reps` repetitions, then
--     "RESULT <name> <median wall>", "CPU <name> <median cpu>", "CHECK ...".
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

-- an integer setting: environment variable `var`, else `default`
function M.setting(var, default)
  local v = tonumber(os.getenv(var) or "")
  return v and math.floor(v) or default
end

local function median(list)
  local s = { table.unpack(list) }
  table.sort(s)
  local n = #s
  if n == 0 then return 0 / 0 end
  if n % 2 == 1 then return s[(n + 1) // 2] end
  return (s[n // 2] + s[n // 2 + 1]) / 2
end
M.median = median

-- one timed repetition: wall and CPU seconds per unit, and the check value
local function timed(rep, per)
  local c0, w0 = M.cpu(), M.now()
  local check, wall, cpu = rep()
  local w1, c1 = M.now(), M.cpu()
  return (wall or (w1 - w0)) / per, (cpu or (c1 - c0)) / per, check
end

local function say(fmt, ...)
  io.stdout:write(fmt:format(...), "\n")
  io.stdout:flush()
end

-- spec: name, rep (see above), per (units per repetition, default 1),
-- warmup (default rep), reps (standalone repetitions, default 5), note (a
-- function: a line printed as "NOTE <name> ..." after the repetitions)
function M.twin(spec)
  local name, rep, per = spec.name, spec.rep, spec.per or 1
  ;(spec.warmup or rep)()
  local check
  if os.getenv("BENCH_DRIVER") == "1" then
    say("READY %s", name)
    -- BENCH_CONTROL: a FIFO the driver writes to (the ranks of `clara
    -- launch` have no stdin)
    for line in io.lines(os.getenv("BENCH_CONTROL")) do
      if line == "quit" then break end
      local wall, cpu
      wall, cpu, check = timed(rep, per)
      say("TIME %s %.6e %.6e", name, wall, cpu)
    end
  else
    local walls, cpus = {}, {}
    for i = 1, spec.reps or 5 do
      walls[i], cpus[i], check = timed(rep, per)
    end
    say("RESULT %s %.6e", name, median(walls))
    say("CPU %s %.6e", name, median(cpus))
  end
  local note = spec.note and spec.note()
  if note then say("NOTE %s %s", name, note) end
  if check ~= nil then say("CHECK %s %.6g", name, check) end
end

return M
