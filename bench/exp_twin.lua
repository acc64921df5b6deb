-- bench/exp_twin.lua: what the Lua twins that train through
-- clara.experiment share: the impl chosen by BENCH_IMPL (clear | fast),
-- the SKIP line when that loop is not in the tree, timing by hooks, a
-- note of what the fast loop did, and data-parallel training when started
-- by `clara launch` (bench/parallel.py's 2x1 twin).
local M = {}

-- the ranks of `clara launch` (WORLD_SIZE > 1) join one process group:
-- the experiment trains data-parallel, with batch_size per rank
local function distributed()
  if (tonumber(os.getenv("WORLD_SIZE") or "") or 1) <= 1 then return false end
  torch.distributed.init_process_group { backend = "gloo" }
  return true
end

-- the experiment for BENCH_IMPL; when clara.experiment refuses that impl
-- (or data-parallel training), prints "SKIP <name> ..." (the driver drops
-- the row) and exits
function M.experiment(name, spec)
  local impl = os.getenv("BENCH_IMPL") or "clear"
  if impl ~= "clear" then spec.impl = impl end
  if distributed() then
    spec.distributed = true
    spec.grad_transport = os.getenv("BENCH_TRANSPORT")
  end
  local ok, exp = pcall(clara.experiment, spec)
  if not ok then
    if not spec.distributed or torch.distributed.get_rank() == 0 then
      print(("SKIP %s impl '%s'%s not available: %s"):format(name, impl,
        spec.distributed and " data-parallel" or "", tostring(exp)))
    end
    os.exit(0)
  end
  return exp, impl
end

-- with a process group, rank 0 serves the driver (clock.twin) and tells
-- the other ranks each repetition (1) and the end (0), so that every rank
-- takes part in every repetition's collectives; they print nothing
local function lockstep(rep)
  local dist = torch.distributed
  local function tell(code)
    local t = torch.tensor({ code })
    dist.broadcast(t, 0)
    return t:item()
  end
  if dist.get_rank() == 0 then
    return function() tell(1) return rep() end, function() tell(0) end
  end
  while tell(0) == 1 do rep() end
  os.exit(0)
end

-- hooks that read the clocks at hook `from` and at hook `to`, and
-- timed(fn): fn()'s value and the wall and CPU seconds between the two
-- hooks (the whole call is timed by clock.twin when they were not called)
function M.timer(clock, from, to)
  local t = {}
  local hooks = {
    [from] = function() t.w0, t.c0 = clock.now(), clock.cpu() end,
    [to] = function() t.w1, t.c1 = clock.now(), clock.cpu() end,
  }
  local function timed(fn)
    t.w0, t.w1 = nil, nil
    local v = fn()
    if t.w0 and t.w1 then return v, t.w1 - t.w0, t.c1 - t.c0 end
    return v
  end
  return hooks, timed
end

-- clock.twin for one-epoch benchmarks: a repetition is exp:run() (a fresh
-- model, the same seed), timed by `timed` (M.timer), CHECK its training
-- loss; the warm-up runs `warm_steps` steps
function M.serve_epoch(clock, name, exp, impl, timed, warm_steps)
  exp:with { max_steps = warm_steps }:run()
  local rep, done = function() return timed(function() return exp:run().history[1].train_loss end) end, nil
  if torch.distributed.is_initialized() then rep, done = lockstep(rep) end
  clock.twin {
    name = name, reps = clock.setting("BENCH_REPS", 5), rep = rep, warmup = function() end,
    note = function() return M.note(impl) end,
  }
  if done then done() end
end

-- a line on what the fast loop did in its last run (nil for clear)
function M.note(impl)
  if impl ~= "fast" then return nil end
  local ok, fast = pcall(require, "clara.train.fast")
  local r = ok and type(fast) == "table" and fast.last_run
  if type(r) ~= "table" then return nil end
  return ("impl fast: %s micro-batches fused in C, %s in Lua%s"):format(tostring(r.fused), tostring(r.in_lua),
    r.reason and (", whole run clear: " .. tostring(r.reason)) or "")
end

return M
