-- clara.train.average: the averaged weights of an experiment's `average`
-- option, on optim.swa_utils (the same AveragedModel, SWALR and update_bn a
-- hand-written PyTorch loop uses):
--   {ema = decay}: an exponential moving average of the weights and the
--     buffers (use_buffers, so BatchNorm statistics are averaged too),
--     updated after every optimizer step;
--   {swa_start = epoch, swa_lr = x, anneal_epochs = 10, anneal_strategy =
--     "cos"}: stochastic weight averaging as PyTorch's recipe: from epoch
--     swa_start on, each epoch's end adds the weights to the equal average
--     and SWALR steps instead of the experiment's scheduler (per-batch
--     scheduler steps stop too); the averaged model's BatchNorm statistics
--     are recomputed with update_bn on the training data before it is
--     evaluated (with torch's generator put back after, so training draws
--     what it would draw without it).
-- Once it holds weights (n_averaged > 0) the averaged model is the one
-- validated, tested, kept as best, saved and returned (M.model).
local torch = require "torch"
local swa_utils = require("torch.optim").swa_utils

local M = {}

local function has_batchnorm(model)
  for _, m in model:named_modules() do
    if m:_get_name():match("^BatchNorm%dd$") then return true end
  end
  return false
end

-- the averaging state for c (c.model, c.optimizer made), or nil
function M.new(spec, model, optimizer)
  if spec == nil then return nil end
  local A = { ema = spec.ema }
  if spec.ema then
    A.model = swa_utils.AveragedModel(model, { ema = spec.ema, use_buffers = true })
  else
    A.model = swa_utils.AveragedModel(model)
    A.swa_start = spec.swa_start
    A.scheduler = swa_utils.SWALR(optimizer, { swa_lr = spec.swa_lr, anneal_epochs = spec.anneal_epochs or 10,
                                               anneal_strategy = spec.anneal_strategy or "cos" })
    A.batchnorm = has_batchnorm(model)
    A.bn_at = -1 -- the n_averaged whose statistics update_bn last computed
  end
  return A
end

-- whether SWA has taken over the learning rate (from swa_start on)
function M.swa_active(A, epoch)
  return A ~= nil and A.swa_start ~= nil and epoch >= A.swa_start
end

-- after each optimizer step: the EMA takes the new weights in
function M.after_step(A, model)
  if A and A.ema then A.model:update_parameters(model) end
end

-- the averaged model's BatchNorm statistics, recomputed over the training
-- inputs (through preprocess) in order, once per set of averaged weights
local function update_bn(A, c)
  if not A.batchnorm or A.bn_at == A.model.n_averaged:item() then return end
  local loader = require("clara.data.loader").DataLoader(c.data.train,
    { batch_size = c.options.batch_size, shuffle = false })
  local it = loader:iter()
  local function inputs()
    local x = it()
    if x == nil or not c.preprocess then return x end
    return c.preprocess(x)
  end
  local rng = torch.get_rng_state()
  swa_utils.update_bn(inputs, A.model)
  torch.set_rng_state(rng)
  A.bn_at = A.model.n_averaged:item()
end

-- after each training epoch, before validation: SWA takes the weights in
-- (from swa_start on) and gets its BatchNorm statistics
function M.after_epoch(A, c, epoch)
  if not M.swa_active(A, epoch) then return end
  A.model:update_parameters(c.model)
  if c.data.val then update_bn(A, c) end
end

-- at the end of training: the statistics of the final average
function M.finish(A, c)
  if A and A.swa_start and A.model.n_averaged:item() > 0 then update_bn(A, c) end
end

-- the model evaluated and returned: the averaged one once it holds weights
function M.model(c)
  local A = c.average
  if A and A.model.n_averaged:item() > 0 then return A.model.module end
  return c.model
end

-- for a checkpoint, and back
function M.state(A)
  if A == nil then return nil end
  return { model = A.model:state_dict(), scheduler = A.scheduler and A.scheduler:state_dict() or nil,
           bn_at = A.bn_at }
end

function M.set_state(A, state)
  if A == nil or state == nil then return end
  A.model:load_state_dict(state.model)
  if A.scheduler and state.scheduler then A.scheduler:load_state_dict(state.scheduler) end
  A.bn_at = state.bn_at
end

return M
