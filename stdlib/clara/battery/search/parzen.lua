-- clara.battery.search.parzen: the one-parameter Parzen estimator of TPE
-- (Bergstra et al. 2011), built as Optuna 3.1's _ParzenEstimator builds it
-- with multivariate = False: a mixture of truncated normals, one per
-- observation plus the prior (a normal at the middle of the range, sigma =
-- the range); each observation's sigma is the larger gap to its sorted
-- neighbours (the first and last look inward: consider_endpoints = false),
-- clipped to [range / min(100, 1 + components), range] (the "magic clip").
-- Log parameters live in log space; an int is a float discretized by
-- rounding, its density the normal's mass over [x - 1/2, x + 1/2]; a choice
-- is a categorical whose rows put prior_weight / (n + 1) on every choice
-- plus 1 on the observed one.
--
-- One difference from Optuna 3.1 on purpose: its truncated normal log
-- density forgets the -log(sigma) of the scale (fixed in later Optuna), so
-- narrow components count less than they should; here the density is the
-- true one.
--
--   local P = require "clara.battery.search.parzen"
--   local est = P.new(p, obs, opts)  -- p: a checked space entry; obs: values in trial order
--   est:sample(g, n)                 -- n values of the parameter (g: a sampler rng)
--   est:log_pdf(x)                   -- log density (float) or mass (int, choice) at a value
local special = require "clara.stats.special"
local S = require "clara.battery.search.sampler"

local P = {}

-- {====================== the standard normal ======================
local LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)

local function log1p(x)
  local u = 1 + x
  if u == 1 then return x end
  return math.log(u) * x / (u - 1)
end

-- log Φ(a); below -20 the asymptotic series (Φ underflows near -38)
local function log_ndtr(a)
  if a > 6 then return -special.normal_sf(a) end
  if a > -20 then return math.log(special.normal_cdf(a)) end
  local lhs = -0.5 * a * a - math.log(-a) - LOG_SQRT_2PI
  local last, rhs, num, den, sign, i = 0.0, 1.0, 1.0, 1.0, 1, 0
  while math.abs(last - rhs) > 2.220446049250313e-16 do
    i = i + 1
    last, sign = rhs, -sign
    den, num = den / (a * a), num * (2 * i - 1)
    rhs = rhs + sign * num * den
  end
  return lhs + math.log(rhs)
end

-- log(Φ(b) - Φ(a)), a < b, computed in the left tail where it is accurate
local function log_mass(a, b)
  if b <= 0 then
    local lb, la = log_ndtr(b), log_ndtr(a)
    return lb + log1p(-math.exp(la - lb))
  elseif a > 0 then
    return log_mass(-b, -a)
  end
  return log1p(-special.normal_cdf(a) - special.normal_cdf(-b))
end
P.log_mass = log_mass

-- a standard normal draw (Box-Muller; 1 - u keeps the log finite)
local function normal(g)
  local r = math.sqrt(-2 * math.log(1 - S.unit(g)))
  return r * math.cos(2 * math.pi * S.unit(g))
end

-- a draw of N(mu, sigma) truncated to [low, high] by rejection: mu lies in
-- the range and sigma is at most its width, so a draw is kept with
-- probability above Φ(1) - Φ(0) = 0.34
local function truncnorm(g, mu, sigma, low, high)
  while true do
    local x = mu + sigma * normal(g)
    if x >= low and x <= high then return x end
  end
end

local function logsumexp(terms)
  local m = -math.huge
  for _, v in ipairs(terms) do if v > m then m = v end end
  if m == -math.huge then return m end
  local s = 0
  for _, v in ipairs(terms) do s = s + math.exp(v - m) end
  return m + math.log(s)
end
-- }================================================================

