-- Options tables of the clara side (issue 11, section 2): every options
-- table rejects unknown keys (naming the closest), ill-typed values, NaN and
-- values out of range, with a message naming the API and the key, at the
-- caller's line.  The corpus is generated from the table of APIs below: for
-- each key of each API, values of the wrong kinds, NaN and out-of-range
-- values; for each API misspelt keys, an unknown key and non-table options.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/badcalls_clara_options_spec.lua

local torch = require "torch"
local nn = require "torch.nn"
local clara = require "clara"
local D, CV, T, P, R, M, L = clara.data, clara.cv, clara.transforms, clara.postprocess, clara.regularizers,
  clara.metrics, clara.losses

local function ds() return D.TensorDataset(torch.randn(12, 3), torch.arange(12) % 3) end
local function x43() return torch.rand(4, 3) end

-- key kinds: { kind, min =, max =, gt =, lt = } (bounds inclusive / exclusive)
local BOOL, STRING, TABLE, FUNC, TENSOR = { "bool" }, { "string" }, { "table" }, { "function" }, { "tensor" }
local COUNT = { "int", min = 1 }
local INT = { "int" }
local STAT = { "stat" } -- a number, a list or a tensor
local function enum(...) return { "enum", values = { ... } } end
local function num(bounds) bounds = bounds or {}; bounds[1] = "num"; return bounds end
local REDUCTION = enum("mean", "sum", "none")

local CLASS = { num_classes = COUNT, threshold = num { min = 0, max = 1 }, logits = BOOL, name = STRING }

