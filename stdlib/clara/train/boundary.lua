-- clara.train.boundary: the checkpoint a failed run leaves, of the last
-- step boundary before the error, so that `resume` continues exactly (and,
-- the cause fixed, ends with the weights of a run that never failed).
--
-- The rule.  An error leaves the objects somewhere inside a step: the
-- batcher has handed out batches, the forward pass has drawn random numbers
-- and moved normalization buffers, the sums and metrics have counted, and
-- at an epoch's end validation, the scheduler and the best-epoch judgement
-- have run.  None of that touches the weights or the optimizer's state:
-- only the optimizer step does.  So at each step boundary (after the step,
-- when the recorder is told) only what moves between steps is kept, small
-- and cheap: positions and counters, the RNG state, copies of the model's
-- buffers, the sums, the training metrics, the scheduler's state and the
-- parameter groups' hyperparameters (a custom batcher's state(); the
-- default one is rewound to the boundary's batch).  On an error:
--   * while the step is applied (ctx.applying: inside opt:step(), the EMA
--     update or the per-batch scheduler; and from SWA's epoch-end averaging
--     to the epoch's checkpoint) the weights are half-updated and the
--     boundary's are gone: nothing is written, checkpoint.pt stays the last
--     one saved;
--   * after the step of the boundary (its on_step_end hook, the recorder)
--     the objects are the boundary's: they are saved as they are;
--   * otherwise the weights and the optimizer are still the boundary's and
--     the rest comes from what was kept;
--   * when the last boundary is already on disk (an epoch's end, a
--     checkpoint_every step, the checkpoint resumed from), nothing is written.
local torch = require "torch"
local run = require "clara.run"

local M = {}

local function copy(t)
  local out = {}
  for k, v in pairs(t or {}) do out[k] = v end
  return out
end

-- the model's buffers (what a forward pass in train mode moves), by
-- state_dict name: the live tensors, found once (updated in place)
function M.buffers(model)
  local params, out = {}, {}
  if type(model.named_parameters) ~= "function" then return out end
  for name in model:named_parameters() do params[name] = true end
  for name, t in pairs(model:state_dict()) do
    if not params[name] then out[name] = t end
  end
  return out
end

-- mark(c, ctx, buffers) -> what the step boundary ctx is at needs beyond the
-- weights and the optimizer's state
function M.mark(c, ctx, buffers)
  local b = { step = ctx.step, epoch = ctx.epoch, epoch_step = ctx.epoch_step, batch = ctx.batch,
              skipped = ctx.skipped, bad_epochs = ctx.bad_epochs, n_history = #ctx.history,
              best = ctx.best, best_state = ctx.best_state, row = copy(ctx.row), rng = run.rng_state(),
              sums = { n = ctx.sums.n, loss = ctx.sums.loss, raw = copy(ctx.sums.raw),
                       weighted = copy(ctx.sums.weighted) },
              buffers = {}, groups = {}, metrics = {} }
  for name, t in pairs(buffers) do b.buffers[name] = t:clone() end
  -- (training metrics only count when they are shown)
  for i, m in ipairs(c.options.train_metrics and c.metrics or {}) do
    if type(m.metric.state) == "function" then b.metrics[i] = { name = m.name, state = m.metric:state() } end
  end
  for i, g in ipairs(c.optimizer.param_groups or {}) do
    local h = {}
    for k, v in pairs(g) do if k ~= "params" and type(v) ~= "table" then h[k] = v end end
    b.groups[i] = h
  end
  -- a scheduler stepping per batch moves only while a step is applied
  if c.scheduler and c.scheduler.state_dict and c.options.scheduler_step ~= "batch" then
    b.scheduler = c.scheduler:state_dict()
  end
  if not M.rewinds(c.batcher) and c.batcher.state then b.loaders = c.batcher:state() end
  return b
end

-- whether the batcher is the default one, whose train loader's state says
-- how many batches of the epoch it handed out (rewound to the boundary)
local DEFAULT = getmetatable(require("clara.train.batcher").default())
function M.rewinds(batcher) return getmetatable(batcher) == DEFAULT end

-- state(c, live_ctx, b, buffers, capture) -> the checkpoint of boundary b
-- (live_ctx: the run's context now, capture: clara.train.checkpoint's), or
-- nil and why not
function M.state(c, live_ctx, b, buffers, capture)
  local history = live_ctx.history
  local live = c.model:state_dict()
  for name, t in pairs(buffers) do
    -- a module that replaced a buffer instead of updating it: the copy is
    -- of a tensor the model no longer holds
    if live[name] == nil or not torch.ops.aten.is_set_to(live[name], t) then
      return nil, ("buffer '%s' was replaced rather than updated in place"):format(name)
    end
  end
  -- the boundary's context; what it did not keep is the live one's (false:
  -- the boundary had no best epoch yet, whatever the live context has now)
  local ctx = setmetatable({ epoch = b.epoch, step = b.step, epoch_step = b.epoch_step, batch = b.batch,
    skipped = b.skipped, bad_epochs = b.bad_epochs, history = table.move(history, 1, b.n_history, 1, {}),
    best = b.best or false, best_state = b.best_state or false, row = b.row, sums = b.sums }, { __index = live_ctx })
  local s = capture(c, ctx, false)
  s.rng, s.metrics, s.scheduler = b.rng, b.metrics, b.scheduler or s.scheduler
  for name, t in pairs(b.buffers) do s.model[name] = t end
  for i, h in ipairs(b.groups) do
    for k, v in pairs(h) do s.optimizer.param_groups[i][k] = v end
  end
  if b.loaders then
    s.loaders = { train = b.loaders.train }
  elseif s.loaders and s.loaders.train then
    s.loaders.train.batch = b.batch
  end
  return s
end

return M
