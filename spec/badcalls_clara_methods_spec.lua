-- Methods of the clara side called with '.' instead of ':' (issue 11,
-- section 2): every class x every public method x several wrong first
-- arguments must raise "<method> called with '.'" at the caller's line,
-- never "attempt to index a nil value (local 'self')" from inside clara.
-- The cases are generated: the methods are found by walking each object's
-- metatables, so a method added later is covered without editing this file.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/badcalls_clara_methods_spec.lua

local torch = require "torch"
local nn = require "torch.nn"
local clara = require "clara"
local D, CV, T, P, R, M = clara.data, clara.cv, clara.transforms, clara.postprocess, clara.regularizers,
  clara.metrics

local function ds() return D.TensorDataset(torch.randn(12, 3), torch.arange(12) % 3) end

-- name -> a fresh object of that class
local OBJECTS = {
  accuracy = function() return M.accuracy() end,
  top_k_accuracy = function() return M.top_k_accuracy { k = 2 } end,
  confusion_matrix = function() return M.confusion_matrix() end,
  precision = function() return M.precision() end,
  recall = function() return M.recall { average = "micro" } end,
  f1 = function() return M.f1 { average = "none" } end,
  mae = function() return M.mae() end,
  mse = function() return M.mse() end,
  rmse = function() return M.rmse() end,
  r2 = function() return M.r2() end,
  roc_auc = function() return M.roc_auc() end,
  average_precision = function() return M.average_precision() end,
  log_loss = function() return M.log_loss() end,
  balanced_accuracy = function() return M.balanced_accuracy() end,
  matthews_corrcoef = function() return M.matthews_corrcoef() end,
  from_loss = function() return M.from_loss(clara.losses.mse) end,
  DataLoader = function() return D.DataLoader(ds(), { batch_size = 4 }) end,
  TensorDataset = ds,
  Subset = function() return D.Subset(ds(), { 1, 2, 3 }) end,
  Concat = function() return D.Concat { ds(), ds() } end,
  split = function() return D.split(12, { seed = 1 }) end,
  given = function() return D.given { train = ds(), test = ds() } end,
  kfold = function() return CV.kfold(12, { k = 3 }) end,
  stratified_kfold = function() return CV.stratified_kfold({ 0, 1, 0, 1, 0, 1 }, { k = 2, seed = 1 }) end,
  repeated_kfold = function() return CV.repeated_kfold(12, { k = 3, repeats = 2, seed = 1 }) end,
  leave_one_out = function() return CV.leave_one_out(5) end,
  group_kfold = function() return CV.group_kfold({ 1, 1, 2, 2, 3, 3 }, { k = 3 }) end,
  Scale = function() return T.Scale(2) end,
  Normalize = function() return T.Normalize { mean = 0, std = 1 } end,
  Standardize = function() return T.Standardize.fit(torch.randn(5, 3)) end,
  Flatten = function() return T.Flatten() end,
  Reshape = function() return T.Reshape { 3 } end,
  Lambda = function() return T.Lambda(function(x) return x end, "id") end,
  Chain = function() return T.chain { T.Scale(2), T.Flatten() } end,
  RandomFlip = function() return T.augment.flip {} end,
  RandomCrop = function() return T.augment.random_crop { size = 2 } end,
  RandomShift = function() return T.augment.shift { max = 1 } end,
  Noise = function() return T.augment.noise { std = 0.1 } end,
  AugmentChain = function() return T.augment.chain { T.augment.flip {}, T.augment.noise { std = 0.1 } } end,
  Softmax = function() return P.Softmax() end,
  LogSoftmax = function() return P.LogSoftmax() end,
  Argmax = function() return P.Argmax() end,
  Sigmoid = function() return P.Sigmoid() end,
  Threshold = function() return P.Threshold() end,
  TopK = function() return P.TopK { k = 2 } end,
  LabelNames = function() return P.LabelNames { "a", "b" } end,
  l1 = function() return R.l1() end,
  l2 = function() return R.l2 { exclude_bias = true } end,
  activity_l1 = function() return R.activity_l1() end,
  activity_l2 = function() return R.activity_l2() end,
  entropy = function() return R.entropy() end,
  confidence_penalty = function() return R.confidence_penalty() end,
  conditional = function() return R.conditional { R.entropy(), skip_correct = true } end,
  wrap = function() return R.wrap(function() end, "Mine()") end,
  grad_norms = function() return clara.analyze.grad_norms() end,
  activation_hook = function() return clara.analyze.activation_hook() end,
  summary = function() return clara.analyze.summary(nn.Sequential(nn.Linear(3, 2)), { 3 }) end,
}

-- the public methods of obj: functions along its metatable chain (and a
-- regularizer's own apply / per_sample), not metamethods
local function methods_of(obj)
  local found, seen = {}, {}
  local function visit(t)
    if type(t) ~= "table" or seen[t] then return end
    seen[t] = true
    for k, v in pairs(t) do
      if type(k) == "string" and k:sub(1, 1) ~= "_" and type(v) == "function" then found[k] = true end
    end
    visit(rawget(t, "__index"))
    local mt = getmetatable(t)
    if mt then visit(mt); visit(rawget(mt, "__index")) end
  end
  visit(getmetatable(obj))
  if R.is_regularizer(obj) then
    for _, k in ipairs { "apply", "per_sample" } do if rawget(obj, k) then found[k] = true end end
  end
  local list = {}
  for k in pairs(found) do list[#list + 1] = k end
  table.sort(list)
  return list
end

-- what a '.' call passes as self: nothing, or the first real argument
local SELVES = {
  { "nothing", function() return nil end },
  { "a tensor", function() return torch.zeros(4, 3) end },
  { "a number", function() return 1 end },
  { "a string", function() return "train" end },
  { "a plain table", function() return {} end },
}

local names = {}
for name in pairs(OBJECTS) do names[#names + 1] = name end
table.sort(names)

local total = 0
describe("clara objects' methods called with '.'", function()
  for _, name in ipairs(names) do
    local methods = methods_of(OBJECTS[name]())
    it(name .. " has methods to check", function() assert.is_true(#methods > 0) end)
    for _, method in ipairs(methods) do
      for _, s in ipairs(SELVES) do
        total = total + 1
        it(("%s.%s(%s)"):format(name, method, s[1]), function()
          local obj = OBJECTS[name]()
          local ok, err = pcall(function()
            local r = obj[method](s[2]())
            return r
          end)
          assert.is_false(ok, "no error raised")
          assert.equal("string", type(err))
          assert.matches("called with '.'", err, 1, true)
          assert.matches(":" .. method .. "(", err, 1, true)
          assert.matches("^spec/badcalls_clara_methods_spec%.lua:%d+: ", err)
        end)
      end
    end
  end
  it("generated hundreds of cases", function() assert.is_true(total >= 500, "only " .. total) end)
end)
