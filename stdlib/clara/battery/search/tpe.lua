-- clara.battery.search.tpe: the Tree-structured Parzen Estimator sampler
-- (Bergstra et al. 2011, "Algorithms for Hyper-Parameter Optimization"),
-- with the defaults of Optuna 3.1's TPESampler: the first n_startup_trials
-- proposals are random (the random sampler's, draw for draw, from the same
-- seed); after that the trials with a value are split into the best
-- gamma(n) = min(ceil(n / 10), 25) ("below", l) and the rest ("above",
-- g); for each parameter independently (multivariate = false) a Parzen
-- estimator (clara.battery.search.parzen) is fitted to each side,
-- n_ei_candidates values are drawn from l and the one with the largest
-- l(x) / g(x) is proposed.
--
-- Which trials count and how they rank (as Optuna ranks complete and
-- pruned trials): a trial with a value counts, whatever its state; failed
-- trials and trials still running their first rung have none.  Trials that
-- finished ("done") rank first, by value; the others (paused at a rung,
-- promoted and running the next one, stopped early by the experiment)
-- follow, those that trained more epochs first, then by value.  So a
-- paused ASHA trial weighs in with its value at its highest rung, like
-- Optuna's pruned trials with their last intermediate value.  NaN values
-- rank last.
--
-- sampler_options (search.sampler_options): see OPTIONS below.
local E = require "clara.error"
local S = require "clara.battery.search.sampler"
local P = require "clara.battery.search.parzen"

local M = {}
local API = "clara.battery"

local function default_gamma(n) return math.min(math.ceil(0.1 * n), 25) end

M.OPTIONS = {
  n_startup_trials = { type = "integer", min = 0, default = 10, doc = "random proposals before TPE starts" },
  n_ei_candidates = { type = "integer", min = 1, default = 24, doc = "values drawn from l(x) per parameter" },
  prior_weight = { type = "number", gt = 0, default = 1.0, doc = "the prior's weight in each estimator" },
  consider_prior = { type = "boolean", default = true, doc = "a prior component in each estimator" },
  consider_magic_clip = { type = "boolean", default = true, doc = "clip sigmas below range / min(100, 1 + n)" },
  consider_endpoints = { type = "boolean", default = false, doc = "the range's ends count as neighbours" },
  gamma = { type = "function", doc = "n -> how many of n trials are good (default min(ceil(n / 10), 25))" },
}

-- {====================== the trials ======================
local function rank_key(t)
  local v = t.value
  if v == nil or v ~= v then v = math.huge end
  local step = t.state == "done" and -math.huge or -(t.epochs or t.rung or 0)
  return step, v
end

-- the trials with a value, ranked best first (ties: the older first);
-- returns the list of {t =, i = position in trials}
local function ranked(trials)
  local list = {}
  for i, t in ipairs(trials) do
    if t.value ~= nil and t.state ~= "failed" then
      local step, v = rank_key(t)
      list[#list + 1] = { t = t, i = i, step = step, v = v }
    end
  end
  table.sort(list, function(a, b)
    if a.step ~= b.step then return a.step < b.step end
    if a.v ~= b.v then return a.v < b.v end
    return a.i < b.i
  end)
  return list
end

-- split(trials, gamma) -> below, above: lists of trials, each in trial order
function M.split(trials, gamma)
  local list = ranked(trials)
  local n = #list
  local nb = (gamma or default_gamma)(n)
  if not (type(nb) == "number" and nb == math.floor(nb) and nb >= 0 and nb <= n) then
    E.raise(API, "search.sampler_options.gamma(%d) must return an integer in 0..%d, got %s", n, n, E.show(nb))
  end
  local below, above = {}, {}
  for k, e in ipairs(list) do
    if k <= nb then below[#below + 1] = e else above[#above + 1] = e end
  end
  local function chrono(side)
    table.sort(side, function(a, b) return a.i < b.i end)
    for k, e in ipairs(side) do side[k] = e.t end
    return side
  end
  return chrono(below), chrono(above), n
end
-- }================================================================

-- {====================== proposing ======================
local Tpe = {}
Tpe.__index = Tpe

local function observed(p, side, name)
  local obs = {}
  for _, t in ipairs(side) do
    local v = t.params and t.params[name]
    if v ~= nil then
      if p.type == "choice" then
        for _, c in ipairs(p.choices) do if c == v then obs[#obs + 1] = v break end end
      elseif type(v) == "number" and v >= p.low and v <= p.high then
        obs[#obs + 1] = v
      end
    end
  end
  return obs
end

-- the estimators l and g of one parameter
function M.estimators(p, below, above, name, opts)
  return P.new(p, observed(p, below, name), opts), P.new(p, observed(p, above, name), opts)
end

-- one parameter's proposal: the candidate from l with the largest l / g
function Tpe:one(name, below, above)
  local p = self.space[name]
  if p.type ~= "choice" and p.low == p.high then return p.low end   -- nothing to estimate
  local l, g = M.estimators(p, below, above, name, self.opts)
  local best, score
  for _, x in ipairs(l:sample(self.g, self.opts.n_ei_candidates)) do
    local s = l:log_pdf(x) - g:log_pdf(x)
    if score == nil or s > score then best, score = x, s end
  end
  return best
end

function Tpe:propose(trials)
  local below, above, n = M.split(trials or {}, self.opts.gamma)
  local params = {}
  for _, name in ipairs(self.space.names) do
    if n < self.opts.n_startup_trials then
      params[name] = S.draw(self.g, self.space[name])
    else
      params[name] = self:one(name, below, above)
    end
  end
  return params
end

function Tpe:state() return { rng = self.g:state() } end
function Tpe:set_state(s) self.g:set_state(type(s) == "table" and s.rng or nil) end
-- }================================================================

-- new(space, seed, opts): space from sampler.check_space
function M.new(space, seed, opts)
  opts = E.options(API, opts, M.OPTIONS, "search.sampler_options")
  opts.n_startup_trials = math.tointeger(opts.n_startup_trials)
  opts.n_ei_candidates = math.tointeger(opts.n_ei_candidates)
  -- the random sampler's stream: the startup trials are its proposals
  return setmetatable({ space = space, g = S.rng(seed, 1), opts = opts }, Tpe)
end

return M
