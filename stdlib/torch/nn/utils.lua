-- torch.nn.utils: gradient clipping and flat parameter vectors, computed
-- as PyTorch 1.13 computes them.
--   loss:backward()
--   local total = nn.utils.clip_grad_norm_(model, 1.0)   -- 0-d tensor
--   opt:step()
-- parameters: a tensor, a list of tensors, or a module (anything with
-- :parameters()).
local torch = require "torch"
local E = require "clara.error"

local utils = {}

local function api(name) return "nn.utils." .. name end

-- the parameters as a list of tensors
local function tensors(name, parameters)
  if torch.is_tensor(parameters) then return { parameters } end
  if type(parameters) == "table" and type(parameters.parameters) == "function" then
    parameters = parameters:parameters()
  end
  if type(parameters) ~= "table" then
    E.raise(api(name), "parameters must be a tensor, a list of tensors or a module, got %s", E.show(parameters))
  end
  local list = {}
  for i, p in ipairs(parameters) do
    if not torch.is_tensor(p) then E.raise(api(name), "parameters[%d] is not a tensor, got %s", i, E.show(p)) end
    list[i] = p
  end
  if #list == 0 and next(parameters) ~= nil then
    E.raise(api(name), "parameters must be a list (1, 2, ...) of tensors, got a table without one")
  end
  return list
end

-- the gradients of those parameters that have one, as PyTorch skips the others
local function grads(list)
  local gs = {}
  for _, p in ipairs(list) do
    local g = p.grad
    if g ~= nil then gs[#gs + 1] = g end
  end
  return gs
end

local function finite_number(name, what, v)
  if type(v) ~= "number" or v ~= v then E.raise(api(name), "%s must be a number, got %s", what, E.show(v)) end
  return v
end

-- {======================================================
-- Clipping
-- =======================================================

local CLIP_NORM = {
  norm_type = { type = "number|string", default = 2.0, doc = "p of the p-norm, or math.huge / 'inf'",
                check = function(v) return v == "inf" or type(v) == "number", "a number or 'inf'" end },
  error_if_nonfinite = { type = "boolean", default = false, doc = "raise when the total norm is nan or inf" },
}

-- PyTorch's whole-tensor norm: norm(g, p) over every dim
local function norm(t, p)
  local dims = {}
  for d = 1, t:dim() do dims[d] = d - 1 end
  return torch.ops.aten["norm.ScalarOpt_dim"](t, p, dims, false)
end

-- clip_grad_norm_(parameters, max_norm, {norm_type = 2, error_if_nonfinite = false})
-- scales every gradient in place by max_norm / (total + 1e-6) when that is
-- below 1; returns the total norm (the norm of the per-parameter norms)
function utils.clip_grad_norm_(parameters, max_norm, opts)
  local list = tensors("clip_grad_norm_", parameters)
  finite_number("clip_grad_norm_", "max_norm", max_norm)
  local o = E.options(api("clip_grad_norm_"), opts, CLIP_NORM)
  local p = o.norm_type == "inf" and math.huge or o.norm_type
  local gs = grads(list)
  if #gs == 0 then return torch.tensor(0.0) end
  local total
  local norms = {}
  if p == math.huge then
    for i, g in ipairs(gs) do norms[i] = g:detach():abs():max() end
    total = #norms == 1 and norms[1] or torch.stack(norms):max()
  else
    for i, g in ipairs(gs) do norms[i] = norm(g:detach(), p) end
    total = norm(torch.stack(norms), p)
  end
  if o.error_if_nonfinite and (total:isnan():item() or total:isinf():item()) then
    E.raise(api("clip_grad_norm_"), "the total norm of order %s for gradients from parameters is non-finite, so it cannot be clipped (set error_if_nonfinite = false to scale the gradients by the non-finite norm anyway)",
      tostring(p))
  end
  -- Python's number / tensor is reciprocal() * number; the product is
  -- taken even when the coefficient is 1, as PyTorch does
  local coef = ((total + 1e-6):reciprocal() * max_norm):clamp({ max = 1.0 })
  torch.no_grad(function()
    for _, g in ipairs(gs) do g:mul_(coef) end
  end)
  return total
end

-- clip_grad_value_(parameters, clip_value): every gradient clamped in place
-- to [-clip_value, clip_value]
function utils.clip_grad_value_(parameters, clip_value)
  local list = tensors("clip_grad_value_", parameters)
  finite_number("clip_grad_value_", "clip_value", clip_value)
  torch.no_grad(function()
    for _, g in ipairs(grads(list)) do g:clamp_({ min = -clip_value, max = clip_value }) end
  end)
end

-- }======================================================

-- {======================================================
-- Flat vectors
-- =======================================================

-- parameters_to_vector(parameters): one 1-d tensor, parameters in order
-- (differentiable, as PyTorch's torch.cat of views)
function utils.parameters_to_vector(parameters)
  local list = tensors("parameters_to_vector", parameters)
  if #list == 0 then E.raise(api("parameters_to_vector"), "no parameters to flatten") end
  local views = {}
  for i, p in ipairs(list) do views[i] = p:reshape(-1) end
  return torch.cat(views)
end

-- vector_to_parameters(vec, parameters): copies consecutive slices of vec
-- into the parameters (in place: native modules and optimizers keep them)
function utils.vector_to_parameters(vec, parameters)
  if not torch.is_tensor(vec) then
    E.raise(api("vector_to_parameters"), "expected vec to be a tensor, got %s", E.show(vec))
  end
  local list = tensors("vector_to_parameters", parameters)
  if vec:dim() ~= 1 then
    E.raise(api("vector_to_parameters"), "vec must be 1-dimensional, got %d dims", vec:dim())
  end
  local n = 0
  for _, p in ipairs(list) do n = n + p:numel() end
  if vec:size(1) ~= n then
    E.raise(api("vector_to_parameters"), "vec has %d values, the parameters %d", vec:size(1), n)
  end
  torch.no_grad(function()
    local at = 1
    for _, p in ipairs(list) do
      local k = p:numel()
      p:copy_(vec:narrow(1, at, k):view_as(p))
      at = at + k
    end
  end)
end

-- }======================================================

return utils
