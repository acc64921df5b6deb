-- torch.optim: PyTorch's optimizers, run by libtorch (torch.optim.core).
--   local opt = optim.SGD(model, {lr = 0.1, momentum = 0.9})
--   opt:zero_grad(); loss:backward(); opt:step()
-- params is a list of tensors, a model (anything with :parameters()) or a
-- list of parameter groups { {params = {...}, lr = 0.01}, {params = {...}} }.
-- The Lua tables in opt.param_groups hold the hyperparameters; each step
-- hands them to libtorch, so `opt.param_groups[1].lr = 0.01` (what the
-- schedulers do) takes effect at the next step.
-- optim.clear holds readable Lua twins (SGD, Adam, AdamW) of the same
-- updates; optim.lr_scheduler the learning-rate schedules.
local torch = require "torch"
local core = require "torch.optim.core"
local base = require "torch.optim.base"
local E = require "clara.error"

local optim = {}
local R = base.REQUIRED

-- {======================================================
-- The kinds: defaults and checks as PyTorch 1.13 has them
-- =======================================================

local function check_betas(g, fail)
  for i = 1, 2 do
    if g.betas[i] < 0 or g.betas[i] >= 1 then
      fail("invalid beta parameter at index %d: %s", i, tostring(g.betas[i]))
    end
  end
end

local function nonneg(g, fail, ...)
  for _, key in ipairs { ... } do
    if g[key] < 0 then fail("invalid %s value: %s", key, tostring(g[key])) end
  end
end

local kinds = {
  SGD = {
    defaults = { lr = R, momentum = 0, dampening = 0, weight_decay = 0, nesterov = false },
    check = function(g, fail)
      nonneg(g, fail, "momentum", "weight_decay")
      if g.nesterov and (g.momentum <= 0 or g.dampening ~= 0) then
        fail("nesterov momentum requires a momentum and zero dampening")
      end
    end,
    required_state = { "momentum_buffer" },
  },
  Adam = {
    defaults = { lr = 1e-3, betas = { 0.9, 0.999 }, eps = 1e-8, weight_decay = 0, amsgrad = false },
    check = function(g, fail)
      nonneg(g, fail, "eps", "weight_decay")
      check_betas(g, fail)
    end,
    required_state = { "step", "exp_avg", "exp_avg_sq" },
  },
  AdamW = {
    defaults = { lr = 1e-3, betas = { 0.9, 0.999 }, eps = 1e-8, weight_decay = 1e-2, amsgrad = false },
    required_state = { "step", "exp_avg", "exp_avg_sq" },
  },
  RMSprop = {
    defaults = { lr = 1e-2, alpha = 0.99, eps = 1e-8, weight_decay = 0, momentum = 0, centered = false },
    check = function(g, fail) nonneg(g, fail, "alpha", "eps", "weight_decay", "momentum") end,
    required_state = { "step", "square_avg" },
  },
  Adagrad = {
    defaults = { lr = 1e-2, lr_decay = 0, weight_decay = 0, initial_accumulator_value = 0, eps = 1e-10 },
    check = function(g, fail)
      nonneg(g, fail, "lr_decay", "weight_decay", "initial_accumulator_value", "eps")
    end,
    required_state = { "step", "sum" },
  },
  LBFGS = {
    defaults = { lr = 1, max_iter = 20, tolerance_grad = 1e-7, tolerance_change = 1e-9,
                 history_size = 100 },
    optional = { max_eval = true, line_search_fn = true },
    check = function(g, fail)
      for _, key in ipairs { "max_iter", "history_size" } do
        if math.type(g[key]) ~= "integer" or g[key] < 1 then
          fail("%s must be a positive integer, got %s", key, tostring(g[key]))
        end
      end
      -- PyTorch's default: max_iter * 5 / 4
      if g.max_eval == nil then g.max_eval = g.max_iter * 5 // 4 end
      if math.type(g.max_eval) ~= "integer" or g.max_eval < 1 then
        fail("max_eval must be a positive integer, got %s", tostring(g.max_eval))
      end
      if g.line_search_fn ~= nil and g.line_search_fn ~= "strong_wolfe" then
        fail("line_search_fn must be nil or 'strong_wolfe', got %s", tostring(g.line_search_fn))
      end
    end,
  },
}
kinds.AdamW.check = kinds.Adam.check

-- LBFGS keeps flat vectors over all parameters (n values) and histories
-- of k of them: their shapes are checked before libtorch adopts them
function kinds.LBFGS.check_state(entries, params, fail)
  local n = 0
  for _, p in ipairs(params) do n = n + p:numel() end
  local k
  for _, name in ipairs { "old_dirs", "old_stps" } do
    local v = entries[name]
    if torch.is_tensor(v) then
      if v:dim() ~= 2 or v:size(2) ~= n or (k and v:size(1) ~= k) then
        fail("state '%s' must be a stacked list: a (k, %d) stack of flat vectors (k the same for old_dirs and old_stps), got (%s)",
          name, n, table.concat(v:size(), ", "))
      end
      k = v:size(1)
    end
  end
  for _, name in ipairs { "d", "prev_flat_grad" } do
    local v = entries[name]
    if torch.is_tensor(v) and (v:dim() ~= 1 or v:size(1) ~= n) then
      fail("state '%s' must be a flat vector of %d values, got (%s)", name, n, table.concat(v:size(), ", "))
    end
  end
  local ro = entries.ro
  if torch.is_tensor(ro) and (ro:dim() ~= 1 or (k and ro:size(1) ~= k)) then
    fail("state 'ro' must hold one value per stored pair (%s), got (%s)", k or "?", table.concat(ro:size(), ", "))
  end
end
for name, kind in pairs(kinds) do kind.name = name end
optim.kinds = kinds

-- }======================================================

