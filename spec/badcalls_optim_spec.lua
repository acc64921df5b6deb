-- Bad calls into the optimizers and schedulers: each must raise a Lua error
-- (never crash), whose message names the function and says what was wrong,
-- without C++ details.  The spec reaching its end proves the process survived.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/badcalls_optim_spec.lua
-- CLARA_SHOW_ERRORS=1 prints every message, for review.

local torch = require "torch"
local badcalls = require "spec.helpers.badcalls"
local optim = require "torch.optim"
local S = optim.lr_scheduler

local function W() return torch.ones(3, 2, { requires_grad = true }) end
local function b() return torch.zeros(2, { requires_grad = true }) end
local function sgd(opts) return optim.SGD({ W(), b() }, opts or { lr = 0.1, momentum = 0.9 }) end
local function stepped(opt)
  for _, p in ipairs(opt:parameters()) do p.grad = torch.ones_like(p) end
  opt:step()
  return opt
end
local function model_loss_closure(opt)
  return function()
    opt:zero_grad()
    local l = opt:parameters()[1]:sum()
    l:backward()
    return l
  end
end

-- { description, name the message must contain, what it must also contain, the bad call }
local cases = {
  -- construction: parameters
  { "SGD without lr", "optim.SGD", "required optimization parameter lr", function() return optim.SGD({ W() }) end },
  { "SGD of nil", "optim.SGD", "params must be a list of tensors", function() return optim.SGD(nil, { lr = 1 }) end },
  { "SGD of a tensor", "optim.SGD", "got a tensor", function() return optim.SGD(W(), { lr = 1 }) end },
  { "SGD of an empty list", "optim.SGD", "empty parameter list", function() return optim.SGD({}, { lr = 1 }) end },
  { "SGD of numbers", "optim.SGD", "parameter group 1 must be a table", function() return optim.SGD({ 1, 2 }, { lr = 1 }) end },
  { "SGD of a tensor and a string", "optim.SGD", "params[2] is not a tensor", function() return optim.SGD({ W(), "x" }, { lr = 1 }) end },
  { "SGD of an int64 tensor", "optim.SGD", "not a floating point tensor", function() return optim.SGD({ torch.tensor { 1, 2 } }, { lr = 1 }) end },
  { "SGD of a non-leaf", "optim.SGD", "non-leaf", function() return optim.SGD({ W() * 2 }, { lr = 1 }) end },
  { "SGD with a parameter twice", "optim.SGD", "more than one parameter group", function()
      local w = W()
      return optim.SGD({ { params = { w } }, { params = { w } } }, { lr = 1 })
    end },
  { "SGD with a group lacking params", "optim.SGD", "must be a table with a 'params' list", function() return optim.SGD({ { lr = 1 } }, { lr = 1 }) end },
  { "SGD with an empty group", "optim.SGD", "empty parameter list", function() return optim.SGD({ { params = {} } }, { lr = 1 }) end },
  { "SGD of a model whose parameters are strings", "optim.SGD", "is not a tensor", function()
      return optim.SGD({ parameters = function() return { "w" } end }, { lr = 1 })
    end },
  -- construction: options
  { "SGD with options not a table", "optim.SGD", "options must be a table", function() return optim.SGD({ W() }, 0.1) end },
  { "SGD with a misspelt option", "optim.SGD", "unknown option 'lrr'", function() return optim.SGD({ W() }, { lrr = 0.1 }) end },
  { "SGD with a negative lr", "optim.SGD", "lr must be >= 0, got -1", function() return optim.SGD({ W() }, { lr = -1 }) end },
  { "SGD with a string lr", "optim.SGD", "lr must be a number, got '0.1'", function() return optim.SGD({ W() }, { lr = "0.1" }) end },
  { "SGD with a negative lr in a group", "optim.SGD", "option 'lr' must be >= 0", function() return optim.SGD({ { params = { W() }, lr = -2 } }, { lr = 1 }) end },
  { "SGD with a negative momentum", "optim.SGD", "momentum must be >= 0", function() return optim.SGD({ W() }, { lr = 1, momentum = -0.5 }) end },
  { "SGD with nesterov and dampening", "optim.SGD", "nesterov momentum requires", function() return optim.SGD({ W() }, { lr = 1, momentum = 0.9, dampening = 0.1, nesterov = true }) end },
  { "SGD with nesterov and no momentum", "optim.SGD", "nesterov momentum requires", function() return optim.SGD({ W() }, { lr = 1, nesterov = true }) end },
  { "SGD with nesterov a string", "optim.SGD", "nesterov must be a boolean", function() return optim.SGD({ W() }, { lr = 1, nesterov = "yes" }) end },
  { "Adam with beta1 = 1", "optim.Adam", "invalid beta parameter at index 1", function() return optim.Adam({ W() }, { betas = { 1.0, 0.9 } }) end },
  { "Adam with beta2 < 0", "optim.Adam", "invalid beta parameter at index 2", function() return optim.Adam({ W() }, { betas = { 0.9, -0.1 } }) end },
  { "Adam with betas a number", "optim.Adam", "betas must be a table", function() return optim.Adam({ W() }, { betas = 0.9 }) end },
  { "Adam with a negative eps", "optim.Adam", "eps must be >= 0", function() return optim.Adam({ W() }, { eps = -1 }) end },
  { "Adam with a negative weight_decay", "optim.Adam", "weight_decay must be >= 0", function() return optim.Adam({ W() }, { weight_decay = -1 }) end },
  { "AdamW with amsgrad a number", "optim.AdamW", "amsgrad must be a boolean", function() return optim.AdamW({ W() }, { amsgrad = 1 }) end },
  { "RMSprop with a negative alpha", "optim.RMSprop", "alpha must be >= 0", function() return optim.RMSprop({ W() }, { alpha = -1 }) end },
  { "RMSprop with a misspelt option", "optim.RMSprop", "unknown option 'centred'", function() return optim.RMSprop({ W() }, { centred = true }) end },
  { "Adagrad with a negative lr_decay", "optim.Adagrad", "lr_decay must be >= 0", function() return optim.Adagrad({ W() }, { lr_decay = -1 }) end },
  { "Adagrad with betas", "optim.Adagrad", "unknown option 'betas'", function() return optim.Adagrad({ W() }, { betas = { 0.9, 0.9 } }) end },
  { "LBFGS with two groups", "optim.LBFGS", "doesn't support per-parameter options", function() return optim.LBFGS({ { params = { W() } }, { params = { b() } } }) end },
  { "LBFGS with max_iter 0", "optim.LBFGS", "max_iter must be a positive integer", function() return optim.LBFGS({ W() }, { max_iter = 0 }) end },
  { "LBFGS with a fractional history_size", "optim.LBFGS", "history_size must be a positive integer", function() return optim.LBFGS({ W() }, { history_size = 2.5 }) end },
  { "LBFGS with an unknown line search", "optim.LBFGS", "line_search_fn must be one of 'strong_wolfe'", function() return optim.LBFGS({ W() }, { line_search_fn = "armijo" }) end },
  { "LBFGS with max_eval 0", "optim.LBFGS", "max_eval must be >= 1", function() return optim.LBFGS({ W() }, { max_eval = 0 }) end },
  { "clear SGD without lr", "optim.SGD", "required optimization parameter lr", function() return optim.clear.SGD({ W() }) end },
  { "clear Adam with a misspelt option", "optim.Adam", "unknown option 'beta'", function() return optim.clear.Adam({ W() }, { beta = 0.9 }) end },

  -- step and its closure
  { "LBFGS step without a closure", "step", "LBFGS requires a closure", function() return optim.LBFGS({ W() }):step() end },
  { "step with a number closure", "step", "closure must be a function, got number", function() return sgd():step(5) end },
  { "clear step with a string closure", "step", "closure must be a function, got string", function() return optim.clear.SGD({ W() }, { lr = 1 }):step("x") end },
  { "closure returning nil", "step", "closure must return the loss tensor, got nil", function()
      return optim.LBFGS({ W() }):step(function() end)
    end },
  { "closure returning a table", "step", "closure must return the loss tensor, got table", function()
      return sgd():step(function() return {} end)
    end },
  { "closure raising an error", "step", "boom", function()
      return optim.LBFGS({ W() }):step(function() error("step: boom") end)
    end },
  { "closure calling backward twice", "backward", "retain_graph", function()
      local opt = optim.LBFGS({ W() })
      return opt:step(function()
        local l = (opt:parameters()[1] * 2):sum()
        l:backward()
        l:backward()
        return l
      end)
    end },
  { "a step after the learning rate became a string", "step", "option 'lr' must be a number, got string", function()
      local opt = sgd()
      opt.param_groups[1].lr = "fast"
      return opt:step()
    end },

  -- learning rates
  { "set_lr negative", "set_lr", "non-negative number", function() return sgd():set_lr(-1) end },
  { "set_lr of a string", "set_lr", "non-negative number, got x", function() return sgd():set_lr("x") end },
  { "set_lr of group 2 of 1", "set_lr", "group must be an integer in 1..1", function() return sgd():set_lr(0.1, 2) end },
  { "get_lr of group 0", "get_lr", "group must be an integer in 1..1", function() return sgd():get_lr(0) end },
  { "get_lr of group 1.5", "get_lr", "group must be an integer", function() return sgd():get_lr(1.5) end },

  -- state dicts
  { "load_state_dict of a string", "load_state_dict", "expected a table with 'state' and 'param_groups'", function() return sgd():load_state_dict("x") end },
  { "load_state_dict with two groups into one", "load_state_dict", "has 2 parameter groups, the optimizer has 1", function()
      return sgd():load_state_dict(optim.SGD({ { params = { W() } }, { params = { b() } } }, { lr = 1 }):state_dict())
    end },
  { "load_state_dict with a smaller group", "load_state_dict", "does not match the size", function()
      return sgd():load_state_dict(optim.SGD({ W() }, { lr = 1 }):state_dict())
    end },
  { "load_state_dict of an SGD state into Adam", "load_state_dict", "lacks 'step'", function()
      return optim.Adam({ W(), b() }):load_state_dict(stepped(sgd()):state_dict())
    end },
  { "load_state_dict with a state for parameter 5", "load_state_dict", "state for parameter 5", function()
      local sd = sgd():state_dict()
      sd.state[5] = { momentum_buffer = torch.zeros(2) }
      return sgd():load_state_dict(sd)
    end },
  { "load_state_dict with a wrongly shaped buffer", "load_state_dict", "has shape [2] but its parameter has shape [3, 2]", function()
      local sd = sgd():state_dict()
      sd.state[1] = { momentum_buffer = torch.zeros(2) }
      return sgd():load_state_dict(sd)
    end },
  { "clear load_state_dict with a wrongly shaped buffer", "load_state_dict", "has shape [2] but its parameter has shape [3, 2]", function()
      local sd = sgd():state_dict()
      sd.state[1] = { momentum_buffer = torch.zeros(2) }
      return optim.clear.SGD({ W(), b() }, { lr = 1 }):load_state_dict(sd)
    end },
  { "load_state_dict with a string state entry", "load_state_dict", "must be a tensor or a number, got string", function()
      local sd = sgd():state_dict()
      sd.state[1] = { momentum_buffer = "x" }
      return sgd():load_state_dict(sd)
    end },
  { "load_state_dict with an unknown state entry", "load_state_dict", "no tensor state 'velocity'", function()
      local sd = sgd():state_dict()
      sd.state[1] = { momentum_buffer = torch.zeros(3, 2), velocity = torch.zeros(3, 2) }
      return sgd():load_state_dict(sd)
    end },
  { "load_state_dict with a state that is a number", "load_state_dict", "state of parameter 1 must be a table", function()
      local sd = sgd():state_dict()
      sd.state[1] = 3
      return sgd():load_state_dict(sd)
    end },
  { "LBFGS load_state_dict with a 0-d history", "load_state_dict", "stacked list", function()
      local opt = optim.LBFGS({ W() })
      opt:step(model_loss_closure(opt))
      local sd = opt:state_dict()
      sd.state[1].old_dirs = torch.tensor(1.0)
      return opt:load_state_dict(sd)
    end },

  -- schedulers: construction
  { "StepLR of nil", "lr_scheduler.StepLR", "expected an optimizer", function() return S.StepLR(nil, { step_size = 1 }) end },
  { "StepLR without step_size", "lr_scheduler.StepLR", "option 'step_size' is required", function() return S.StepLR(sgd()) end },
  { "StepLR with step_size 0", "lr_scheduler.StepLR", "positive integer", function() return S.StepLR(sgd(), { step_size = 0 }) end },
  { "StepLR with a misspelt option", "lr_scheduler.StepLR", "unknown option 'gama'", function() return S.StepLR(sgd(), { step_size = 2, gama = 0.5 }) end },
  { "StepLR with a string gamma", "lr_scheduler.StepLR", "gamma must be a number", function() return S.StepLR(sgd(), { step_size = 2, gamma = "x" }) end },
  { "StepLR with options a number", "lr_scheduler.StepLR", "options must be a table", function() return S.StepLR(sgd(), 30) end },
  { "MultiStepLR with milestones a number", "lr_scheduler.MultiStepLR", "must be a list of epochs", function() return S.MultiStepLR(sgd(), { milestones = 3 }) end },
  { "MultiStepLR with a fractional milestone", "lr_scheduler.MultiStepLR", "milestones[2] must be an integer", function() return S.MultiStepLR(sgd(), { milestones = { 1, 2.5 } }) end },
  { "ExponentialLR without gamma", "lr_scheduler.ExponentialLR", "option 'gamma' is required", function() return S.ExponentialLR(sgd()) end },
  { "CosineAnnealingLR with T_max 0", "lr_scheduler.CosineAnnealingLR", "T_max' must be a positive integer", function() return S.CosineAnnealingLR(sgd(), { T_max = 0 }) end },
  { "LinearLR with start_factor 0", "lr_scheduler.LinearLR", "greater than 0", function() return S.LinearLR(sgd(), { start_factor = 0 }) end },
  { "LinearLR with end_factor 2", "lr_scheduler.LinearLR", "ending multiplicative factor", function() return S.LinearLR(sgd(), { end_factor = 2 }) end },
  { "ConstantLR with factor 2", "lr_scheduler.ConstantLR", "between 0 and 1", function() return S.ConstantLR(sgd(), { factor = 2 }) end },
  { "LambdaLR with a number", "lr_scheduler.LambdaLR", "lr_lambda must be a function or a list of 1 functions", function() return S.LambdaLR(sgd(), { lr_lambda = 3 }) end },
  { "LambdaLR with two lambdas for one group", "lr_scheduler.LambdaLR", "list of 1 functions", function()
      return S.LambdaLR(sgd(), { lr_lambda = { print, print } })
    end },
  { "OneCycleLR without a length", "lr_scheduler.OneCycleLR", "total_steps OR (epochs AND steps_per_epoch)", function() return S.OneCycleLR(sgd(), { max_lr = 1 }) end },
  { "OneCycleLR with total_steps -1", "lr_scheduler.OneCycleLR", "positive integer total_steps", function() return S.OneCycleLR(sgd(), { max_lr = 1, total_steps = -1 }) end },
  { "OneCycleLR with pct_start 2", "lr_scheduler.OneCycleLR", "between 0 and 1 for pct_start", function() return S.OneCycleLR(sgd(), { max_lr = 1, total_steps = 5, pct_start = 2 }) end },
  { "OneCycleLR with a cubic anneal", "lr_scheduler.OneCycleLR", "anneal_strategy must be one of 'cos' or 'linear'", function() return S.OneCycleLR(sgd(), { max_lr = 1, total_steps = 5, anneal_strategy = "cubic" }) end },
  { "OneCycleLR with two max_lr for one group", "lr_scheduler.OneCycleLR", "expected 1 values for max_lr, got 2", function() return S.OneCycleLR(sgd(), { max_lr = { 1, 2 }, total_steps = 5 }) end },
  { "OneCycleLR without max_lr", "lr_scheduler.OneCycleLR", "option 'max_lr' is required", function() return S.OneCycleLR(sgd(), { total_steps = 5 }) end },
  { "OneCycleLR cycling momentum of Adagrad", "lr_scheduler.OneCycleLR", "must support momentum", function()
      return S.OneCycleLR(optim.Adagrad({ W() }), { max_lr = 1, total_steps = 5 })
    end },
  { "ReduceLROnPlateau with factor 1", "lr_scheduler.ReduceLROnPlateau", "factor should be < 1.0", function() return S.ReduceLROnPlateau(sgd(), { factor = 1.0 }) end },
  { "ReduceLROnPlateau with mode avg", "lr_scheduler.ReduceLROnPlateau", "mode avg is unknown", function() return S.ReduceLROnPlateau(sgd(), { mode = "avg" }) end },
  { "ReduceLROnPlateau with threshold_mode pct", "lr_scheduler.ReduceLROnPlateau", "threshold mode pct is unknown", function() return S.ReduceLROnPlateau(sgd(), { threshold_mode = "pct" }) end },
  { "ReduceLROnPlateau with patience -1", "lr_scheduler.ReduceLROnPlateau", "'patience' must be a non-negative integer", function() return S.ReduceLROnPlateau(sgd(), { patience = -1 }) end },
  { "ChainedScheduler of nothing", "lr_scheduler.ChainedScheduler", "expected a list of schedulers", function() return S.ChainedScheduler({}) end },
  { "ChainedScheduler over two optimizers", "lr_scheduler.ChainedScheduler", "schedulers[2]", function()
      return S.ChainedScheduler { S.StepLR(sgd(), { step_size = 1 }), S.StepLR(sgd(), { step_size = 1 }) }
    end },
  { "a resumed StepLR without initial_lr", "lr_scheduler.StepLR", "initial_lr", function() return S.StepLR(sgd(), { step_size = 2, last_epoch = 3 }) end },

  -- schedulers: stepping and state
  { "StepLR step with an epoch", "step", "takes no argument", function() return S.StepLR(sgd(), { step_size = 2 }):step(3) end },
  { "ReduceLROnPlateau step without a metric", "ReduceLROnPlateau:step", "expected the metric", function() return S.ReduceLROnPlateau(sgd()):step() end },
  { "ReduceLROnPlateau step with a string", "ReduceLROnPlateau:step", "got string", function() return S.ReduceLROnPlateau(sgd()):step("0.5") end },
  { "ReduceLROnPlateau step with a 2-element tensor", "item", "2 elements", function() return S.ReduceLROnPlateau(sgd()):step(torch.ones(2)) end },
  { "OneCycleLR past its end", "lr_scheduler.OneCycleLR", "tried to step 3 times", function()
      local s = S.OneCycleLR(sgd(), { max_lr = 1, total_steps = 1 })
      s:step()
      s:step()
    end },
  { "StepLR load_state_dict of a number", "load_state_dict", "expected a table", function() return S.StepLR(sgd(), { step_size = 2 }):load_state_dict(5) end },
  { "StepLR load_state_dict of an ExponentialLR state", "load_state_dict", "the state is a ExponentialLR's", function()
      local opt = sgd()
      local sd = S.ExponentialLR(opt, { gamma = 0.5 }):state_dict()
      return S.StepLR(opt, { step_size = 2 }):load_state_dict(sd)
    end },

  -- the C module directly
  { "core.new of an unknown kind", "new", "invalid option 'Nadam'", function() return require("torch.optim.core").new("Nadam", {}) end },
  { "core.new with no groups", "new", "no parameter groups", function() return require("torch.optim.core").new("SGD", {}) end },
  { "core.step of a table", "step", "torch.optim.Optimizer expected", function() return require("torch.optim.core").step({}) end },
  { "core.step of a freed optimizer", "step", "optimizer already freed", function()
      local core = require "torch.optim.core"
      local o = core.new("SGD", { { params = { W() }, lr = 0.1 } })
      core.free(o)
      return core.step(o)
    end },
  { "core.get_state of group 0", "get_state", "group out of range", function() return require("torch.optim.core").get_state(sgd()._core, 0, 1) end },
  { "core.get_state of parameter 9", "state", "no parameter 9 in group 1", function() return require("torch.optim.core").get_state(sgd()._core, 1, 9) end },
  { "core.get_state of group 4", "state", "no parameter group 4", function() return require("torch.optim.core").get_state(sgd()._core, 4, 1) end },
}

describe("bad calls to optim", function()
  badcalls(cases)

  it("leave the process, the grad mode and a fresh optimizer sound", function()
    collectgarbage()
    assert.is_true(torch.is_grad_enabled())
    local w = torch.tensor({ 1.0, 2.0 }, { requires_grad = true })
    local opt = optim.LBFGS({ w })
    opt:step(function()
      opt:zero_grad()
      local l = ((w - 1) * (w - 1)):sum()
      l:backward()
      return l
    end)
    assert.is_true((w:detach() - 1):abs():max():item() < 1e-4)
  end)
end)