-- {====================== building ======================
-- Optuna's default_weights: ones up to 25 observations, beyond that the
-- oldest ramp up from 1/n and the newest 25 weigh 1
local function observation_weights(n)
  local w = {}
  if n < 25 then
    for i = 1, n do w[i] = 1 end
    return w
  end
  local m = n - 25
  for i = 1, m do w[i] = m == 1 and 1 / n or 1 / n + (1 - 1 / n) * (i - 1) / (m - 1) end
  for i = m + 1, n do w[i] = 1 end
  return w
end

local function mixture_weights(n, opts)
  local w = observation_weights(n)
  if opts.consider_prior or n == 0 then w[n + 1] = opts.prior_weight end
  local sum = 0
  for _, v in ipairs(w) do sum = sum + v end
  for i = 1, #w do w[i] = w[i] / sum end
  return w
end

-- the bounds the normals live in: log for log, +-1/2 around an int range
local function bounds(p)
  if p.type == "float" then
    if p.log then return math.log(p.low), math.log(p.high) end
    return p.low, p.high
  end
  if p.log then return math.log(p.low - 0.5), math.log(p.high + 0.5) end
  return p.low - 0.5, p.high + 0.5
end

local function to_internal(p, x) return p.log and math.log(x) or x end

-- the sigmas of mus (the prior's mu last when with_prior)
local function bandwidths(mus, low, high, opts, with_prior)
  local n = #mus
  local order = {}
  for i = 1, n do order[i] = i end
  table.sort(order, function(i, j) if mus[i] ~= mus[j] then return mus[i] < mus[j] end return i < j end)
  local s = { low }
  for k, i in ipairs(order) do s[k + 1] = mus[i] end
  s[n + 2] = high
  local sorted = {}
  for k = 1, n do sorted[k] = math.max(s[k + 1] - s[k], s[k + 2] - s[k + 1]) end
  if not opts.consider_endpoints and n >= 2 then
    sorted[1] = s[3] - s[2]
    sorted[n] = s[n + 1] - s[n]
  end
  local width = high - low
  local minsigma = opts.consider_magic_clip and width / math.min(100.0, 1.0 + n) or 1e-12
  local sigmas = {}
  for k, i in ipairs(order) do sigmas[i] = math.min(math.max(sorted[k], minsigma), width) end
  if with_prior then sigmas[n] = width end
  return sigmas
end

local Est = {}
Est.__index = Est

-- new(p, obs, opts): obs are values of p in trial order (choices as values)
function P.new(p, obs, opts)
  local n = #obs
  local with_prior = opts.consider_prior or n == 0
  local est = setmetatable({ p = p, weights = mixture_weights(n, opts) }, Est)
  if p.type == "choice" then
    local index = {}
    for k, v in ipairs(p.choices) do if index[v] == nil then index[v] = k end end
    local rows, nc = {}, #p.choices
    local fill = opts.prior_weight / (with_prior and n + 1 or n)
    for i = 1, #est.weights do
      local row, sum = {}, 0
      for k = 1, nc do row[k] = fill + ((i <= n and index[obs[i]] == k) and 1 or 0); sum = sum + row[k] end
      for k = 1, nc do row[k] = row[k] / sum end
      rows[i] = row
    end
    est.rows = rows
    return est
  end
  local low, high = bounds(p)
  local mus = {}
  for i, v in ipairs(obs) do mus[i] = to_internal(p, v) end
  if with_prior then mus[n + 1] = 0.5 * (low + high) end
  est.low, est.high, est.mus = low, high, mus
  est.sigmas = bandwidths(mus, low, high, opts, with_prior)
  -- each component's log mass inside the bounds (its truncation)
  est.log_z = {}
  for i, mu in ipairs(mus) do
    est.log_z[i] = log_mass((low - mu) / est.sigmas[i], (high - mu) / est.sigmas[i])
  end
  return est
end
-- }================================================================

-- {====================== sampling and density ======================
local function pick(g, w)
  local u, acc = S.unit(g), 0
  for i, v in ipairs(w) do
    acc = acc + v
    if u < acc then return i end
  end
  return #w
end

-- an internal value back to the parameter's: exp for log, rounded and
-- clipped for ints
local function external(p, x)
  if p.log then x = math.exp(x) end
  if p.type == "int" then
    x = math.floor(x + 0.5)
    return math.tointeger(math.max(p.low, math.min(p.high, x)))
  end
  return math.max(p.low, math.min(p.high, x))
end

function Est:sample(g, count)
  local out = {}
  for k = 1, count do
    local i = pick(g, self.weights)
    if self.rows then
      out[k] = self.p.choices[pick(g, self.rows[i])]
    else
      out[k] = external(self.p, truncnorm(g, self.mus[i], self.sigmas[i], self.low, self.high))
    end
  end
  return out
end

-- the log of component i's density (or mass, an int) at internal value x
function Est:component(i, x)
  local mu, sigma = self.mus[i], self.sigmas[i]
  if self.p.type == "int" and not self.p.log then
    local lo, hi = math.max(x - 0.5, self.low), math.min(x + 0.5, self.high)
    return log_mass((lo - mu) / sigma, (hi - mu) / sigma) - self.log_z[i]
  end
  if x < self.low or x > self.high then return -math.huge end
  local z = (x - mu) / sigma
  return -0.5 * z * z - LOG_SQRT_2PI - math.log(sigma) - self.log_z[i]
end

function Est:log_pdf(v)
  local terms = {}
  if self.rows then
    local k
    for j, c in ipairs(self.p.choices) do if c == v then k = j break end end
    if not k then return -math.huge end
    for i, w in ipairs(self.weights) do terms[i] = math.log(w) + math.log(self.rows[i][k]) end
  else
    local x = to_internal(self.p, v)
    for i, w in ipairs(self.weights) do terms[i] = math.log(w) + self:component(i, x) end
  end
  return logsumexp(terms)
end
-- }================================================================

return P