-- {======================================================
-- The optimizer over libtorch
-- =======================================================

local Fast = {}

-- hand every group's hyperparameters to libtorch (a few numbers each)
local function sync(self)
  for g, group in ipairs(self.param_groups) do core.set_options(self._core, g, group) end
end

-- step([closure]): closure zeroes the gradients, computes the loss, calls
-- backward and returns the loss; step returns it (LBFGS needs one)
function Fast:step(closure)
  if closure ~= nil and type(closure) ~= "function" then
    E.raise("optim." .. self.kind.name .. ":step", "closure must be a function, got %s", type(closure))
  end
  if closure == nil and self.kind.name == "LBFGS" then
    E.raise("optim.LBFGS:step", "LBFGS requires a closure (a function that zeroes the gradients, computes the loss, calls backward and returns the loss)")
  end
  sync(self)
  return core.step(self._core, closure)
end

function Fast:zero_grad(opts)
  if type(opts) == "table" and opts.set_to_none then return base.Optimizer.zero_grad(self, opts) end
  core.zero_grad(self._core)
end

function Fast:get_param_state(g, i) return core.get_state(self._core, g, i) end
function Fast:set_param_state(g, i, entries) core.set_state(self._core, g, i, entries) end

-- libtorch's own view of a group's options (what the last step used)
function Fast:core_options(g) return core.get_options(self._core, g or 1) end

local function make(name)
  local kind = kinds[name]
  local class = base.class(kind, Fast)
  optim[name .. "_class"] = class
  optim[name] = function(params, opts)
    local self = base.init(setmetatable({}, class), kind, params, opts)
    if name == "LBFGS" and #self.param_groups ~= 1 then
      E.raise("optim.LBFGS", "LBFGS doesn't support per-parameter options (parameter groups)")
    end
    -- the constructor's options, as PyTorch's defaults (a required lr
    -- left out of them is the first group's)
    local defaults = {}
    for k, v in pairs(self.defaults) do defaults[k] = v end
    if defaults.lr == base.REQUIRED then defaults.lr = self.param_groups[1].lr end
    self._core = core.new(name, self.param_groups, defaults)
    return self
  end
end
for _, name in ipairs { "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "LBFGS" } do make(name) end

-- }======================================================

-- the clear twins, the schedulers and swa_utils load on first use
E.namespace(optim, "optim", { "clear", "lr_scheduler", "swa_utils" }, function(self, key)
  if key == "clear" or key == "lr_scheduler" or key == "swa_utils" then
    local mod = require("torch.optim." .. key)
    rawset(self, key, mod)
    return mod
  end
end)

optim.Optimizer = base.Optimizer
return optim