-- { api (as messages name it), call(opts), keys }
local APIS = {
  { "DataLoader", function(o) return D.DataLoader(ds(), o) end,
    { batch_size = COUNT, shuffle = BOOL, seed = INT, drop_last = BOOL, collate = FUNC, impl = enum("fast", "clear") } },
  { "clara.data.split", function(o) return D.split(12, o) end,
    { ratios = TABLE, counts = TABLE, seed = INT, names = TABLE, shuffle = BOOL } },
  { "clara.cv.kfold", function(o) return CV.kfold(12, o) end, { k = { "int", min = 2 }, shuffle = BOOL, seed = INT } },
  { "clara.cv.stratified_kfold", function(o) return CV.stratified_kfold({ 0, 1, 0, 1, 0, 1 }, o) end,
    { k = { "int", min = 2 }, shuffle = BOOL, seed = INT } },
  { "clara.cv.group_kfold", function(o) return CV.group_kfold({ 1, 1, 2, 2, 3, 3 }, o) end,
    { k = { "int", min = 2 }, shuffle = BOOL, seed = INT } },
  { "clara.cv.repeated_kfold", function(o) return CV.repeated_kfold(12, o) end,
    { k = { "int", min = 2 }, repeats = COUNT, seed = INT } },
  { "clara.cv.leave_one_out", function(o) return CV.leave_one_out(5, o) end, { max = { "int", min = 2 } } },
  { "clara.metrics.confusion_matrix", function(o) return M.confusion_matrix(o) end, CLASS },
  { "clara.metrics.matthews_corrcoef", function(o) return M.matthews_corrcoef(o) end, CLASS },
  { "clara.metrics.roc_auc", function(o) return M.roc_auc(o) end,
    { multi_class = enum("ovr", "ovo"), average = enum("macro", "weighted", "micro", "samples", "none"),
      logits = BOOL, name = STRING } },
  { "clara.metrics.average_precision", function(o) return M.average_precision(o) end,
    { average = enum("macro", "weighted", "micro", "samples", "none"), logits = BOOL, name = STRING } },
  { "clara.metrics.log_loss", function(o) return M.log_loss(o) end,
    { eps = num { min = 0, lt = 0.5 }, logits = BOOL, name = STRING } },
  { "clara.metrics.top_k_accuracy", function(o) return M.top_k_accuracy(o) end,
    { k = COUNT, num_classes = COUNT, name = STRING } },
  { "clara.metrics.r2", function(o) return M.r2(o) end,
    { multioutput = enum("uniform_average", "raw_values", "variance_weighted"), name = STRING } },
  { "clara.metrics.from_loss", function(o) return M.from_loss(L.mse, o) end,
    { reduction = enum("mean", "sum"), name = STRING } },
  { "clara.regularizers.l1", function(o) return R.l1(o) end, { params = TABLE, exclude_bias = BOOL, filter = FUNC } },
  { "clara.regularizers.l2", function(o) return R.l2(o) end, { params = TABLE, exclude_bias = BOOL, filter = FUNC } },
  { "clara.regularizers.activity_l1", function(o) return R.activity_l1(o) end, { reduction = enum("mean", "sum") } },
  { "clara.regularizers.activity_l2", function(o) return R.activity_l2(o) end, { reduction = enum("mean", "sum") } },
  { "clara.regularizers.entropy", function(o) return R.entropy(o) end,
    { from = enum("logits", "probs", "log_probs"), reduction = enum("mean", "sum") } },
  { "clara.regularizers.confidence_penalty", function(o) return R.confidence_penalty(o) end,
    { from = enum("logits", "probs", "log_probs"), reduction = enum("mean", "sum") } },
  { "clara.regularizers.conditional", function(o)
      local full = { R.entropy(), skip_correct = true }
      for k, v in pairs(o) do full[k] = v end
      return R.conditional(full)
    end, { skip_correct = BOOL, below_loss = num(), threshold = num { min = 0, max = 1 }, logits = BOOL },
    table_only = true },
  { "Normalize", function(o) return T.Normalize(o) end, { mean = STAT, std = STAT } },
  { "Standardize", function(o) return T.Standardize(o) end, { mean = STAT, std = STAT } },
  { "Flatten", function(o) return T.Flatten(o) end, { start_dim = INT } },
  { "RandomFlip", function(o) return T.augment.flip(o) end,
    { p = num { min = 0, max = 1 }, dim = INT, n = { "int", min = 0 }, keep_original = BOOL } },
  { "Noise", function(o) return T.augment.noise(o) end,
    { std = num { min = 0 }, n = { "int", min = 0 }, keep_original = BOOL } },
  { "RandomShift", function(o) return T.augment.shift(o) end, { n = { "int", min = 0 }, keep_original = BOOL } },
  { "Softmax", function(o) return P.Softmax(o) end, { dim = INT } },
  { "LogSoftmax", function(o) return P.LogSoftmax(o) end, { dim = INT } },
  { "Argmax", function(o) return P.Argmax(o) end, { dim = INT } },
  { "Threshold", function(o) return P.Threshold(o) end, { value = num() } },
  { "TopK", function(o) return P.TopK(o) end, { k = COUNT, dim = INT } },
  { "clara.analyze.summary", function(o) return clara.analyze.summary(nn.Sequential(nn.Linear(3, 2)), { 3 }, o) end,
    { batch = COUNT } },
  { "clara.analyze.grad_norms", function(o) return clara.analyze.grad_norms(o) end, { every = COUNT } },
  { "clara.analyze.activation_hook", function(o) return clara.analyze.activation_hook(o) end, { every = COUNT } },
  { "clara.analyze.weight_histograms", function(o)
      return clara.analyze.weight_histograms(nn.Sequential(nn.Linear(3, 2)), o)
    end, { bins = COUNT } },
  { "clara.compare", function(o) return clara.compare({}, o) end,
    { metric = { "strtab" }, alpha = num { gt = 0, lt = 1 }, mode = enum("max", "min"), names = TABLE, plots = BOOL } },
}

