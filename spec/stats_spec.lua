-- clara.stats against SciPy (spec/fixtures/stats.lua, written by
-- tests/fixtures/make_stats.py): the Student t CDF at many points, the
-- special functions under it, paired t-tests and Wilcoxon signed-rank
-- tests; and the edge cases (too few pairs, all differences zero, NaN).
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/stats_spec.lua
local torch = require "torch"
local stats = require "clara.stats"

local fx = dofile("spec/fixtures/stats.lua")

-- |got - expected| <= tol * |expected| (absolute near zero)
local function close(expected, got, tol, what)
  tol = tol or 1e-9
  assert.equal("number", type(got), (what or "") .. ": expected a number, got " .. type(got))
  local ok = got == expected or math.abs(got - expected) <= tol * math.max(math.abs(expected), 1e-12)
  assert.is_true(ok, ("%s: expected %.17g, got %.17g"):format(what or "", expected, got))
end

describe("clara.stats special functions match SciPy", function()
  it("Student t cdf and sf at 160 points (df 1 to 1000, t from -40 to 25)", function()
    assert.equal(160, #fx.t_points)
    for _, c in ipairs(fx.t_points) do
      local what = ("t = %g, df = %g"):format(c.t, c.df)
      close(c.cdf, stats.t_cdf(c.t, c.df), 1e-9, "cdf " .. what)
      close(c.sf, stats.t_sf(c.t, c.df), 1e-9, "sf " .. what)
    end
  end)

  it("two-sided t p-values are twice the smaller tail, 1 at t = 0", function()
    for _, c in ipairs(fx.t_points) do
      close(2 * math.min(c.cdf, c.sf), stats.t_two_sided(c.t, c.df), 1e-9)
    end
    assert.equal(1, stats.t_two_sided(0, 4))
    assert.equal(0, stats.t_two_sided(math.huge, 4))
  end)

  it("the t distribution with 1 df is Cauchy: cdf = 1/2 + atan(t)/pi", function()
    for _, t in ipairs { -7, -1, -0.25, 0.5, 3 } do
      close(0.5 + math.atan(t) / math.pi, stats.t_cdf(t, 1), 1e-13)
    end
  end)

  it("incomplete beta, incomplete gamma, log-gamma, normal", function()
    for _, c in ipairs(fx.betainc) do close(c.value, stats.betainc(c.a, c.b, c.x), 1e-11, "betainc") end
    for _, c in ipairs(fx.gammainc) do
      close(c.p, stats.gammainc(c.a, c.x), 1e-12, "gammainc")
      close(c.q, stats.gammaincc(c.a, c.x), 1e-12, "gammaincc")
    end
    for _, c in ipairs(fx.lgamma) do
      if c.value == 0 then assert.is_true(math.abs(stats.lgamma(c.x)) < 1e-14)
      else close(c.value, stats.lgamma(c.x), 1e-13, "lgamma " .. c.x) end
    end
    for _, c in ipairs(fx.normal) do
      close(c.cdf, stats.normal_cdf(c.z), 1e-12, "normal_cdf " .. c.z)
      close(c.sf, stats.normal_sf(c.z), 1e-12, "normal_sf " .. c.z)
    end
  end)

  it("rejects arguments outside the domain", function()
    assert.has_error(function() stats.betainc(0, 1, 0.5) end, "clara.stats.special.betainc: a > 0 and b > 0 expected, got a = 0, b = 1")
    assert.has_error(function() stats.betainc(1, 1, 1.5) end, "clara.stats.special.betainc: x in [0, 1] expected, got 1.5")
    assert.has_error(function() stats.t_cdf(1, 0) end, "clara.stats.t_cdf: degrees of freedom > 0 expected, got 0")
    assert.has_error(function() stats.t_cdf(0 / 0, 3) end)
  end)
end)

describe("clara.stats mean and std", function()
  it("mean and the sample standard deviation (n - 1)", function()
    assert.equal(2.5, stats.mean { 1, 2, 3, 4 })
    close(math.sqrt(5 / 3), stats.std { 1, 2, 3, 4 }, 1e-15)
    close(5 / 3, stats.var(torch.tensor { 1, 2, 3, 4 }), 1e-7)
    -- values far from zero with a small spread keep their digits
    close(1, stats.std { 1e9 + 1, 1e9 + 2, 1e9 + 3 }, 1e-12)
  end)

  it("errors name what is wrong", function()
    assert.has_error(function() stats.std { 1 } end, "clara.stats.std: at least 2 values needed, got 1")
    assert.has_error(function() stats.mean {} end, "clara.stats.mean: at least 1 values needed, got 0")
    assert.has_error(function() stats.mean { 1, 0 / 0 } end, "clara.stats.mean: xs[2] is NaN")
    assert.has_error(function() stats.mean { 1, "2" } end, "clara.stats.mean: xs[2] is 2, not a number")
    assert.has_error(function() stats.mean(3) end, "clara.stats.mean: xs must be a list of numbers, got number")
  end)
end)

describe("clara.stats.ttest_rel matches scipy.stats.ttest_rel", function()
  it("t, p, df and the mean difference for every fixture case", function()
    for _, c in ipairs(fx.ttests) do
      local r = stats.ttest_rel(c.a, c.b)
      close(c.t, r.statistic, 1e-9, c.name .. " t")
      close(c.p, r.p, 1e-9, c.name .. " p")
      assert.equal(c.df, r.df)
      assert.equal(#c.a, r.n)
      close(c.mean_diff, r.mean_diff, 1e-9, c.name .. " mean")
      close(c.std_diff, r.std_diff, 1e-9, c.name .. " std")
      assert.equal("t distribution", r.method)
      assert.is_nil(r.note)
    end
  end)

  it("a tiny p stays relative-accurate (no 1 - (1 - p) cancellation)", function()
    local c = fx.ttests[6]
    assert.equal("large t, tiny p", c.name)
    assert.is_true(c.p < 1e-10)
    close(c.p, stats.ttest_rel(c.a, c.b).p, 1e-9)
  end)

  it("takes the differences alone, and tensors", function()
    local c = fx.ttests[3]
    local d = {}
    for i = 1, #c.a do d[i] = c.a[i] - c.b[i] end
    close(c.p, stats.ttest_rel(d).p, 1e-9)
    close(c.p, stats.ttest_rel(torch.tensor(c.a, { dtype = "float64" }), torch.tensor(c.b, { dtype = "float64" })).p, 1e-9)
  end)

  it("all differences zero: p = 1 with a note; equal nonzero differences: p = 0", function()
    local r = stats.ttest_rel({ 0.8, 0.9, 0.7 }, { 0.8, 0.9, 0.7 })
    assert.equal(1, r.p)
    assert.equal(0, r.statistic)
    assert.matches("all differences are zero", r.note)
    r = stats.ttest_rel({ 2, 3, 4 }, { 1, 2, 3 })
    assert.equal(0, r.p)
    assert.equal(math.huge, r.statistic)
    assert.matches("infinite", r.note)
  end)

  it("too few pairs, unequal lengths and NaN are errors", function()
    assert.has_error(function() stats.ttest_rel({ 1 }, { 2 }) end, "clara.stats.ttest_rel: at least 2 pairs needed, got 1")
    assert.has_error(function() stats.ttest_rel({ 1, 2, 3 }, { 2, 3 }) end,
      "clara.stats.ttest_rel: a and b must pair up, got 3 and 2 values")
    assert.has_error(function() stats.ttest_rel({ 1, 2, 3 }, { 2, 0 / 0, 1 }) end, "clara.stats.ttest_rel: b[2] is NaN")
    assert.has_error(function() stats.ttest_rel({ 1, math.huge }, { 2, 3 }) end, "clara.stats.ttest_rel: a[2] is infinite")
  end)
end)

describe("clara.stats.wilcoxon matches scipy.stats.wilcoxon", function()
  it("statistic and p with the options the fixture used", function()
    for _, c in ipairs(fx.wilcoxons) do
      local r = stats.wilcoxon(c.a, c.b, { method = c.method, correction = c.correction })
      close(c.statistic, r.statistic, 1e-12, c.name .. " W")
      close(c.p, r.p, 1e-9, c.name .. " p")
      assert.equal(#c.a, r.n)
    end
  end)

  it("by default: exact for distinct nonzero differences, n <= 25; else the corrected normal approximation", function()
    for _, c in ipairs(fx.wilcoxons) do
      if c.correction then
        local r = stats.wilcoxon(c.a, c.b)
        local want = c.method == "exact" and "exact" or "normal approximation"
        assert.equal(want, r.method, c.name)
        close(c.p, r.p, 1e-9, c.name)
      end
    end
  end)

  it("exact p is a count over 2^n sign patterns: one-signed n = 5 gives 2/32", function()
    local r = stats.wilcoxon { -1, -2, -3, -4, -5 }
    assert.equal(0, r.statistic)
    assert.equal(2 / 32, r.p)
    assert.equal("exact", r.method)
    -- the same test with the samples swapped
    local c = fx.wilcoxons[3]
    assert.equal(stats.wilcoxon(c.a, c.b).p, stats.wilcoxon(c.b, c.a).p)
  end)

  it("zeros are dropped (n_used) and counted; ties are counted", function()
    local zeros = fx.wilcoxons[#fx.wilcoxons - 1]
    assert.equal("zeros and ties", zeros.name)
    local r = stats.wilcoxon(zeros.a, zeros.b)
    assert.equal(11, r.n)
    assert.equal(8, r.n_used)
    assert.equal(3, r.zeros)
    assert.is_true(r.ties > 0)
    assert.is_true(r.correction)
    assert.matches("p is rough", r.note)
  end)

  it("all differences zero: p = 1 with a note", function()
    local r = stats.wilcoxon({ 1, 2, 3 }, { 1, 2, 3 })
    assert.equal(1, r.p)
    assert.equal(0, r.n_used)
    assert.matches("all differences are zero", r.note)
  end)

  it("errors: too few pairs, NaN, exact with ties, bad options", function()
    assert.has_error(function() stats.wilcoxon({ 1 }, { 2 }) end, "clara.stats.wilcoxon: at least 2 pairs needed, got 1")
    assert.has_error(function() stats.wilcoxon({ 1, 0 / 0 }, { 2, 3 }) end, "clara.stats.wilcoxon: a[2] is NaN")
    assert.has_error(function() stats.wilcoxon({ 1, 2, 3 }, { 2, 3, 3 }, { method = "exact" }) end,
      "clara.stats.wilcoxon: the exact distribution needs distinct nonzero differences, got 1 zeros and 2 tied values; use method = 'approx'")
    assert.has_error(function() stats.wilcoxon({ 1, 2 }, { 2, 4 }, { method = "magic" }) end,
      "clara.stats.wilcoxon: method must be one of 'auto', 'exact', 'approx', got 'magic'")
    assert.has_error(function() stats.wilcoxon({ 1, 2 }, { 2, 4 }, { zero_method = "pratt" }) end,
      "clara.stats.wilcoxon: unknown option 'zero_method' (known: correction, method)")
  end)
end)
