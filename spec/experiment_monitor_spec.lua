-- `monitor` must name a column the run will produce, checked once before
-- the first step.  A generated corpus of experiments (validation data or
-- not, metric sets, training metrics on or off, one loss or several terms
-- and a regularizer): the columns a real run writes are the oracle; each
-- one is accepted as monitor (and the best epoch found on it), and names
-- no run produces are refused before any batch, listing the columns.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/experiment_monitor_spec.lua
local torch = require "torch"
local clara = require "clara"
local L, M, R = clara.losses, clara.metrics, clara.regularizers

local function data(n, seed)
  torch.manual_seed(seed)
  return clara.data.TensorDataset(torch.randn(n, 3), torch.randint(0, 2, { n }))
end
local TRAIN, VAL = data(8, 1), data(8, 2)

local METRIC_SETS = {
  {},
  { acc = M.accuracy },
  { acc = M.accuracy, cm = M.confusion_matrix },
  { f1 = function() return M.f1 { num_classes = 2 } end, top = M.accuracy },
}
local OBJECTIVES = {
  L.cross_entropy,
  { terms = { { name = "ce", loss = L.cross_entropy }, { name = "aux", loss = L.cross_entropy, weight = 0.5 } },
    regularizer = R.l2 {}, reg_weight = 1e-3 },
}

local function spec_of(cfg)
  return {
    data = cfg.val and { train = TRAIN, val = VAL } or TRAIN, metrics = cfg.metrics, objective = cfg.objective,
    train_metrics = cfg.train_metrics, model = function() return nn.Linear(3, 2) end,
    optimizer = function(m) return optim.SGD(m, { lr = 0.1 }) end,
    epochs = 1, batch_size = 4, seed = 1, verbose = false, out_dir = false,
  }
end

local configs = {}
for _, val in ipairs { false, true } do
  for _, metrics in ipairs(METRIC_SETS) do
    for _, train_metrics in ipairs { true, false } do
      for _, obj in ipairs(OBJECTIVES) do
        configs[#configs + 1] = { val = val, metrics = metrics, train_metrics = train_metrics, objective = obj }
      end
    end
  end
end

-- names that look like columns but that no run of cfg produces
local function wrong_names(cfg, columns)
  local have = {}
  for _, c in ipairs(columns) do have[c] = true end
  local out = {}
  for _, n in ipairs { "val_accuracy", "accuracy", "loss", "val_acc", "train_acc", "val_cm", "train_cm",
                       "train_los", "Val_loss", "val_loss ", "", "test_loss", "val_f1", "train_reg", "val_aux_w" } do
    if not have[n] then out[#out + 1] = n end
  end
  return out
end

local accepted, refused = 0, 0
describe("monitor is checked against the columns the run produces", function()
  it(("over %d generated experiments"):format(#configs), function()
    local failures = {}
    for i, cfg in ipairs(configs) do
      -- 1. the oracle: the columns of a real run's history
      local r = clara.experiment(spec_of(cfg)):run()
      local columns = {}
      for k, v in pairs(r.history[1]) do if type(v) == "number" then columns[#columns + 1] = k end end
      table.sort(columns)
      -- 2. each column is a monitor the run accepts and finds a best epoch on
      for _, col in ipairs(columns) do
        local s = spec_of(cfg)
        s.monitor = col
        local ok, res = pcall(function() return clara.experiment(s):run() end)
        accepted = accepted + 1
        if not ok then failures[#failures + 1] = ("config %d: monitor %s refused: %s"):format(i, col, tostring(res))
        elseif not (res.best and res.best.monitor == col and res.best.value == res.history[1][col]) then
          failures[#failures + 1] = ("config %d: monitor %s: no best epoch"):format(i, col)
        end
      end
      -- 3. every other name is refused before the first batch, listing the columns
      for _, name in ipairs(wrong_names(cfg, columns)) do
        local s, batches = spec_of(cfg), 0
        s.monitor = name
        s.hooks = { on_batch_start = function() batches = batches + 1 end }
        local ok, err = pcall(function() return clara.experiment(s):run() end)
        refused = refused + 1
        local why
        if ok then why = "accepted"
        elseif batches > 0 then why = "refused only after training began"
        elseif not tostring(err):find("^[^\n]*experiment_monitor_spec%.lua:%d+: clara%.experiment: monitor") then
          why = "not at the caller's line: " .. tostring(err)
        elseif not err:find("its columns: " .. table.concat(columns, ", "), 1, true) then
          why = "does not list the columns: " .. err
        elseif not cfg.val and name:sub(1, 4) == "val_" and not err:find("no validation data", 1, true) then
          why = "does not say there is no validation data: " .. err
        end
        if why then failures[#failures + 1] = ("config %d: monitor %q: %s"):format(i, name, why) end
      end
    end
    assert.is_true(accepted + refused >= 300, "the corpus shrank")
    assert.are.equal(0, #failures, ("%d of %d cases fail:\n"):format(#failures, accepted + refused)
      .. table.concat(failures, "\n"))
  end)

  it("mode must be 'min' or 'max'; patience and min_delta are checked too", function()
    local s = spec_of(configs[1])
    for _, bad in ipairs { { mode = "sideways" }, { mode = 1 }, { patience = 0 }, { patience = "x" },
                           { min_delta = "x" }, { min_delta = 0 / 0 }, { min_delta = -1 } } do
      local k, v = next(bad)
      local t = {}
      for a, b in pairs(s) do t[a] = b end
      t[k] = v
      local ok, err = pcall(clara.experiment, t)
      assert.is_false(ok, k)
      assert.matches("experiment_monitor_spec%.lua:%d+: clara%.experiment: " .. k .. " must be", err)
    end
  end)
end)