for _, score in ipairs { "precision", "recall", "f1", "accuracy", "balanced_accuracy" } do
  local keys = { precision = true, recall = true, f1 = true }
  keys = keys[score] and { average = enum("macro", "micro", "weighted", "none", "binary"),
                           zero_division = num { min = 0, max = 1 } }
    or score == "balanced_accuracy" and { adjusted = BOOL } or {}
  for k, v in pairs(CLASS) do keys[k] = v end
  keys.top_k = COUNT
  APIS[#APIS + 1] = { "clara.metrics." .. score, function(o) return M[score](o) end, keys }
end
for _, name in ipairs { "mae", "mse", "rmse" } do
  APIS[#APIS + 1] = { "clara.metrics." .. name, function(o) return M[name](o) end, { name = STRING } }
end

-- the losses, called as PyTorch's functions with inputs of the right kind
local y4 = function() return torch.tensor { 0, 2, 1, 2 } end
local LOSSES = {
  cross_entropy = { function(o) return L.cross_entropy(x43(), y4(), o) end,
    { weight = TENSOR, ignore_index = INT, reduction = REDUCTION, label_smoothing = num { min = 0, max = 1 } } },
  nll_loss = { function(o) return L.nll(x43():log(), y4(), o) end,
    { weight = TENSOR, ignore_index = INT, reduction = REDUCTION } },
  binary_cross_entropy = { function(o) return L.bce(x43(), x43(), o) end, { weight = TENSOR, reduction = REDUCTION } },
  binary_cross_entropy_with_logits = { function(o) return L.bce_with_logits(x43(), x43(), o) end,
    { weight = TENSOR, pos_weight = TENSOR, reduction = REDUCTION } },
  soft_margin_loss = { function(o) return L.soft_margin(x43(), x43(), o) end, { reduction = REDUCTION } },
  mse_loss = { function(o) return L.mse(x43(), x43(), o) end, { reduction = REDUCTION } },
  l1_loss = { function(o) return L.l1(x43(), x43(), o) end, { reduction = REDUCTION } },
  smooth_l1_loss = { function(o) return L.smooth_l1(x43(), x43(), o) end,
    { beta = num { min = 0 }, reduction = REDUCTION } },
  huber_loss = { function(o) return L.huber(x43(), x43(), o) end, { delta = num { gt = 0 }, reduction = REDUCTION } },
  kl_div = { function(o) return L.kl_div(x43(), x43(), o) end,
    { log_target = BOOL, reduction = enum("mean", "batchmean", "sum", "none") } },
  poisson_nll_loss = { function(o) return L.poisson_nll(x43(), x43(), o) end,
    { log_input = BOOL, full = BOOL, eps = num { min = 0 }, reduction = REDUCTION } },
  gaussian_nll_loss = { function(o) return L.gaussian_nll({ x43(), x43() }, x43(), o) end,
    { full = BOOL, eps = num { min = 0 }, reduction = REDUCTION } },
  margin_ranking_loss = { function(o) return L.margin_ranking({ torch.rand(4), torch.rand(4) }, torch.ones(4), o) end,
    { margin = num(), reduction = REDUCTION } },
  hinge_embedding_loss = { function(o) return L.hinge_embedding(x43(), torch.ones(4, 3), o) end,
    { margin = num(), reduction = REDUCTION } },
  cosine_embedding_loss = { function(o) return L.cosine_embedding({ x43(), x43() }, torch.ones(4), o) end,
    { margin = num(), reduction = REDUCTION } },
  triplet_margin_loss = { function(o) return L.triplet_margin({ x43(), x43(), x43() }, o) end,
    { margin = num(), p = num { gt = 0 }, eps = num(), swap = BOOL, reduction = REDUCTION } },
}
for api, l in pairs(LOSSES) do APIS[#APIS + 1] = { api, l[1], l[2] } end
table.sort(APIS, function(a, b) return a[1] < b[1] end)

-- {====================== the generator ======================

local NAN = 0 / 0

-- { what, value, what the message says } for a key of kind spec
local function bad_values(key, spec)
  local out = {}
  local function add(what, v, says) out[#out + 1] = { what, v, says or (key .. " must be") } end
  local kind = spec[1]
  if kind ~= "bool" then add("a boolean", true) end
  if kind ~= "string" and kind ~= "enum" and kind ~= "strtab" then add("a string", "3") end
  if kind ~= "table" and kind ~= "stat" and kind ~= "strtab" then add("a plain table", {}) end
  if kind == "table" or kind == "function" or kind == "string" or kind == "bool" or kind == "tensor"
     or kind == "strtab" then
    add("a number", 1)
  end
  add("NaN", NAN, kind == "num" and (key .. " must be a number, got nan") or "got nan")
  if kind == "int" then
    add("a fraction", 2.5)
    add("infinity", math.huge)
    if spec.min then add("below the minimum", spec.min - 1, ("%s must be >= %d"):format(key, spec.min)) end
  elseif kind == "num" then
    if spec.min then add("below the minimum", spec.min - 0.5, ("%s must be >= %s"):format(key, spec.min)) end
    if spec.max then add("above the maximum", spec.max + 0.5, ("%s must be <= %s"):format(key, spec.max)) end
    if spec.gt then
      add("at the exclusive bound", spec.gt, ("%s must be > %s"):format(key, spec.gt))
      add("below the exclusive bound", spec.gt - 1, ("%s must be > %s"):format(key, spec.gt))
    end
    if spec.lt then add("at the upper exclusive bound", spec.lt, ("%s must be < %s"):format(key, spec.lt)) end
  elseif kind == "enum" then
    add("a value not allowed", "zzz", key .. " must be one of")
    add("a number", 1, key .. " must be")
  end
  return out
end

-- a key with one letter dropped (or doubled, for one-letter keys)
local function misspell(key)
  if #key <= 2 then return key .. key:sub(-1) end
  local i = #key // 2 + 1
  return key:sub(1, i - 1) .. key:sub(i + 1)
end

local function sorted_keys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  table.sort(ks)
  return ks
end

-- }===========================================================

local POSITION = "^spec/badcalls_clara_options_spec%.lua:%d+: "

local function raises(call, opts, ...)
  local ok, err = pcall(function()
    local r = call(opts)
    return r
  end)
  assert.is_false(ok, "no error raised")
  assert.equal("string", type(err))
  assert.matches(POSITION, err)
  for _, s in ipairs { ... } do assert.matches(s, err, 1, true) end
  return err
end

local total = 0
describe("options tables of the clara side", function()
  for _, a in ipairs(APIS) do
    local api, call, keys = a[1], a[2], a[3]
    for _, key in ipairs(sorted_keys(keys)) do
      for _, b in ipairs(bad_values(key, keys[key])) do
        total = total + 1
        it(("%s: %s = %s"):format(api, key, b[1]), function()
          raises(call, { [key] = b[2] }, api, b[3])
        end)
      end
      local wrong = misspell(key)
      if keys[wrong] == nil then
        total = total + 1
        it(("%s: the misspelt key %s"):format(api, wrong), function()
          raises(call, { [wrong] = 1 }, api, "unknown option '" .. wrong .. "'", "did you mean", key)
        end)
      end
    end
    total = total + 1
    it(api .. ": an unknown key", function()
      raises(call, { qqq_zzz = 1 }, api, "unknown option 'qqq_zzz'")
    end)
    if not a.table_only then
      for _, v in ipairs { 5, "x", true } do
        total = total + 1
        it(("%s: options %s"):format(api, type(v)), function()
          local ok, err = pcall(function()
            local r = call(v)
            return r
          end)
          assert.is_false(ok)
          assert.matches(POSITION, err)
          assert.matches(api, err, 1, true)
          assert.matches("must be a table", err, 1, true)
        end)
      end
    end
  end
  it("generated hundreds of cases", function() assert.is_true(total >= 600, "only " .. total) end)
end)
