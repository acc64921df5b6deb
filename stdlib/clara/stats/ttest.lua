-- clara.stats.ttest_rel(a, b) -> {test, statistic = t, p, n, df, mean_diff,
-- std_diff, method, note}: the paired (related samples) t-test of
-- d = a - b, two-sided, as scipy.stats.ttest_rel(a, b).  With b nil, a
-- holds the differences.  t = mean(d) / (std(d) / √n) with the sample std,
-- and p = P(|T| >= |t|) for Student's t with n - 1 degrees of freedom.
local input = require "clara.stats.input"
local special = require "clara.stats.special"

local function ttest_rel(a, b)
  -- 1. the differences, at least two of them
  local d = input.differences("ttest_rel", a, b)
  local n = #d
  input.at_least("ttest_rel", n, 2, "pairs")
  -- 2. their mean and sample standard deviation (two passes)
  local sum = 0
  for i = 1, n do sum = sum + d[i] end
  local mean = sum / n
  local ss = 0
  for i = 1, n do ss = ss + (d[i] - mean) ^ 2 end
  local std = math.sqrt(ss / (n - 1))
  local r = { test = "paired t-test", n = n, df = n - 1, mean_diff = mean, std_diff = std,
              method = "t distribution" }
  -- 3. the statistic; a spread of zero leaves t undefined or infinite
  if std == 0 and mean == 0 then
    r.statistic, r.p = 0, 1
    r.note = "all differences are zero: no difference to test (p = 1)"
  elseif std == 0 then
    r.statistic, r.p = mean > 0 and math.huge or -math.huge, 0
    r.note = "all differences are equal and nonzero: t is infinite (p = 0)"
  else
    r.statistic = mean / math.sqrt(std * std / n)
    r.p = special.t_two_sided(r.statistic, n - 1)
  end
  return r
end

return ttest_rel
