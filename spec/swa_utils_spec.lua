-- optim.swa_utils against PyTorch 1.13 (spec/fixtures/sched_parity.lua,
-- written by tests/fixtures/make_sched_parity.py): AveragedModel (SWA, EMA,
-- use_buffers) over several updates, its state_dict keys and round trip,
-- update_bn's running statistics, SWALR's lr sequences; bad calls.
-- Everything bitwise: averaged values, update_bn's statistics and the
-- outputs are the same float32 libtorch operations in PyTorch's order, the
-- lrs the same double arithmetic.
--   ./clara /usr/bin/busted -o plainTerminal spec/swa_utils_spec.lua

local torch = require "torch"
local nn = require "torch.nn"
local optim = require "torch.optim"
local swa_utils = optim.swa_utils

local fixture = dofile("spec/fixtures/sched_parity.lua")

local P = require "spec.helpers.parity"
local T, assert_same, expect_error = P.T, P.assert_same, P.expect_error
local sorted_keys = P.sorted_keys

local function state(sd)
  local t = {}
  for k, v in pairs(sd) do t[k] = T(v) end
  return t
end

local function make(lua)
  local env = setmetatable({ nn = nn, torch = torch, swa_utils = swa_utils }, { __index = _G })
  return assert(load("return " .. lua, "=" .. lua, "t", env))()
end

-- the case's model with the case's initial state
local function model_of(c)
  local model = make(c.model)
  model:load_state_dict(state(c.initial))
  return model
end

