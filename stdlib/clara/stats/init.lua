-- clara.stats: the statistics a model comparison needs, in plain Lua.
--
--   stats.mean(xs), stats.var(xs), stats.std(xs)     var and std are the
--                                                    sample ones (n - 1)
--   stats.ttest_rel(a, b)        paired t-test on a - b, two-sided
--   stats.wilcoxon(a, b, opts)   Wilcoxon signed-rank test on a - b, two-sided
--   stats.t_cdf(t, df), stats.t_sf, stats.t_two_sided, stats.normal_cdf,
--   stats.normal_sf, stats.betainc, stats.gammainc, stats.gammaincc, stats.lgamma
--
-- Samples are Lua lists of numbers or 1-d tensors; NaN, infinities and
-- holes are errors.  A test returns
--   {test =, statistic =, p =, n =, method =, note = (when something is
--    worth saying: all differences zero, an approximation on few pairs)}
-- with method saying how p was computed ("t distribution", "exact",
-- "normal approximation").  The numbers match SciPy's ttest_rel and
-- wilcoxon (spec/stats_spec.lua, fixtures from tests/fixtures/make_stats.py).
local input = require "clara.stats.input"
local special = require "clara.stats.special"

local stats = {}

function stats.mean(xs)
  local x = input.sample("mean", "xs", xs)
  input.at_least("mean", #x, 1, "values")
  local sum = 0
  for i = 1, #x do sum = sum + x[i] end
  return sum / #x
end

-- two passes (mean, then squared deviations): no cancellation when the
-- values sit far from zero with a small spread
function stats.var(xs)
  local x = input.sample("var", "xs", xs)
  input.at_least("var", #x, 2, "values")
  local m = 0
  for i = 1, #x do m = m + x[i] end
  m = m / #x
  local ss = 0
  for i = 1, #x do ss = ss + (x[i] - m) ^ 2 end
  return ss / (#x - 1)
end

function stats.std(xs)
  local x = input.sample("std", "xs", xs)
  input.at_least("std", #x, 2, "values")
  return math.sqrt(stats.var(x))
end

stats.ttest_rel = require "clara.stats.ttest"
stats.wilcoxon = require "clara.stats.wilcoxon"

for _, name in ipairs { "lgamma", "betainc", "gammainc", "gammaincc", "t_cdf", "t_sf",
                        "t_two_sided", "normal_cdf", "normal_sf" } do
  stats[name] = special[name]
end
stats.special = special

-- a misspelt name raises, naming the closest
return require("clara.error").namespace(stats, "clara.stats")
