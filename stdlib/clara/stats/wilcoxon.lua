-- clara.stats.wilcoxon(a, b, opts) -> {test, statistic = W, p, n, n_used,
-- zeros, ties, method, z, correction, note}: the Wilcoxon signed-rank test
-- of d = a - b, two-sided.  With b nil, a holds the differences.
--
-- The |d| are ranked (ties share their average rank); W is the smaller of
-- the rank sums of the positive and of the negative differences, as SciPy
-- reports it.  Zero differences are dropped first (SciPy's default
-- zero_method = "wilcox"); n_used counts the rest.  p comes from
--   method "exact": the exact null distribution of the positive rank sum,
--     counted by dynamic programming over the ranks 1..n_used.  Used by
--     default when n_used <= 25 and there are no zeros and no ties (the
--     exact distribution assumes distinct untied ranks);
--   method "normal approximation": otherwise.  z = (W - μ + c) / σ with
--     μ = n(n+1)/4, σ² = n(n+1)(2n+1)/24 - Σ(t³ - t)/48 over tie groups of
--     size t, and the continuity correction c = 1/2 (c = 0 when W = μ).
--     The correction is on by default, as in R's wilcox.test;
--     scipy.stats.wilcoxon leaves it off unless correction = True, so
--     opts.correction = false gives SciPy's default numbers.
-- opts: {method = "auto" | "exact" | "approx", correction = true}
local input = require "clara.stats.input"
local E = require "clara.error"
local special = require "clara.stats.special"

local EXACT_MAX = 25     -- "auto" uses the exact distribution up to here
local EXACT_LIMIT = 200  -- beyond this even a requested exact run is refused (cost n³)
local APPROX_FEW = 10    -- below this many pairs the normal approximation is rough

-- 1. the nonzero differences, and the count of zeros
local function nonzero(d)
  local kept, zeros = {}, 0
  for i = 1, #d do
    if d[i] == 0 then zeros = zeros + 1 else kept[#kept + 1] = d[i] end
  end
  return kept, zeros
end

-- 2. ranks of |d| (average ranks for ties) and the sizes of the tie groups
local function ranks_of(d)
  local order = {}
  for i = 1, #d do order[i] = i end
  table.sort(order, function(i, j) return math.abs(d[i]) < math.abs(d[j]) end)
  local ranks, groups = {}, {}
  local first = 1
  while first <= #order do
    local last = first
    while last < #order and math.abs(d[order[last + 1]]) == math.abs(d[order[first]]) do
      last = last + 1
    end
    local avg = (first + last) / 2
    for k = first, last do ranks[order[k]] = avg end
    if last > first then groups[#groups + 1] = last - first + 1 end
    first = last + 1
  end
  return ranks, groups
end

-- 3. the exact null distribution: count[s] = how many of the 2^n sign
--    patterns give the positive ranks the sum s (rank k joins or not)
local function rank_sum_counts(n)
  local count = { [0] = 1.0 }   -- floats: 2^n overflows integers past n = 62
  local top = 0
  for k = 1, n do
    for s = top + k, k, -1 do count[s] = (count[s] or 0) + (count[s - k] or 0) end
    top = top + k
  end
  for s = 0, top do count[s] = count[s] or 0 end
  return count, top
end

-- two-sided p: twice the smaller tail at the observed positive rank sum
local function exact_p(n, r_plus)
  local count, top = rank_sum_counts(n)
  local below, above = 0, 0
  for s = 0, top do
    if s <= r_plus then below = below + count[s] end
    if s >= r_plus then above = above + count[s] end
  end
  return math.min(1, 2 * math.min(below, above) / 2 ^ n)
end

local function approx(n, w, groups, correction)
  local mu = n * (n + 1) / 4
  local var = n * (n + 1) * (2 * n + 1)
  for _, t in ipairs(groups) do var = var - 0.5 * t * (t * t - 1) end
  local sigma = math.sqrt(var / 24)
  local c = 0
  if correction and w ~= mu then c = w < mu and -0.5 or 0.5 end
  local z = (w - mu - c) / sigma
  return z, 2 * special.normal_sf(math.abs(z))
end

local function options(opts)
  opts = E.options("clara.stats.wilcoxon", opts, {
    method = { type = "string", enum = { "auto", "exact", "approx" }, default = "auto",
               doc = "the p-value's computation" },
    correction = { type = "boolean", default = true, doc = "continuity correction of the normal approximation" },
  })
  return opts.method, opts.correction
end

local function wilcoxon(a, b, opts)
  local method, correction = options(opts)
  -- 1. differences, the zeros dropped
  local d = input.differences("wilcoxon", a, b)
  input.at_least("wilcoxon", #d, 2, "pairs")
  local kept, zeros = nonzero(d)
  local n = #kept
  local r = { test = "Wilcoxon signed-rank", n = #d, n_used = n, zeros = zeros, ties = 0 }
  if n == 0 then
    r.statistic, r.p, r.method = 0, 1, "none"
    r.note = "all differences are zero: no difference to test (p = 1)"
    return r
  end
  -- 2. the rank sums
  local ranks, groups = ranks_of(kept)
  local r_plus, r_minus = 0, 0
  for i = 1, n do
    if kept[i] > 0 then r_plus = r_plus + ranks[i] else r_minus = r_minus + ranks[i] end
  end
  for _, t in ipairs(groups) do r.ties = r.ties + t end
  r.statistic = math.min(r_plus, r_minus)
  -- 3. exact or approximate p
  local untied = zeros == 0 and #groups == 0
  if method == "exact" and not untied then
    E.raise(nil, ("clara.stats.wilcoxon: the exact distribution needs distinct nonzero differences, "
           .. "got %d zeros and %d tied values; use method = 'approx'"):format(zeros, r.ties))
  end
  if method == "exact" and n > EXACT_LIMIT then
    E.raise(nil, ("clara.stats.wilcoxon: exact p for %d pairs would take too long (at most %d); use method = 'approx'")
          :format(n, EXACT_LIMIT))
  end
  if method == "exact" or (method == "auto" and untied and n <= EXACT_MAX) then
    r.method = "exact"
    r.p = exact_p(n, math.tointeger(r_plus) or r_plus)
  else
    r.method, r.correction = "normal approximation", correction
    r.z, r.p = approx(n, r.statistic, groups, correction)
    if n < APPROX_FEW then
      r.note = ("normal approximation on %d nonzero differences%s: p is rough")
               :format(n, untied and "" or " (with ties or zeros)")
    end
  end
  return r
end

return wilcoxon
