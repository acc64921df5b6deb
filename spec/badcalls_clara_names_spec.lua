-- Names and counts on the clara side (issue 11, section 2):
--   * clara and its sub-tables raise on a missing name, naming the table,
--     the name and the closest existing ones (clara.metrics.acuracy ->
--     'accuracy'), at the caller's line; the typos are generated from every
--     name each table holds;
--   * counts that would size a Lua table (folds, partitions, confusion
--     matrices) stop at clara.limits.table_elements with a message naming
--     the limit, before allocating anything.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/badcalls_clara_names_spec.lua

local torch = require "torch"
local clara = require "clara"

local POSITION = "^spec/badcalls_clara_names_spec%.lua:%d+: "

local NAMESPACES = {
  { "clara", clara, clara.SUBMODULES },
  { "clara.metrics", clara.metrics }, { "clara.losses", clara.losses }, { "clara.data", clara.data },
  { "clara.cv", clara.cv }, { "clara.transforms", clara.transforms },
  { "clara.regularizers", clara.regularizers }, { "clara.plot", clara.plot }, { "clara.stats", clara.stats },
  { "clara.report", clara.report }, { "clara.postprocess", clara.postprocess },
  { "clara.compare", clara.compare },
  { "clara.analyze", clara.analyze, { "summary", "flops", "grad_norms", "merge_hooks", "activation_stats",
                                      "activation_hook", "weight_histograms", "histogram", "plot_histograms",
                                      "load_model" } },
}

