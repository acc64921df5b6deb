-- The loss modules (nn.CrossEntropyLoss ...): one for every clara loss,
-- each equal to its function on every fixture case of spec/fixtures/
-- losses.lua and losses_parity.lua (so PyTorch's values and gradients too);
-- printing and state_dict as PyTorch's; options checked at construction;
-- used as an experiment's objective, a term's loss and a metric.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/loss_modules_spec.lua

local torch = require "torch"
local losses = require "clara.losses"
local fixture = require "spec.helpers.loss_cases"
local badcalls = require "spec.helpers.badcalls"

local NAMES = {
  "CrossEntropyLoss", "NLLLoss", "CTCLoss", "MultiMarginLoss", "MultiLabelMarginLoss", "BCELoss",
  "BCEWithLogitsLoss", "SoftMarginLoss", "MultiLabelSoftMarginLoss", "MSELoss", "L1Loss", "SmoothL1Loss",
  "HuberLoss", "KLDivLoss", "PoissonNLLLoss", "GaussianNLLLoss", "MarginRankingLoss", "HingeEmbeddingLoss",
  "CosineEmbeddingLoss", "TripletMarginLoss", "TripletMarginWithDistanceLoss",
}

-- clara loss name -> module class
local class_of = {}
for _, name in ipairs(NAMES) do
  local class = nn[name]
  class_of[rawget(class(), "_loss")] = class
end

local function module_of(fn_name)
  local entry = losses.info[fn_name]
  if not entry then
    for _, e in pairs(losses.info) do if e.torch_name == fn_name then entry = e end end
  end
  return class_of[entry.name]
end

describe("loss modules", function()
  it("exist for every clara loss", function()
    local n = 0
    for name in pairs(losses.info) do
      n = n + 1
      assert.is_table(class_of[name], "no module for " .. name)
      assert.equal(name, losses.info[name].name)
    end
    assert.equal(#NAMES, n)
  end)

  for _, file in ipairs { "losses", "losses_parity" } do
    for _, c in ipairs(dofile("spec/fixtures/" .. file .. ".lua")) do
      it("equal their function: " .. c.id, function()
        local args, opts = fixture.inputs(c)
        local want = fixture.call(c, losses[c.fn], args, opts)
        local crit = module_of(c.fn)(opts)
        local got = fixture.call(c, crit, args)
        assert.same(want:totable(), got:totable())
        fixture.check(c, got, args)
      end)
    end
  end
end)

describe("loss modules print and save as PyTorch's", function()
  it("print as PyTorch prints them, whatever their options", function()
    for _, name in ipairs(NAMES) do
      if name ~= "TripletMarginWithDistanceLoss" then assert.equal(name .. "()", tostring(nn[name]())) end
    end
    assert.equal("CrossEntropyLoss()", tostring(nn.CrossEntropyLoss { label_smoothing = 0.1, weight = torch.ones(3) }))
    assert.equal("TripletMarginWithDistanceLoss(\n  (distance_function): PairwiseDistance()\n)",
      tostring(nn.TripletMarginWithDistanceLoss()))
    local l1 = function(a, b) return (a - b):abs():sum(-1) end
    assert.equal("TripletMarginWithDistanceLoss()", tostring(nn.TripletMarginWithDistanceLoss { distance_function = l1 }))
  end)

  it("keep tensor options as buffers, in state_dict and set by load_state_dict", function()
    local function keys(m)
      local list = {}
      for k in pairs(m:state_dict()) do list[#list + 1] = k end
      table.sort(list)
      return list
    end
    -- PyTorch 1.13's keys (None buffers are left out)
    assert.same({}, keys(nn.CrossEntropyLoss()))
    assert.same({ "weight" }, keys(nn.CrossEntropyLoss { weight = torch.ones(3) }))
    assert.same({ "pos_weight" }, keys(nn.BCEWithLogitsLoss { pos_weight = torch.ones(3) }))
    assert.same({ "pos_weight", "weight" }, keys(nn.BCEWithLogitsLoss { pos_weight = torch.ones(3), weight = torch.ones(3) }))
    assert.same({ "weight" }, keys(nn.MultiMarginLoss { weight = torch.ones(3) }))
    assert.same({ "weight" }, keys(nn.MultiLabelSoftMarginLoss { weight = torch.ones(3) }))
    assert.same({}, keys(nn.TripletMarginWithDistanceLoss()))
    local crit = nn.NLLLoss { weight = torch.ones(3) }
    local x, y = torch.randn(4, 3):log_softmax(2), torch.tensor { 0, 1, 2, 2 }
    local w = torch.tensor { 0.5, 2.0, 1.0 }
    crit:load_state_dict { weight = w }
    assert.equal(losses.nll(x, y, { weight = w }):item(), crit(x, y):item())
  end)

  it("take a module as distance_function, as a child", function()
    local Dist = nn.Module:extend("L1Distance")
    function Dist:forward(a, b) return (a - b):abs():sum(-1) end
    local crit = nn.TripletMarginWithDistanceLoss { distance_function = Dist(), margin = 0.5 }
    assert.equal("TripletMarginWithDistanceLoss(\n  (distance_function): L1Distance()\n)", tostring(crit))
    local a, p, n = torch.randn(5, 3), torch.randn(5, 3), torch.randn(5, 3)
    local l1 = function(u, v) return (u - v):abs():sum(-1) end
    local want = losses.triplet_margin_with_distance(a, p, n, { distance_function = l1, margin = 0.5 })
    assert.equal(want:item(), crit(a, p, n):item())
    assert.equal(want:item(), crit({ a, p, n }):item())
  end)

  it("are described by clara.losses as their loss", function()
    assert.equal(losses.describe("cross_entropy"), losses.describe(nn.CrossEntropyLoss()))
    assert.equal("embedding", losses.kind_of(nn.CosineEmbeddingLoss()))
    local crit = nn.HuberLoss()
    assert.equal(crit, losses.resolve(crit))
  end)
end)

describe("loss modules in training", function()
  local function data(n, seed)
    torch.manual_seed(seed)
    local x = torch.randn(n, 4)
    local y = (x[{ {}, 1 }] + x[{ {}, 2 }]):gt(0):long()
    return clara.data.TensorDataset(x, y)
  end

  local function run(over)
    local spec = {
      data = { train = data(96, 1), val = data(48, 2) },
      model = function() return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2)) end,
      objective = losses.cross_entropy,
      optimizer = function(m) return optim.SGD(m, { lr = 0.2 }) end,
      batch_size = 16, epochs = 2, seed = 1, verbose = false, out_dir = false,
    }
    for k, v in pairs(over) do spec[k] = v end
    return clara.experiment(spec):run()
  end

  it("serve as an objective, a term's loss and a metric, as their function does", function()
    local opts = { label_smoothing = 0.1 }
    local fn = function(o, t) return losses.cross_entropy(o, t, opts) end
    local want = run { objective = fn, metrics = { ce = clara.metrics.from_loss(fn) } }
    local crit = nn.CrossEntropyLoss(opts)
    local got = run { objective = crit, metrics = { ce = clara.metrics.from_loss(crit) } }
    local term = run { objective = { terms = { { name = "ce", loss = crit } } } }
    local fast = run { objective = crit, metrics = { ce = clara.metrics.from_loss(crit) }, impl = "fast" }
    for e = 1, 2 do
      assert.is_number(got.history[e].val_ce)
      assert.equal(got.history[e].val_ce, fast.history[e].val_ce)
      assert.equal(got.history[e].train_loss, fast.history[e].train_loss)
      assert.equal(want.history[e].train_loss, got.history[e].train_loss)
      assert.equal(want.history[e].val_loss, got.history[e].val_loss)
      assert.equal(want.history[e].val_ce, got.history[e].val_ce)
      assert.equal(want.history[e].train_loss, term.history[e].train_loss)
    end
  end)
end)

local function x43() return torch.randn(4, 3) end
local function y4() return torch.tensor { 0, 2, 1, 2 } end

describe("bad loss modules", function()
  badcalls({
    { "a misspelt option", "nn.CrossEntropyLoss", "unknown option 'label_smothing' (did you mean 'label_smoothing'?)",
      function() local r = nn.CrossEntropyLoss { label_smothing = 0.1 } return r end },
    { "an option of another loss", "nn.MSELoss", "unknown option 'margin'",
      function() local r = nn.MSELoss { margin = 1 } return r end },
    { "a bad reduction", "nn.L1Loss", "reduction must be one of 'mean', 'sum', 'none', got 'avg'",
      function() local r = nn.L1Loss { reduction = "avg" } return r end },
    { "KLDivLoss with batchmean is fine, with a typo not", "nn.KLDivLoss", "must be one of 'mean', 'batchmean'",
      function() nn.KLDivLoss { reduction = "batchmean" } local r = nn.KLDivLoss { reduction = "batch" } return r end },
    { "a weight that is not a tensor", "nn.NLLLoss", "weight must be a tensor, got",
      function() local r = nn.NLLLoss { weight = { 1, 2, 3 } } return r end },
    { "a positional weight, as PyTorch's first argument", "nn.CrossEntropyLoss", "options must be a table, got a tensor",
      function() local r = nn.CrossEntropyLoss(torch.ones(3)) return r end },
    { "MultiMarginLoss with p = 3", "nn.MultiMarginLoss", "p must be one of 1, 2, got 3",
      function() local r = nn.MultiMarginLoss { p = 3 } return r end },
    { "label_smoothing out of range", "nn.CrossEntropyLoss", "label_smoothing must be <= 1, got 2",
      function() local r = nn.CrossEntropyLoss { label_smoothing = 2 } return r end },
    { "HuberLoss with delta 0", "nn.HuberLoss", "delta must be > 0, got 0",
      function() local r = nn.HuberLoss { delta = 0 } return r end },
    { "CTCLoss with lengths at construction", "nn.CTCLoss", "unknown option 'input_lengths'",
      function() local r = nn.CTCLoss { input_lengths = { 3 } } return r end },
    { "a distance that is not callable", "nn.TripletMarginWithDistanceLoss", "distance_function must be a callable",
      function() local r = nn.TripletMarginWithDistanceLoss { distance_function = "l1" } return r end },
    { "options at the call", "nn.CrossEntropyLoss", "takes at most 2 inputs (input, target), got 3",
      function() local crit = nn.CrossEntropyLoss() local r = crit(x43(), y4(), { reduction = "sum" }) return r end },
    { "CTCLoss with input_lengths but no target_lengths", "nn.CTCLoss", "takes 2 or 4 inputs",
      function()
        local crit = nn.CTCLoss()
        local r = crit(torch.randn(5, 2, 3):log_softmax(3), torch.ones(2, 2, { dtype = "int64" }), { 5, 5 })
        return r
      end },
    { "forward with '.'", "nn.MSELoss", "forward called with '.'",
      function() local crit = nn.MSELoss() local r = crit.forward(x43(), x43()) return r end },
    { "a bad target through the module", "cross_entropy", "target holds class 3, outside [0, 3)",
      function() local crit = nn.CrossEntropyLoss() local r = crit(x43(), torch.tensor { 0, 3, 1, 1 }) return r end },
    { "an unknown loss module", "nn.CrossEntropyLos", "did you mean 'CrossEntropyLoss'",
      function() local r = nn.CrossEntropyLos() return r end },
  }, { position = "^spec/loss_modules_spec%.lua:%d+: " })
end)
