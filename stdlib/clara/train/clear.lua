-- clara.train.clear: the reference training loop, readable top to bottom.
-- Slow where clarity costs speed; faster loops must give its results.
--
-- run(c) -> result: clara.train.common.run (which documents c, the hooks,
-- the recorder and resuming from c.start) with this file's training epoch
-- and evaluation.
local torch = require "torch"
local common = require "clara.train.common"

local call, record, forward, batch_size = common.call, common.record, common.forward, common.batch_size
local new_sums, add_sums = common.new_sums, common.add_sums
local update_metrics, running_stats = common.update_metrics, common.running_stats
local nonfinite_message = common.nonfinite_message

local M = {}

-- one training epoch: returns false when training must end (max_steps, ctx.stop)
local function train_epoch(c, ctx, row)
  local o, model, opt = c.options, c.model, c.optimizer
  -- 1. train mode, fresh metrics, this epoch's batches, the running sums
  --    (a resumed cut epoch's: its batcher continues where the checkpoint was)
  local it, sums, step, batch = common.begin_epoch(c, ctx)
  local finished = false
  while not finished do
    -- 2. gather one step's micro-batches (accumulate of them)
    local group, n_total = {}, 0
    for _ = 1, o.accumulate do
      local b = table.pack(it())
      if b[1] == nil then finished = true; break end
      b.size = batch_size(b[1])
      group[#group + 1], n_total = b, n_total + b.size
    end
    if #group == 0 then break end
    opt:zero_grad()
    local stepped = false
    for _, b in ipairs(group) do
      batch = batch + 1
      ctx.batch = batch
      call(c.hooks, "on_batch_start", ctx)
      -- 3. preprocess, forward (capturing intermediates the objective or metrics need)
      local x = c.preprocess and c.preprocess(b[1]) or b[1]
      local targets = { table.unpack(b, 2, b.n) }
      local outputs, captured = forward(model, x, c.captures)
      -- 4. the objective: the one loss, and its terms as numbers
      local ok, total, terms = pcall(c.objective.evaluate, c.objective, model, outputs, captured, targets)
      if not ok then
        if type(total) ~= "table" then error(total, 0) end
        if o.on_nonfinite ~= "skip" then error(nonfinite_message(total, ctx.epoch, batch, "train"), 0) end
        ctx.skipped = ctx.skipped + 1
      else
        -- 5. backward, scaled so the micro-batches add up to the mean over the whole step
        if #group == 1 then total:backward() else (total * (b.size / n_total)):backward() end
        stepped = true
        add_sums(sums, terms, b.size)
        ctx.loss, ctx.terms = terms.loss, terms
        -- 6. training metrics, on the outputs already computed
        if o.train_metrics then update_metrics(c.metrics, outputs, captured, targets) end
        call(c.hooks, "on_batch_end", ctx)
      end
    end
    -- 7. the optimizer step (and a per-batch scheduler)
    if stepped then
      opt:step()
      if c.scheduler and o.scheduler_step == "batch" then c.scheduler:step() end
    end
    step = step + 1
    ctx.step, ctx.epoch_step = ctx.step + 1, step
    call(c.hooks, "on_step_end", ctx)
    record(c.recorder, "step_end", ctx)
    if ctx.interrupted then return false end
    -- 8. progress
    c.progress:step(step, running_stats(sums, c.metrics, o.train_metrics))
    if ctx.stop then row.stopped = "hook"; break end
    if o.max_steps and ctx.step >= o.max_steps then row.stopped = "max_steps"; break end
  end
  -- 9. the epoch's means (also of a cut-short epoch)
  return common.end_epoch(c, row, sums)
end

-- loss, terms and metrics of a split in eval mode, without gradients
function M.evaluate(c, split, row, epoch, tables)
  if c.data[split] == nil then return end
  local model = c.model
  -- 1. eval mode, fresh metrics, the split's batches
  local it, was_training = common.begin_evaluate(c, split, epoch)
  local sums, batch = new_sums(), 0
  torch.no_grad(function()
    -- 2. every batch: forward, objective, metrics
    while true do
      local b = table.pack(it())
      if b[1] == nil then break end
      batch = batch + 1
      local x = c.preprocess and c.preprocess(b[1]) or b[1]
      local targets = { table.unpack(b, 2, b.n) }
      local outputs, captured = forward(model, x, c.captures)
      local ok, err, terms = pcall(c.objective.evaluate, c.objective, model, outputs, captured, targets)
      if not ok then
        if type(err) ~= "table" then error(err, 0) end
        terms = { loss = 0 / 0, raw = {}, weighted = {} }
      end
      add_sums(sums, terms, batch_size(b[1]))
      update_metrics(c.metrics, outputs, captured, targets)
    end
  end)
  -- 3. the split's columns, and the model's mode back
  common.end_evaluate(c, split, row, sums, tables, was_training)
end

function M.run(c)
  return common.run(c, { train_epoch = train_epoch, evaluate = M.evaluate })
end

M.row_text, M.summary = common.row_text, common.summary

return M