local function names_of(tbl, extra)
  local set = {}
  for k in pairs(tbl) do if type(k) == "string" and k:sub(1, 1) ~= "_" then set[k] = true end end
  for _, k in ipairs(extra or {}) do set[k] = true end
  local list = {}
  for k in pairs(set) do list[#list + 1] = k end
  table.sort(list)
  return list
end

-- three typos of a name: a letter dropped, two letters swapped, one doubled
local function typos(name)
  local i = #name // 2
  local a, b = name:sub(i, i), name:sub(i + 1, i + 1)
  return {
    name:sub(1, i - 1) .. name:sub(i + 1),
    name:sub(1, i - 1) .. b .. a .. name:sub(i + 2),
    name:sub(1, i) .. a .. name:sub(i + 1),
  }
end

local function missing(tbl, key)
  local ok, err = pcall(function()
    local v = tbl[key]
    return v
  end)
  assert.is_false(ok, "no error: " .. key .. " gave " .. tostring(err))
  assert.matches(POSITION, err)
  return err
end

local total = 0
describe("clara's namespaces raise on a missing name", function()
  for _, ns in ipairs(NAMESPACES) do
    local api, tbl = ns[1], ns[2]
    local names = names_of(tbl, ns[3])
    local known = {}
    for _, n in ipairs(names) do known[n] = true end
    for _, name in ipairs(names) do
      if #name >= 4 then
        for _, typo in ipairs(typos(name)) do
          if not known[typo] then
            total = total + 1
            it(("%s.%s (for %s)"):format(api, typo, name), function()
              local err = missing(tbl, typo)
              assert.matches(api .. "." .. typo .. " does not exist", err, 1, true)
              local near = err:match("did you mean (.*)%?%)$")
              assert.is_truthy(near, "no suggestion: " .. err)
              assert.matches("'" .. name .. "'", near, 1, true)
            end)
          end
        end
      end
    end
    total = total + 1
    it(api .. ".zq_nothing_like_it names nothing", function()
      local err = missing(tbl, "zq_nothing_like_it")
      assert.matches(api .. ".zq_nothing_like_it does not exist$", err)
    end)
  end

  it("the issue's examples", function()
    assert.matches("clara.metrics.acuracy does not exist (did you mean 'accuracy'?)",
      missing(clara.metrics, "acuracy"), 1, true)
    assert.matches("clara.losses.crossentropy does not exist (did you mean 'cross_entropy'?)",
      missing(clara.losses, "crossentropy"), 1, true)
  end)

  for _, name in ipairs { "accuracy", "top_k_accuracy", "confusion_matrix", "precision", "recall", "f1",
                          "mae", "mse", "rmse", "r2", "roc_auc", "average_precision", "log_loss",
                          "balanced_accuracy", "matthews_corrcoef" } do
    it("clara.metrics.resolve gives " .. name .. " and names it for a typo", function()
      assert.equal(clara.metrics[name], clara.metrics.resolve(name))
      local ok, err = pcall(function()
        local r = clara.metrics.resolve(name .. "x")
        return r
      end)
      assert.is_false(ok)
      assert.matches(POSITION .. "clara%.metrics%.resolve: unknown metric", err)
      assert.matches("'" .. name .. "'", err, 1, true)
    end)
  end

  it("clara.SUBMODULES lists the directory stdlib/clara", function()
    local found = {}
    local p = io.popen("cd stdlib/clara && ls *.lua */init.lua")
    for entry in p:lines() do
      local name = entry:match("^(.-)/init%.lua$") or entry:match("^(.-)%.lua$")
      if name ~= "init" then found[name] = true end
    end
    p:close()
    local listed = {}
    for _, n in ipairs(clara.SUBMODULES) do listed[n] = true end
    for n in pairs(found) do assert.is_true(listed[n] ~= nil, n .. " is not in clara.SUBMODULES") end
    for n in pairs(listed) do assert.is_true(found[n] ~= nil, n .. " is listed but not in stdlib/clara") end
  end)

  it("names Lua and busted probe stay nil", function()
    assert.is_nil(clara.__name)
    assert.is_nil(clara.metrics._VERSION)
    assert.is_nil(rawget(clara.metrics, "acuracy"))
  end)

  it("generated hundreds of cases", function() assert.is_true(total >= 300, "only " .. total) end)
end)

-- {====================== counts ======================

local LIMIT = "over the limit clara.limits.table_elements"
local COUNTS = {}
local function count_case(api, what, call) COUNTS[#COUNTS + 1] = { api, what, call } end

for e = 28, 62, 2 do
  local n = 1 << e
  count_case("clara.cv.kfold", "n = 2^" .. e, function() return clara.cv.kfold(n, { k = 2 }) end)
  count_case("clara.cv.kfold", "shuffled n = 2^" .. e, function() return clara.cv.kfold(n, { k = 5, shuffle = true, seed = 1 }) end)
  count_case("clara.cv.repeated_kfold", "n = 2^" .. e, function() return clara.cv.repeated_kfold(n, { k = 2 }) end)
  count_case("clara.cv.leave_one_out", "n = 2^" .. e .. " with max = n",
    function() return clara.cv.leave_one_out(n, { max = n }) end)
  count_case("clara.data.split", "n = 2^" .. e, function() return clara.data.split(n, { seed = 1 }) end)
  count_case("clara.data.split", "n = 2^" .. e .. " unshuffled",
    function() return clara.data.split(n, { shuffle = false }) end)
end
for e = 14, 40, 2 do
  local k = (1 << e) + 1
  for _, m in ipairs { "confusion_matrix", "precision", "recall", "f1", "balanced_accuracy", "matthews_corrcoef" } do
    count_case("clara.metrics", m .. " num_classes = 2^" .. e .. " + 1",
      function() return clara.metrics[m] { num_classes = k } end)
  end
  count_case("confusion_matrix", "a target class 2^" .. e, function()
    return clara.metrics.confusion_matrix():update(torch.tensor { 0, 1 }, torch.tensor { 1, (1 << e) })
  end)
  count_case("f1", "a predicted class 2^" .. e, function()
    return clara.metrics.f1 { average = "micro" }:update(torch.tensor { 0, (1 << e) }, torch.tensor { 1, 0 })
  end)
end
for e = 28, 60, 8 do
  for a, api in pairs { flip = "RandomFlip", noise = "Noise", shift = "RandomShift" } do
    count_case(api, "n = 2^" .. e, function()
      return clara.transforms.augment[a](a == "flip" and { n = 1 << e } or a == "noise" and { n = 1 << e, std = 0.1 }
        or { n = 1 << e, max = 1 })
    end)
  end
end
for e = 28, 60, 8 do
  count_case("clara.analyze.histogram", "bins = 2^" .. e,
    function() return clara.analyze.histogram(torch.rand(10), { bins = 1 << e }) end)
end
for r = 10, 40, 5 do
  count_case("clara.cv.repeated_kfold", "repeats = 2^" .. r .. " of 2^20",
    function() return clara.cv.repeated_kfold(1 << 20, { k = 2, repeats = 1 << r }) end)
end

describe("counts that would size a Lua table stop at clara.limits.table_elements", function()
  for i, c in ipairs(COUNTS) do
    it(("#%d %s: %s"):format(i, c[1], c[2]), function()
      local ok, err = pcall(function()
        local r = c[3]()
        return r
      end)
      assert.is_false(ok, "no error raised")
      assert.matches(POSITION, err)
      assert.matches(c[1], err, 1, true)
      assert.matches(LIMIT, err, 1, true)
      assert.matches("raise it with clara.limits.table_elements = n", err, 1, true)
    end)
  end

  it("the limit is a setting: lowered, it applies at once", function()
    local saved = clara.limits.table_elements
    clara.limits.table_elements = 100
    local ok1 = pcall(clara.cv.kfold, 100, { k = 2 })
    local ok2, err = pcall(clara.cv.kfold, 101, { k = 2 })
    local ok3 = pcall(clara.metrics.confusion_matrix, { num_classes = 10 })
    local ok4 = pcall(clara.metrics.confusion_matrix, { num_classes = 11 })
    clara.limits.table_elements = saved
    assert.is_true(ok1)
    assert.is_false(ok2)
    assert.matches("clara.limits.table_elements = 100", err, 1, true)
    assert.is_true(ok3)
    assert.is_false(ok4)
  end)

  it("the issue's examples", function()
    local ok, err = pcall(clara.cv.kfold, 1 << 62, { k = 2 })
    assert.is_false(ok)
    assert.matches("clara.cv.kfold: n (samples)", err, 1, true)
    ok, err = pcall(clara.metrics.confusion_matrix, { num_classes = 1 << 40 })
    assert.is_false(ok)
    assert.matches(LIMIT, err, 1, true)
  end)
end)
-- }=====================================================
