-- clara.battery.search: a battery that searches.
--
--   clara.battery{ name = "mlp_search", base = exp, search = {
--     scheduler = "asha",              -- "hyperband", or nil (every trial trains max_epochs)
--     sampler = "random",              -- "grid" | "tpe"
--     space = { lr = {type = "float", low = 1e-3, high = 0.3, log = true},
--               hidden = {type = "choice", choices = {32, 64, 128}} },
--     budget = { trials = 20, epochs = 100, time = 3600 },
--     min_epochs = 1, max_epochs = 9, reduction_factor = 3, seed = 1 } }
--
-- Each trial is a battery entry, <battery>/trial-NNNN/, one run; the
-- experiment's monitor (and mode) is what the trials are ranked by, read
-- from the history row of the rung's epoch.  A promotion continues the
-- trial's own run from its checkpoint with epochs set to the next rung
-- (config.json's `changes` records each rung): no epoch trains twice.
-- A worker (this process in serial mode, each child of --jobs N, each
-- SLURM array task: `clara battery FILE --worker`) repeats: under the
-- search lock, take the next job (clara.battery.search.asha) and hold its
-- trial's directory; train; under the lock again, report.  A job whose
-- trial directory nobody holds while the state says it runs (a killed
-- worker, a requeued task) is given again first, and continues from the
-- checkpoint: after kill -9, SIGTERM or a requeue, re-running the battery
-- gives the same trials in the same order as a search never stopped.
local fs = require "clara.fs"
local E = require "clara.error"
local S = require "clara.battery.search.sampler"
local A = require "clara.battery.search.asha"
local state = require "clara.battery.search.state"

local M = {}
local API = "clara.battery"

-- {====================== the options ======================
local SCHEMA = {
  scheduler = { type = "string", enum = { "asha", "hyperband" }, doc = "early stopping: asha, hyperband, or none" },
  sampler = { type = "string", enum = S.KINDS, default = "random", doc = "what proposes new trials" },
  space = { type = "table", required = true, what = "a table name = {type =, ...}", doc = "the settings searched" },
  budget = { type = "table", doc = "{trials =, epochs =, time = seconds}: when no new job is given" },
  min_epochs = { type = "integer", min = 1, default = 1, doc = "the first rung's epochs" },
  max_epochs = { type = "integer", min = 1, doc = "the top rung's epochs (default: the experiment's epochs)" },
  reduction_factor = { type = "integer", min = 2, default = 3, doc = "eta: 1/eta of a rung is promoted" },
  brackets = { type = "integer", min = 1, doc = "brackets (hyperband's default: all the rungs allow)" },
  seed = { type = "integer", default = 0, doc = "the sampler's seed" },
  sampler_options = { type = "table", doc = "options of the sampler (tpe)" },
}
local BUDGET = {
  trials = { type = "integer", min = 1, doc = "trials created at most" },
  epochs = { type = "integer", min = 1, doc = "epochs trained by all trials together at most" },
  time = { type = "number", gt = 0, doc = "seconds from the search's start after which no job is given" },
}

-- check(spec, base) -> the search's settings, every default filled in
function M.check(spec, base)
  local cfg = E.options(API, spec, SCHEMA, "search")
  cfg.budget = E.options(API, cfg.budget, BUDGET, "search.budget")
  for _, k in ipairs { "min_epochs", "max_epochs", "reduction_factor", "brackets", "seed" } do
    cfg[k] = math.tointeger(cfg[k]) or cfg[k]
  end
  cfg.space = S.check_space(API, cfg.space)
  cfg.max_epochs = cfg.max_epochs or base.epochs
  if cfg.min_epochs > cfg.max_epochs then
    E.raise(API, "search.min_epochs (%d) must be <= max_epochs (%d)", cfg.min_epochs, cfg.max_epochs)
  end
  if not cfg.scheduler and cfg.brackets then E.raise(API, "search.brackets needs a scheduler (asha or hyperband)") end
  local most = A.max_brackets(cfg)
  cfg.brackets = cfg.brackets or (cfg.scheduler == "hyperband" and most or 1)
  if cfg.brackets > most then
    E.raise(API, "search.brackets = %d, but min_epochs = %d, max_epochs = %d and reduction_factor = %d allow %d",
      cfg.brackets, cfg.min_epochs, cfg.max_epochs, cfg.reduction_factor, most)
  end
  if cfg.sampler ~= "grid" and not (cfg.budget.trials or cfg.budget.epochs or cfg.budget.time) then
    E.raise(API, "a %s search needs a budget: search.budget = {trials =, epochs =, time =} (one is enough)", cfg.sampler)
  end
  -- the sampler is made now: a space it cannot take fails here
  S.new(cfg.sampler, cfg.space, cfg.seed, cfg.sampler_options)
  -- the experiment's monitor: "smaller is better" values (sign) for the scheduler
  local monitor = base.monitor or "val_loss"
  local mode = base.mode or (monitor:find("loss") and "min" or "max")
  cfg.sign = mode == "max" and -1 or 1
  -- every name of the space must be a setting of the experiment
  local probe = {}
  for _, name in ipairs(cfg.space.names) do probe[name] = S.draw(S.rng(0), cfg.space[name]) end
  local ok, err = pcall(base.set, base, probe)
  if not ok then E.raise(API, "search.space: %s", (tostring(err):gsub("^[^:]*:%d+: ", ""))) end
  return cfg
end
-- }================================================================

local function now() return os.time() end

function M.trial_name(id) return ("trial-%04d"):format(id) end
local function trial_dir(battery, t) return fs.join(battery:dir(), M.trial_name(t.id)) end

-- the battery's entries: the trials so far (battery:entries())
function M.entries(battery)
  local st = state.read(battery)
  local list = {}
  for i, t in ipairs(st and st.trials or {}) do
    list[i] = { name = M.trial_name(t.id), settings = t.params, dir = trial_dir(battery, t),
                extra = { rung = t.rung, search_state = t.state, value = t.values[(t.rung or -1) + 1] } }
  end
  return list
end

-- {====================== one job ======================
-- the trials as samplers see them: "smaller is better" values
local function sampler_view(st, sign)
  local out = {}
  for i, t in ipairs(st.trials) do
    local values = {}
    for k, v in ipairs(t.values) do values[k] = sign * v end
    out[i] = { params = t.params, state = t.state, rung = t.rung, values = values,
               value = t.rung and values[t.rung + 1] or nil, epochs = t.epochs }
  end
  return out
end

-- a running trial nobody holds: its worker died.  Its lock is returned.
local function orphan(battery, st)
  for _, t in ipairs(st.trials) do
    if t.state == "running" then
      local dir = trial_dir(battery, t)
      fs.mkdir_p(dir)
      local lock = fs.try_lock(dir)
      if lock then return t, lock end
    end
  end
end

-- claim(battery) -> job (its trial held by this process) or nil, why
local function claim(battery)
  local cfg = battery.search
  return state.with(battery, now(), function(st)
    local t, lock = orphan(battery, st)
    if t then return true, { trial = t.id, rung = t.job.rung, epochs = t.job.epochs, lock = lock, again = true } end
    local job, why, reason = A.next(st, cfg, now())
    if not job then return false, nil, why, reason end
    if job.new then
      local sampler = S.new(cfg.sampler, cfg.space, cfg.seed, cfg.sampler_options)
      if st.sampler then sampler:set_state(st.sampler) end
      local params = sampler:propose(sampler_view(st, cfg.sign))
      if params == nil then
        st.exhausted = true
        return true, nil, A.next(st, cfg, now())
      end
      st.sampler = sampler:state()
      t = { id = #st.trials + 1, params = params, bracket = job.bracket, values = {}, epochs = 0 }
      st.trials[t.id] = t
    else
      t = job.trial
    end
    st.epochs = st.epochs + (job.epochs - t.epochs)
    t.state, t.job = "running", { rung = job.rung, epochs = job.epochs }
    st.jobs[#st.jobs + 1] = { trial = t.id, rung = job.rung }
    local dir = trial_dir(battery, t)
    fs.mkdir_p(dir)
    lock = fs.try_lock(dir)
    if not lock then E.raise(API, "search: %s is held by another process, which the search does not know", dir) end
    return true, { trial = t.id, rung = job.rung, epochs = job.epochs, lock = lock }
  end)
end

-- the monitored value at the end of the rung's run
local function value_of(exp, history)
  local row = history[#history] or {}
  local monitor = exp.monitor or (row.val_loss ~= nil and "val_loss" or "train_loss")
  local v = row[monitor]
  return type(v) == "number" and v or 0 / 0, row.epoch or 0
end

-- run(battery, job, opts) -> "done" | "failed" | "interrupted", message
local function train(battery, job, t, opts)
  local dir = trial_dir(battery, t)
  local exp = battery.base:set(t.params):with { out_dir = battery.out_dir, handle_signals = opts.handle_signals,
                                               verbose = opts.verbose }
  local ok, result = pcall(function()
    if fs.exists(fs.join(dir, "checkpoint.pt")) then
      return exp:run { dir = dir, resume = true, set = { epochs = job.epochs } }
    end
    return exp:set({ epochs = job.epochs }):run { dir = dir }
  end)
  if not ok then return "failed", tostring(result) end
  if result.interrupted then return "interrupted", result.interrupted end
  local value, ran = value_of(exp, result.history)
  return "done", value, ran
end

local function report(battery, job, status, value, ran)
  local cfg = battery.search
  state.with(battery, now(), function(st)
    local t = st.trials[job.trial]
    if status == "failed" then
      t.state, t.error, t.job = "failed", (tostring(value):match("[^\n]*")), nil
    else
      A.report(st, cfg, t, job.rung, value, math.tointeger(ran) or ran)
      t.job = nil
    end
    return true
  end)
end

-- work(battery, opts, log) -> counts: jobs until the search is over (or
-- a signal); opts.poll: seconds between asks while others run (parallel)
function M.work(battery, opts, log)
  local signal = opts.handle_signals and require "clara.signal" or nil
  local clock = require("clara.train.progress").clock
  local counts = { done = 0, failed = 0, interrupted = 0, skipped = 0, busy = 0 }
  while true do
    local sig = signal and signal.pending()
    if sig then
      log(("search: %s received, stopping"):format(sig))
      signal.clear()
      counts.stopped = true
      break
    end
    local job, why, reason = claim(battery)
    if not job then
      if why ~= "wait" then log(("search %s: over (%s)"):format(battery.name, reason or why)); break end
      require("clara.process.core").sleep(opts.poll or 0.2)
    else
      local st = state.read(battery)
      local t, t0 = st.trials[job.trial], clock()
      log(("%s rung %d (%d epochs)%s: %s"):format(M.trial_name(t.id), job.rung, job.epochs,
        job.again and ", again" or "", require("clara.battery.entries").name(t.params)))
      local status, value, ran = train(battery, job, t, opts)
      if status ~= "interrupted" then report(battery, job, status, value, ran) end
      job.lock:release()
      counts[status] = counts[status] + 1
      log(("%s rung %d: %s (%.1f s)%s"):format(M.trial_name(t.id), job.rung, status, clock() - t0,
        status == "done" and (" value %.6g"):format(value) or status == "failed" and (": " .. value) or ""))
      if status == "interrupted" then counts.stopped = true; break end
    end
  end
  return counts
end
-- }================================================================

return M
