-- clara.train.clear: the reference training loop, readable top to bottom:
-- the run (epochs, validation, schedulers, best weights, early stopping,
-- final evaluation), then one training epoch, one optimizer step, and the
-- evaluation of a split.  Slow where clarity costs speed; the fast twin
-- (clara.train.fast) must give its results, and runs this same run with
-- its own epoch and evaluation: run(c, twin).
--
-- c is what clara.experiment prepared: model, optimizer, scheduler,
-- objective (clara.train.objective), metrics (entries {name, metric,
-- read}, read picking what each metric sees: clara.train.select),
-- batcher, data {train, val, test}, preprocess, captures (intermediate
-- results to capture), columns (the objective's), hooks, recorder,
-- progress, options (epochs, batch_size, accumulate, monitor, mode,
-- patience, ...), parameters (the model's count, for the report), and
-- start (a checkpoint to resume from, see clara.train.checkpoint).
--
-- Hooks (c.hooks, each optional, called with the context `ctx`):
--   on_run_start, on_epoch_start, on_batch_start, on_batch_end (after each
--   micro-batch's backward), on_step_end (after each optimizer step),
--   on_validation_end, on_epoch_end (ctx.row is the history row), on_run_end.
-- Setting ctx.stop = true in a hook ends training after the current step.
--
-- Three switches (options): clip_grad clips the gradients between the
-- step's last backward and opt:step(), keeping the pre-clip total norm
-- (ctx.grad_norm; rows get grad_norm, the epoch's mean, and grad_norm_max;
-- result.grad_norms every step's); precision = "bf16" runs forward and
-- objective under CPU autocast (training and evaluation); average keeps an
-- averaged copy of the weights (clara.train.average) that evaluation,
-- keep_best and early stopping (they monitor its validation), the final
-- numbers and result.model use once it holds weights.
--
-- The recorder (c.recorder; clara.run plugs in here to write runs to
-- disk): an object whose optional methods are called as
--   recorder:run_start(ctx)  recorder:step_end(ctx)
--   recorder:epoch_end(ctx, row)  recorder:run_end(ctx, result)
-- The default records nothing: the result stays in memory.
-- A recorder may set ctx.interrupted (a reason, e.g. a signal's name) in
-- step_end: the loop then returns at once, result.interrupted = reason,
-- without a history row for the cut epoch nor final evaluation.
local torch = require "torch"
local E = require "clara.error"
local optim = require "torch.optim"
local nn = require "torch.nn"
local average = require "clara.train.average"
local sums = require "clara.train.sums"
local progress = require "clara.train.progress"

local clock = progress.clock
local AUTOCAST = { dtype = "bfloat16" }

local M = {}

-- {====================== the loop's small pieces ======================

local function call(hooks, name, ctx)
  local f = hooks[name]
  if f then f(ctx) end
end

local function record(recorder, name, ...)
  if recorder and recorder[name] then recorder[name](recorder, ...) end
end

-- the model's results as a list (several returns, or one Lua table of
-- them) and the intermediate results the objective and metrics read
local function forward(model, x, names)
  local captured, r = {}, nil
  if #names > 0 then
    if type(model.capture) ~= "function" then
      E.raise("clara.experiment", "intermediate results need a model with capture (an nn.Module)")
    end
    r = table.pack(model:capture(names, x))
    captured = r[1]
    r = table.pack(table.unpack(r, 2, r.n))
  else
    r = table.pack(model(x))
  end
  if r.n == 1 and type(r[1]) == "table" and not torch.is_tensor(r[1]) then return r[1], captured end
  r.n = nil
  return r, captured
end

-- train/eval mode, for models that have it (a foreign callable may not)
local function set_mode(model, training)
  if type(model.train) == "function" then model:train(training) end
end

local function batch_size(x)
  if torch.is_tensor(x) then return x:size(1) end
  if type(x) == "table" and torch.is_tensor(x[1]) then return x[1]:size(1) end
  return 1
end

-- a batch's input (through augment when training, then preprocess) and its
-- targets
local function inputs(c, b, train)
  local x = b[1]
  if train and c.augment then x = c.augment(x) end
  x = c.preprocess and c.preprocess(x) or x
  return x, { table.unpack(b, 2, b.n) }
end

-- the forward and the objective (pcall'd: a non-finite loss raises a
-- table): outputs, captured, then pcall's results
local function forward_objective(c, model, x, targets)
  local outputs, captured = forward(model, x, c.captures)
  return outputs, captured, pcall(c.objective.evaluate, c.objective, model, outputs, captured, targets)
end

-- fn(...) in the run's precision: precision = "bf16" runs it under CPU
-- autocast (the forward and the loss; backward stays outside, the master
-- weights float32, as PyTorch's torch.autocast recipe)
local function precise(c, fn, ...)
  if c.options.precision == "bf16" then return torch.autocast("cpu", AUTOCAST, fn, ...) end
  return fn(...)
end

-- the message of a non-finite loss, at the user's line (the exp:run call)
local function nonfinite_message(err, epoch, batch, split)
  local where = E.where()
  return ("%sclara.experiment: non-finite loss in %s at epoch %d, batch %d: term '%s' is %s "
    .. "(on_nonfinite = 'skip' skips such batches; a lower learning rate often helps)")
    :format(where == "" and "" or (where .. " "), split, epoch, batch, err.nonfinite, E.show(err.value))
end

local function improved(o, value, best)
  if value == nil or value ~= value then return false end
  if best == nil then return true end
  if o.mode == "max" then return value > best + o.min_delta end
  return value < best - o.min_delta
end

local function snapshot(model)
  local copy = {}
  for k, t in pairs(model:state_dict()) do copy[k] = t:clone() end
  return copy
end

M.call, M.record, M.forward, M.batch_size = call, record, forward, batch_size
M.precise = precise
M.nonfinite_message = nonfinite_message

-- a batcher's info, with this rank's shard when training data-parallel
function M.shard(c, info)
  if c.dp then return c.dp:shard(info) end
  return info
end

-- data-parallel: a split's sums (and metrics) over every rank's shard
function M.reduce(c, s, with_metrics)
  if not c.dp then return end
  c.dp:reduce_sums(s, c.columns)
  if with_metrics then c.dp:merge_metrics(c.metrics) end
end

-- }=====================================================================

-- The story from here on reads top to bottom: the run, one training
-- epoch, one optimizer step and its micro-batches, evaluation.  These
-- locals are defined below, in that order.
local start, schedule, judge, final
local train_epoch, train_step, micro_batch, clip, grad_norm_columns

-- {====================== the run ======================

-- The run: every epoch trains, validates, schedules and judges; then the
-- best weights and the final numbers.  twin (optional) replaces the
-- epoch and the evaluation: {train_epoch = f(c, ctx, row), evaluate = f(c,
-- split, row, epoch, tables)}.  Returns the result table.
function M.run(c, twin)
  local train, evaluate = twin and twin.train_epoch or train_epoch, twin and twin.evaluate or M.evaluate
  local o = c.options
  local result = { history = {}, model = c.model, optimizer = c.optimizer }
  local ctx, first = start(c, result)
  local t_start = clock()
  call(c.hooks, "on_run_start", ctx)
  record(c.recorder, "run_start", ctx)
  for epoch = first, o.epochs do
    ctx.epoch = epoch
    local row = { epoch = epoch, lr = c.optimizer.param_groups and c.optimizer.param_groups[1].lr or nil }
    if ctx.resume_row then row, ctx.resume_row = ctx.resume_row, nil end
    -- settings a resume changed show in the first row trained with them
    if c.changes then row.changes, c.changes = c.changes, nil end
    ctx.row = row
    call(c.hooks, "on_epoch_start", ctx)
    -- 1. train
    local t0 = clock()
    local go_on = train(c, ctx, row)
    if ctx.interrupted then
      result.interrupted, result.steps, result.epochs = ctx.interrupted, ctx.step, #ctx.history
      return result
    end
    -- 2. SWA takes the epoch's weights in (from here to the epoch's
    --    checkpoint the last step boundary is gone: ctx.applying); validate
    --    (kept: the final numbers reuse them when nothing changed since)
    ctx.applying = average.swa_active(c.average, epoch)
    average.after_epoch(c.average, c, epoch)
    local val_tables = {}
    evaluate(c, "val", row, epoch, val_tables)
    ctx.last_val = c.data.val and { epoch = epoch, row = row, tables = val_tables } or nil
    call(c.hooks, "on_validation_end", ctx)
    row.time = clock() - t0
    -- 3. the epoch's scheduler step
    schedule(c, row)
    -- 4. the best model so far, and early stopping
    go_on = judge(c, ctx, result, row) and go_on
    -- 5. the history row, the summary line, hooks and the recorder
    ctx.history[#ctx.history + 1] = row
    c.progress:epoch_end(progress.summary(row, o.epochs))
    call(c.hooks, "on_epoch_end", ctx)
    record(c.recorder, "epoch_end", ctx, row)
    ctx.applying = false
    if ctx.stop and not row.stopped then row.stopped = "hook" end
    if row.stopped == "early_stopping" then c.progress:line(progress.early_stop_text(row, o.monitor, o.patience)) end
    if not go_on or ctx.stop then result.stopped = row.stopped; break end
  end
  -- 6. the best weights, the final numbers
  final(c, ctx, result, evaluate)
  result.steps, result.epochs, result.skipped = ctx.step, #ctx.history, ctx.skipped or 0
  result.grad_norms = ctx.grad_norms
  result.parameters = c.parameters
  result.time = clock() - t_start
  if c.dp then result.grad_transport = c.dp:transport() end
  call(c.hooks, "on_run_end", ctx)
  record(c.recorder, "run_end", ctx, result)
  return result
end

-- the context a run starts from: fresh, or a checkpoint's place (c.start)
-- with the best so far and a cut epoch's sums; returns ctx, first epoch
function start(c, result)
  local ctx = { experiment = c.experiment, model = c.model, optimizer = c.optimizer, epoch = 0, step = 0,
                history = result.history, stop = false, bad_epochs = 0 }
  local s = c.start
  -- clip_grad: every step's gradient norm, from the checkpoint's on
  if c.options.clip_grad then
    ctx.grad_norms = {}
    for i = 1, s and s.step or 0 do ctx.grad_norms[i] = s.grad_norms and s.grad_norms[i] or 0 / 0 end
  end
  if not s then return ctx, 1 end
  ctx.step, ctx.history, ctx.bad_epochs, ctx.skipped = s.step, s.history, s.bad_epochs, s.skipped
  ctx.best, ctx.best_state, result.history = s.best, s.best_state, s.history
  result.best = ctx.best
  if not s.epoch_done then
    ctx.resume_row, ctx.resume_sums, ctx.epoch_step, ctx.batch = s.row, s.sums, s.epoch_step, s.batch
    ctx.resume_metrics = s.metrics
  end
  return ctx, s.epoch_done and s.epoch + 1 or s.epoch
end

-- the epoch's scheduler step (ReduceLROnPlateau is given the monitored
-- value); SWALR's instead from SWA's start on
function schedule(c, row)
  if average.swa_active(c.average, row.epoch) then c.average.scheduler:step(); return end
  if not c.scheduler or c.options.scheduler_step == "batch" then return end
  if getmetatable(c.scheduler) == optim.lr_scheduler.ReduceLROnPlateau_class then
    c.scheduler:step(row[c.options.monitor])
  else
    c.scheduler:step()
  end
end

-- the best model so far and early stopping, on the monitored value;
-- false when patience ran out
function judge(c, ctx, result, row)
  local o = c.options
  local value = row[o.monitor]
  if improved(o, value, ctx.best and ctx.best.value) then
    ctx.bad_epochs = 0
    ctx.best = { epoch = row.epoch, value = value, monitor = o.monitor }
    result.best = ctx.best
    if o.keep_best then ctx.best_state = snapshot(average.model(c)) end
  else
    ctx.bad_epochs = ctx.bad_epochs + 1
  end
  if o.patience and ctx.bad_epochs >= o.patience then
    row.stopped = "early_stopping"
    return false
  end
  return true
end

-- the best weights back (into the averaged model, when there is one: the
-- result's model), then the final numbers on every split: the last
-- validation's when it saw these very weights, else a fresh evaluation
function final(c, ctx, result, evaluate)
  local last = ctx.last_val
  average.finish(c.average, c)
  result.model = average.model(c)
  if ctx.best_state then
    if not (last and last.epoch == result.best.epoch) then result.model:load_state_dict(ctx.best_state) end
    result.restored = result.best.epoch
    c.progress:line(progress.restored_text(result.best))
  end
  local reuse = last and last.epoch == ctx.epoch and (result.restored == nil or result.restored == last.epoch)
  result.final = {}
  for _, split in ipairs { "train", "val", "test" } do
    if c.data[split] and (split ~= "train" or c.options.final_train) then
      local row, tables = {}, {}
      if split == "val" and reuse then
        for k, v in pairs(last.row) do if k:sub(1, 4) == "val_" then row[k] = v end end
        tables = last.tables
      else
        evaluate(c, split, row, ctx.epoch, tables)
      end
      result.final[split] = {}
      for k, v in pairs(row) do result.final[split][k:sub(#split + 2)] = v end
      if tables.confusion then
        result.confusion = result.confusion or {}
        result.confusion[split] = tables.confusion
      end
    end
  end
  if result.final.test then c.progress:line("test  " .. progress.row_text(result.final.test)) end
end

-- }=====================================================================

-- {====================== one training epoch ======================

-- One training epoch; returns false when training must end (max_steps,
-- ctx.stop, an interrupt).
function train_epoch(c, ctx, row)
  local o = c.options
  -- 1. train mode, fresh metrics, this epoch's batches, the running sums
  local it, s, step, batch = M.epoch_start(c, ctx)
  ctx.batch = batch
  local finished = false
  while not finished do
    -- 2. gather one step's micro-batches
    local group, n_total = {}, 0
    for _ = 1, o.accumulate do
      local b = table.pack(it())
      if b[1] == nil then finished = true; break end
      b.size = batch_size(b[1])
      group[#group + 1], n_total = b, n_total + b.size
    end
    if #group == 0 then break end
    -- 3. the optimizer step over them
    train_step(c, ctx, group, n_total)
    step = step + 1
    ctx.step, ctx.epoch_step = ctx.step + 1, step
    M.step_end(c, ctx)
    if ctx.interrupted then return false end
    -- 4. progress, and the step limits
    c.progress:step(step, sums.running(s, c.metrics, o.train_metrics))
    if ctx.stop then row.stopped = "hook"; break end
    if o.max_steps and ctx.step >= o.max_steps then row.stopped = "max_steps"; break end
  end
  -- 5. the epoch's means (also of a cut-short epoch)
  return M.epoch_end(c, row, s, ctx)
end

-- The start of a training epoch: train mode, fresh metrics, this epoch's
-- batches, the progress display, the running sums with the epoch's step
-- and batch counts (a resumed cut epoch's: its batcher continues where
-- the checkpoint was, its metrics too).  Returns it, sums, step, batch.
function M.epoch_start(c, ctx)
  local o = c.options
  set_mode(c.model, true)
  for _, m in ipairs(c.metrics) do m.metric:reset() end
  local it, count = c.batcher:batches(c.data.train, M.shard(c, { split = "train", epoch = ctx.epoch, seed = o.seed,
    batch_size = o.batch_size, drop_last = o.drop_last, shuffle = o.shuffle }))
  c.progress:epoch_start(ctx.epoch, o.epochs, count and math.ceil(count / o.accumulate) or nil)
  local s, step, batch = sums.new(), 0, 0
  if ctx.resume_sums then
    s, step, batch = ctx.resume_sums, ctx.epoch_step, ctx.batch
    ctx.resume_sums = nil
    for i, m in ipairs(c.metrics) do
      local saved = ctx.resume_metrics and ctx.resume_metrics[i]
      if saved and saved.name == m.name and m.metric.set_state then m.metric:set_state(saved.state) end
    end
    ctx.resume_metrics = nil
  end
  ctx.sums, ctx.epoch_step = s, step
  ctx.skipped = ctx.skipped or 0
  return it, s, step, batch
end

-- One optimizer step over a group of micro-batches (accumulate of them):
-- zero the gradients, each micro-batch's backward, then the step.
function train_step(c, ctx, group, n_total)
  local opt = c.optimizer
  opt:zero_grad()
  local stepped = false
  for i, b in ipairs(group) do
    ctx.batch = ctx.batch + 1
    call(c.hooks, "on_batch_start", ctx)
    -- data-parallel: the last backward of the step reduces as it goes
    if c.dp and i == #group then c.dp:arm(ctx) end
    if micro_batch(c, ctx, b, #group == 1 and 1 or b.size / n_total) then
      stepped = true
      call(c.hooks, "on_batch_end", ctx)
    end
  end
  -- clipping, the step, the EMA, a per-batch scheduler (unless every
  -- micro-batch was skipped)
  M.optimizer_step(c, ctx, stepped, false)
end

-- One micro-batch: forward, the objective, backward (scaled so that the
-- step's micro-batches add up to the mean over all of them), training
-- metrics.  Returns false when its loss was not finite and is skipped.
function micro_batch(c, ctx, b, scale)
  -- 1. preprocess, forward (capturing intermediates the objective or metrics
  --    need), the objective: the one loss and its terms as numbers; in the
  --    run's precision
  local x, targets = inputs(c, b, true)
  local outputs, captured, ok, total, terms = precise(c, forward_objective, c, c.model, x, targets)
  if not ok then
    if type(total) ~= "table" then error(total, 0) end
    if c.options.on_nonfinite ~= "skip" then error(nonfinite_message(total, ctx.epoch, ctx.batch, "train"), 0) end
    ctx.skipped = ctx.skipped + 1
    return false
  end
  -- 2. backward
  if scale == 1 then total:backward() else (total * scale):backward() end
  sums.add(ctx.sums, terms, b.size)
  ctx.loss, ctx.terms = terms.loss, terms
  -- 3. training metrics, on the outputs already computed
  if c.options.train_metrics then sums.update_metrics(c.metrics, outputs, captured, targets) end
  return true
end

-- The end of an optimizer step whose micro-batches ran backward (stepped:
-- one of them was finite; in_c: the fast twin's C took the step, which it
-- does only without clipping): clipping, the step, the EMA, a per-batch
-- scheduler (not once SWA drives the learning rate).
function M.optimizer_step(c, ctx, stepped, in_c)
  -- data-parallel: the gradients averaged over the ranks first (a step
  -- any rank took is every rank's)
  if c.dp then stepped = c.dp:reduce_grads(stepped, ctx) end
  if not in_c then clip(c, ctx, stepped) end
  if not stepped then return end
  -- applying: the weights are half-updated until the step ends (an error
  -- now leaves no checkpoint of this step's boundary: clara.train.boundary)
  ctx.applying = true
  if not in_c then c.optimizer:step() end
  average.after_step(c.average, c.model)
  if c.scheduler and c.options.scheduler_step == "batch" and not average.swa_active(c.average, ctx.epoch) then
    c.scheduler:step()
  end
  ctx.applying = false
end

-- clip_grad: the gradients clipped (by their total norm, or each value),
-- the total norm before clipping kept for this step (ctx.grad_norm, and
-- the run's list ctx.grad_norms; NaN for a step without gradients)
function clip(c, ctx, stepped)
  local cg = c.options.clip_grad
  if not cg then return end
  local norm = 0 / 0
  if stepped then
    -- value clipping logs the norm too: a max_norm of inf scales by exactly 1
    norm = nn.utils.clip_grad_norm_(c.clip_params, cg.norm or math.huge, { norm_type = cg.norm_type or 2 }):item()
    if cg.value then nn.utils.clip_grad_value_(c.clip_params, cg.value) end
  end
  ctx.grad_norm = norm
  ctx.grad_norms[#ctx.grad_norms + 1] = norm
end

-- The end of an optimizer step: the hooks, the ranks agreeing on a stop
-- (data-parallel: every rank stops at the same step), the recorder.
function M.step_end(c, ctx)
  call(c.hooks, "on_step_end", ctx)
  if c.dp then c.dp:agree(ctx) end
  record(c.recorder, "step_end", ctx)
  if ctx.dp_signal then ctx.interrupted = ctx.interrupted or ctx.dp_signal end
end

-- The end of a training epoch: its means (also of a cut-short one); false
-- when training must end.
function M.epoch_end(c, row, s, ctx)
  M.reduce(c, s, c.options.train_metrics)
  sums.into(row, "train", s, c.columns)
  if c.options.train_metrics then sums.metrics_into(row, "train", c.metrics) end
  if ctx.grad_norms then grad_norm_columns(ctx, row) end
  return row.stopped == nil
end

-- the mean and the largest pre-clip gradient norm of the epoch's steps
-- (a step whose micro-batches were all skipped has none: NaN in the list)
function grad_norm_columns(ctx, row)
  local list = ctx.grad_norms
  local sum, n, max = 0, 0, nil
  for i = ctx.step - ctx.epoch_step + 1, ctx.step do
    local v = list[i]
    if v == v then
      sum, n = sum + v, n + 1
      if max == nil or v > max then max = v end
    end
  end
  row.grad_norm, row.grad_norm_max = n > 0 and sum / n or 0 / 0, max or 0 / 0
end

-- }=====================================================================

-- {====================== evaluation ======================

-- Loss, terms and metrics of a split in eval mode, without gradients, in
-- the run's precision, into row (and a confusion matrix into tables); the
-- model evaluated is the averaged one when there is one (average).
function M.evaluate(c, split, row, epoch, tables)
  if c.data[split] == nil then return end
  -- 1. eval mode, fresh metrics, the split's batches
  local it, was_training = M.evaluate_start(c, split, epoch)
  local s, model = sums.new(), average.model(c)
  torch.no_grad(function()
    -- 2. every batch: forward, objective, metrics (a non-finite batch counts as NaN)
    while true do
      local b = table.pack(it())
      if b[1] == nil then break end
      local x, targets = inputs(c, b)
      local outputs, captured, ok, err, terms = precise(c, forward_objective, c, model, x, targets)
      if not ok then
        if type(err) ~= "table" then error(err, 0) end
        terms = { loss = 0 / 0, raw = {}, weighted = {} }
      end
      sums.add(s, terms, batch_size(b[1]))
      sums.update_metrics(c.metrics, outputs, captured, targets)
    end
  end)
  -- 3. the split's columns, and the model's mode back
  M.evaluate_end(c, split, row, s, tables, was_training)
end

-- The start of an evaluation: eval mode, fresh metrics, the split's
-- batches; also whether the model was training (for evaluate_end).
function M.evaluate_start(c, split, epoch)
  local o = c.options
  local model = average.model(c)
  local was_training = model.training
  set_mode(model, false)
  for _, m in ipairs(c.metrics) do m.metric:reset() end
  local it = c.batcher:batches(c.data[split], M.shard(c, { split = split, epoch = epoch, seed = o.seed,
    batch_size = o.eval_batch_size or o.batch_size, evaluate = true }))
  return it, was_training
end

-- The end of an evaluation: the split's columns, the model's mode back.
function M.evaluate_end(c, split, row, s, tables, was_training)
  M.reduce(c, s, true)
  sums.into(row, split, s, c.columns)
  sums.metrics_into(row, split, c.metrics, tables)
  set_mode(average.model(c), was_training ~= false)
end

-- }=====================================================================

return M