describe("swa_utils.AveragedModel against PyTorch", function()
  it("has the cases", function() assert.is_true(#fixture.swa >= 6) end)
  for _, c in ipairs(fixture.swa) do
    it(c.name, function()
      local model = model_of(c)
      local avg = swa_utils.AveragedModel(model, make(c.opts))
      for _, sd in ipairs(c.states) do
        model:load_state_dict(state(sd))
        avg:update_parameters(model)
      end
      avg:eval()
      local sd = avg:state_dict()
      local keys = {}
      for i, k in ipairs(c.keys) do keys[i] = k end
      table.sort(keys)
      assert.are.same(keys, sorted_keys(sd))
      for k, v in pairs(c.averaged) do assert_same(T(v), sd[k], k) end
      assert_same(T(c.output), avg(T(c.input)), "output")
      assert.are.equal(c.repr, tostring(avg))
    end)
  end

  it("loads PyTorch's state_dict and leaves the model alone", function()
    local c = fixture.swa[1]
    local model = model_of(c)
    local avg = swa_utils.AveragedModel(model)
    avg:load_state_dict(state(c.averaged))
    assert.are.equal(#c.states, avg.n_averaged:item())
    avg:eval()
    assert_same(T(c.output), avg(T(c.input)), "output")
    for k, v in pairs(c.initial) do assert_same(T(v), model:state_dict()[k], k) end
  end)

  it("trains a model and averages it", function()
    local model = nn.Linear(2, 1)
    local avg = swa_utils.AveragedModel(model)
    local opt = optim.SGD(model, { lr = 0.1 })
    local sum = torch.zeros(1, 2)
    for _ = 1, 3 do
      opt:zero_grad()
      model(torch.ones(4, 2)):sum():backward()
      opt:step()
      avg:update_parameters(model)
      sum = sum + model.weight:detach()
    end
    assert.is_true(torch.allclose(avg.module.weight, sum / 3, { rtol = 1e-6 }))
    assert.is_nil(avg.module.weight.grad)
  end)

  it("gives the EMA formula by swa_utils.ema", function()
    local f = swa_utils.ema(0.75)
    assert.are.equal(0.75 * 4 + 0.25 * 8, f(torch.tensor(4.0), torch.tensor(8.0), 3):item())
  end)

  it("rejects bad calls", function()
    local m = nn.Linear(2, 1)
    expect_error("optim.swa_utils.AveragedModel: expected a model", swa_utils.AveragedModel, torch.ones(1))
    expect_error("optim.swa_utils.AveragedModel: give avg_fn or ema, not both", swa_utils.AveragedModel, m,
      { ema = 0.9, avg_fn = swa_utils.ema(0.9) })
    expect_error("optim.swa_utils.AveragedModel: ema must be <= 1", swa_utils.AveragedModel, m, { ema = 2 })
    expect_error("did you mean 'use_buffers'", swa_utils.AveragedModel, m, { use_buffer = true })
    expect_error("optim.swa_utils.ema: decay must be a number in [0, 1]", swa_utils.ema, -1)
    local avg = swa_utils.AveragedModel(m)
    expect_error("optim.swa_utils.AveragedModel:update_parameters: the model has 1 tensors to average, the averaged copy 2",
      function() avg:update_parameters(nn.Linear(2, 1, { bias = false })) end)
    expect_error("tensor 1 has shape (1, 3) in the model, (1, 2) in the averaged copy",
      function() avg:update_parameters(nn.Linear(3, 1)) end)
    expect_error("optim.swa_utils.AveragedModel:update_parameters: expected a model",
      function() avg:update_parameters({}) end)
    local bad = swa_utils.AveragedModel(m, { avg_fn = function() return 1 end })
    bad:update_parameters(m)
    expect_error("avg_fn returned 1, not a tensor", function() bad:update_parameters(m) end)
    expect_error("update_parameters", function() return avg.update_parameters(m) end)
  end)
end)

describe("swa_utils.update_bn against PyTorch", function()
  it("has the cases", function() assert.is_true(#fixture.update_bn >= 4) end)
  for _, c in ipairs(fixture.update_bn) do
    it(c.name, function()
      local model = model_of(c)
      if c.mode == "eval" then model:eval() end
      local batches = {}
      for i, b in ipairs(c.batches) do batches[i] = { T(b[1]), T(b[2]) } end
      swa_utils.update_bn(batches, model)
      assert.are.equal(c.mode == "train", model.training)
      local sd = model:state_dict()
      for k, v in pairs(c.state) do assert_same(T(v), sd[k], k) end
      model:eval()
      assert_same(T(c.output), model(T(c.input)), "output")
      -- the module's own forward is back: momentum as constructed
      model:train()
      model(T(c.input))
      assert.are.equal(#c.batches + 1, model[2].num_batches_tracked:item())
    end)
  end

  it("reads a DataLoader, an iterator function and an AveragedModel", function()
    local c = fixture.update_bn[1]
    local model = model_of(c)
    local avg = swa_utils.AveragedModel(model)
    local i = 0
    swa_utils.update_bn(function()
      i = i + 1
      local b = c.batches[i]
      if b then return T(b[1]), T(b[2]) end
    end, avg)
    for k, v in pairs(c.state) do assert_same(T(v), avg:state_dict()["module." .. k], k) end
    local data = require "clara.data"
    local x = torch.cat({ T(c.batches[1][1]), T(c.batches[2][1]) })
    local loader = data.DataLoader(data.TensorDataset(x, torch.zeros(x:size(1))), { batch_size = 6 })
    swa_utils.update_bn(loader, model)
    for k, v in pairs(c.state) do
      if k:match("num_batches") then assert.are.equal(2, model:state_dict()[k]:item()) end
      if k:match("^1%.running_mean") then assert.is_false(torch.allclose(T(v), model:state_dict()[k])) end
    end
  end)

  it("does nothing without BatchNorm, and restores forward after an error", function()
    swa_utils.update_bn({ torch.ones(2, 3) }, nn.Linear(3, 1))
    local model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    expect_error("", swa_utils.update_bn, { torch.ones(2, 5) }, model)
    assert.is_nil(rawget(model[2], "forward"))
    expect_error("optim.swa_utils.update_bn: expected a model", swa_utils.update_bn, {}, {})
  end)
end)

describe("swa_utils.SWALR against PyTorch", function()
  for _, c in ipairs(fixture.swalr) do
    it(c.name, function()
      local groups = {}
      for g, lr in ipairs(c.lrs) do groups[g] = { params = { torch.zeros(1):requires_grad_(true) }, lr = lr } end
      local opt = optim.SGD(groups, { lr = c.lrs[1] })
      local sched = swa_utils.SWALR(opt, { swa_lr = c.swa_lr, anneal_epochs = c.anneal_epochs or nil,
                                           anneal_strategy = c.anneal_strategy or nil })
      assert.are.same(c.seq[1], sched:get_last_lr())
      for i = 2, #c.seq do
        opt:step()
        sched:step()
        assert.are.same(c.seq[i], sched:get_last_lr(), "step " .. (i - 1))
      end
    end)
  end

  it("resumes from its state_dict", function()
    local c = fixture.swalr[1]
    local function sgd() return optim.SGD({ torch.zeros(1):requires_grad_(true) }, { lr = c.lrs[1] }) end
    local opt = sgd()
    local sched = swa_utils.SWALR(opt, { swa_lr = c.swa_lr, anneal_epochs = c.anneal_epochs })
    for _ = 1, 3 do sched:step() end
    local opt2 = sgd()
    local sched2 = swa_utils.SWALR(opt2, { swa_lr = c.swa_lr, anneal_epochs = c.anneal_epochs })
    opt2:load_state_dict(opt:state_dict()) -- its groups hold swa_lr and initial_lr
    sched2:load_state_dict(sched:state_dict())
    for i = 5, #c.seq do
      sched2:step()
      assert.are.same(c.seq[i], sched2:get_last_lr(), "step " .. (i - 1))
    end
  end)

  it("rejects bad calls", function()
    local opt = optim.SGD({ torch.zeros(1):requires_grad_(true) }, { lr = 0.1 })
    expect_error("option 'swa_lr' is required", swa_utils.SWALR, opt, {})
    expect_error("optim.swa_utils.SWALR: anneal_strategy must be 'cos' or 'linear', got 'cosine'",
      swa_utils.SWALR, opt, { swa_lr = 0.1, anneal_strategy = "cosine" })
    expect_error("optim.swa_utils.SWALR: anneal_epochs must be an integer >= 0", swa_utils.SWALR, opt,
      { swa_lr = 0.1, anneal_epochs = -1 })
    expect_error("optim.swa_utils.SWALR: swa_lr must be a number or a list of 1 numbers", swa_utils.SWALR, opt,
      { swa_lr = { 0.1, 0.2 } })
    expect_error("optim.swa_utils.SWALR: expected an optimizer", swa_utils.SWALR, {}, { swa_lr = 0.1 })
    expect_error("optim.swa_utils.SWALRR does not exist", function() return swa_utils.SWALRR end)
  end)
end)
