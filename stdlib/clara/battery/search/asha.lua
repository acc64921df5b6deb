-- clara.battery.search.asha: which job a search's worker does next, from
-- the search state alone (pure: no files, no training), after Li et al.
-- 2018, "A System for Massively Parallel Hyperparameter Tuning" (ASHA).
--
-- Rungs: bracket s's trials report at min_epochs * eta^(s + k) epochs,
-- k = 0, 1, ... while that is below max_epochs, then at max_epochs (the
-- top rung).  A trial paused at rung k is promoted to rung k + 1 when it
-- is among the best floor(n / eta) of the n trials that have REPORTED at
-- rung k, in its bracket: no worker waits for a rung to fill.  A worker
-- asks for the next job: the best promotable trial (from the top rung
-- down, the first bracket first), else a new trial from the sampler in
-- bracket (trial number - 1) % brackets, else nothing.
-- scheduler = "asha": one bracket unless `brackets` says more;
-- "hyperband": brackets s = 0 .. s_max (every minimum resource the rungs
-- allow), each an ASHA of its own (asynchronous Hyperband);
-- nil: no early stopping, every trial trains max_epochs (one rung).
-- Budget: trials = how many trials are created; epochs = the sum of the
-- epochs every job trains (a job that does not fit is not given); time =
-- seconds since the search began, after which no job is given.
-- Values are the monitored ones; cfg.sign = -1 when larger is better (the
-- experiment's mode is "max").  NaN (a diverged trial) is the worst.
local M = {}

-- the rungs (epoch counts) of bracket s
function M.rungs(cfg, s)
  local out, eta = {}, cfg.reduction_factor
  if not cfg.scheduler then return { cfg.max_epochs } end
  local r = cfg.min_epochs * eta ^ s
  while r < cfg.max_epochs do
    out[#out + 1] = math.tointeger(r) or math.floor(r)
    r = r * eta
  end
  out[#out + 1] = cfg.max_epochs
  return out
end

-- how many brackets the rungs allow (hyperband's default)
function M.max_brackets(cfg)
  return #M.rungs(cfg, 0)
end

local function key(v, sign)
  if v == nil or v ~= v then return math.huge end
  return (sign or 1) * v
end

-- the trials of bracket b that reported at rung k (0-based), best first
-- (ties: the older trial first)
function M.reported(state, cfg, b, k)
  local list = {}
  for _, t in ipairs(state.trials) do
    if t.bracket == b and t.values[k + 1] ~= nil then list[#list + 1] = t end
  end
  table.sort(list, function(x, y)
    local a, c = key(x.values[k + 1], cfg.sign), key(y.values[k + 1], cfg.sign)
    if a ~= c then return a < c end
    return x.id < y.id
  end)
  return list
end

-- the trial of bracket b to promote from rung k, or nil
function M.promotable(state, cfg, b, k)
  local eta = cfg.reduction_factor
  local list = M.reported(state, cfg, b, k)
  for i = 1, #list // eta do
    local t = list[i]
    if t.state == "paused" and t.rung == k and t.values[k + 1] == t.values[k + 1] then return t end
  end
  return nil
end

local function cost(t, epochs) return epochs - (t and t.epochs or 0) end

local function fits(state, cfg, extra)
  local limit = cfg.budget.epochs
  return limit == nil or (state.epochs or 0) + extra <= limit
end

-- next(state, cfg, now) -> job or nil, why.  job = {trial = t, rung = k,
-- epochs = n} for a promotion, {new = true, bracket = b, rung = 0, epochs
-- = n} for a new trial; why = "wait" (nothing now, but running trials may
-- free one) or "end" (the search is over: budget spent, sampler empty).
function M.next(state, cfg, now)
  local running = false
  for _, t in ipairs(state.trials) do if t.state == "running" then running = true end end
  if cfg.budget.time and now - state.started >= cfg.budget.time then
    return nil, running and "wait" or "end", "time"
  end
  -- 1. a promotion: the top rung first, bracket by bracket
  local nb = cfg.brackets
  local top = 0
  for b = 0, nb - 1 do top = math.max(top, #M.rungs(cfg, b)) end
  for k = top - 2, 0, -1 do
    for b = 0, nb - 1 do
      local rungs = M.rungs(cfg, b)
      if k + 2 <= #rungs then
        local t = M.promotable(state, cfg, b, k)
        if t and fits(state, cfg, cost(t, rungs[k + 2])) then
          return { trial = t, rung = k + 1, epochs = rungs[k + 2] }
        end
      end
    end
  end
  -- 2. a new trial
  local n = #state.trials
  if state.exhausted or (cfg.budget.trials and n >= cfg.budget.trials) then
    return nil, running and "wait" or "end", state.exhausted and "sampler" or "trials"
  end
  local b = n % nb
  local first = M.rungs(cfg, b)[1]
  if not fits(state, cfg, first) then return nil, running and "wait" or "end", "epochs" end
  return { new = true, bracket = b, rung = 0, epochs = first }
end

-- report(state, cfg, t, k, value, ran): trial t ran to `ran` epochs for
-- rung k and reported value there.  A run that ended short of the rung's
-- epochs (early stopping) is "stopped"; the top rung's trial is "done".
function M.report(state, cfg, t, k, value, ran)
  local rungs = M.rungs(cfg, t.bracket)
  t.values[k + 1], t.rung, t.epochs = value, k, ran
  if ran < rungs[k + 1] then t.state = "stopped"
  elseif k + 1 >= #rungs then t.state = "done"
  else t.state = "paused" end
end

return M
