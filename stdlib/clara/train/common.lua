-- clara.train.common: what the training loops share (clara.train.clear,
-- the reference, and clara.train.fast, its fast twin): the run itself
-- (epochs, validation, schedulers, best weights, early stopping, history,
-- final evaluation) and the helpers of an epoch.
--
-- run(c, impl) takes what clara.experiment prepared (c: model, optimizer,
-- scheduler, objective, metrics, batcher, data, preprocess, hooks,
-- recorder, progress, options, parameters (the model's count, for the
-- report)) and a loop's two pieces, impl.train_epoch(c, ctx, row) -> go on?
-- and impl.evaluate(c, split, row, epoch, tables), and returns the result
-- table.
--
-- Hooks (c.hooks, each optional, called with the context `ctx`):
--   on_run_start, on_epoch_start, on_batch_start, on_batch_end (after each
--   micro-batch's backward), on_step_end (after each optimizer step),
--   on_validation_end, on_epoch_end (ctx.row is the history row), on_run_end.
-- Setting ctx.stop = true in a hook ends training after the current step.
--
-- The recorder (c.recorder; clara.run plugs in here to write runs to
-- disk): an object whose optional methods are called as
--   recorder:run_start(ctx)  recorder:step_end(ctx)
--   recorder:epoch_end(ctx, row)  recorder:run_end(ctx, result)
-- The default records nothing: the result stays in memory.
-- A recorder may set ctx.interrupted (a reason, e.g. a signal's name) in
-- step_end: the loop then returns at once, result.interrupted = reason,
-- without a history row for the cut epoch nor final evaluation.
--
-- c.start (a checkpoint, see clara.train.checkpoint) resumes the loop where
-- it was written: epoch, step, history, best so far, a cut epoch's sums.
local torch = require "torch"
local E = require "clara.error"
local objective = require "clara.train.objective"
local optim = require "torch.optim"
local clock = require("clara.train.progress").clock

local M = {}

local function call(hooks, name, ctx)
  local f = hooks[name]
  if f then f(ctx) end
end

local function record(recorder, name, ...)
  if recorder and recorder[name] then recorder[name](recorder, ...) end
end

-- the model's results as a list: several returns, or one Lua table of them
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

-- running sums of the losses and terms, weighted by samples
local function new_sums() return { n = 0, loss = 0, raw = {}, weighted = {} } end

local function add_sums(s, terms, n)
  s.n = s.n + n
  s.loss = s.loss + terms.loss * n
  for k, v in pairs(terms.raw) do s.raw[k] = (s.raw[k] or 0) + v * n end
  for k, v in pairs(terms.weighted) do s.weighted[k] = (s.weighted[k] or 0) + v * n end
end

-- the split's columns: <split>_loss, <split>_<term>, <split>_<term>_w
local function sums_into(row, split, s, columns)
  if s.n == 0 then return end
  row[split .. "_loss"] = s.loss / s.n
  for _, col in ipairs(columns) do
    local name, kind = col[1], col[2]
    local v = s[kind][name]
    if v then row[split .. "_" .. name .. (kind == "weighted" and "_w" or "")] = v / s.n end
  end
end

-- metrics: each reads an output, an intermediate or a user combination
local function update_metrics(metrics, outputs, captured, targets)
  for _, m in ipairs(metrics) do
    local out, target
    if m.select then
      out, target = m.select(outputs, captured, targets)
    else
      out = objective.pick(m.intermediate and "intermediate" or "output", m.intermediate or m.output, outputs, captured)
      target = m.target and targets[m.target] or nil
    end
    m.metric:update(out, target)
  end
end

-- numbers go into the row; a confusion matrix (a table) into `tables`
local function metrics_into(row, split, metrics, tables)
  for _, m in ipairs(metrics) do
    local v = m.metric:compute()
    if type(v) == "number" then row[split .. "_" .. m.name] = v
    elseif tables and type(v) == "table" and m.metric.name == "confusion_matrix" then tables.confusion = v end
    m.metric:reset()
  end
end

local function running_stats(s, metrics, with_metrics)
  local stats = { { "loss", s.n > 0 and s.loss / s.n or nil } }
  if with_metrics then
    for _, m in ipairs(metrics) do
      local v = m.metric.count > 0 and m.metric:compute() or nil
      if type(v) == "number" then stats[#stats + 1] = { m.name, v } end
    end
  end
  return stats
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

-- the start of a training epoch: train mode, fresh metrics, this epoch's
-- batches (it, count), the progress display, and the running sums with
-- the epoch's step and batch counts (those of a resumed cut epoch, whose
-- batcher continues where the checkpoint was, and metrics too)
local function begin_epoch(c, ctx)
  local o = c.options
  set_mode(c.model, true)
  for _, m in ipairs(c.metrics) do m.metric:reset() end
  local it, count = c.batcher:batches(c.data.train, { split = "train", epoch = ctx.epoch, seed = o.seed,
    batch_size = o.batch_size, drop_last = o.drop_last, shuffle = o.shuffle })
  local steps_per_epoch = count and math.ceil(count / o.accumulate) or nil
  c.progress:epoch_start(ctx.epoch, o.epochs, steps_per_epoch)
  local sums, step, batch = new_sums(), 0, 0
  if ctx.resume_sums then
    sums, step, batch = ctx.resume_sums, ctx.epoch_step, ctx.batch
    ctx.resume_sums = nil
    for i, m in ipairs(c.metrics) do
      local saved = ctx.resume_metrics and ctx.resume_metrics[i]
      if saved and saved.name == m.name and m.metric.set_state then m.metric:set_state(saved.state) end
    end
    ctx.resume_metrics = nil
  end
  ctx.sums = sums
  ctx.skipped = ctx.skipped or 0
  return it, sums, step, batch
end

-- the end of a training epoch: its means (also of a cut-short one); false
-- when training must end
local function end_epoch(c, row, sums)
  sums_into(row, "train", sums, c.columns)
  if c.options.train_metrics then metrics_into(row, "train", c.metrics) end
  return row.stopped == nil
end

-- the start of an evaluation: eval mode, fresh metrics, the split's
-- batches; also whether the model was training (for end_evaluate)
local function begin_evaluate(c, split, epoch)
  local o = c.options
  local was_training = c.model.training
  set_mode(c.model, false)
  for _, m in ipairs(c.metrics) do m.metric:reset() end
  local it = c.batcher:batches(c.data[split], { split = split, epoch = epoch, seed = o.seed,
    batch_size = o.eval_batch_size or o.batch_size })
  return it, was_training
end

-- the end of an evaluation: the split's columns, the model's mode back
local function end_evaluate(c, split, row, sums, tables, was_training)
  sums_into(row, split, sums, c.columns)
  metrics_into(row, split, c.metrics, tables)
  set_mode(c.model, was_training ~= false)
end

M.call, M.record, M.forward, M.set_mode, M.batch_size = call, record, forward, set_mode, batch_size
M.new_sums, M.add_sums, M.sums_into = new_sums, add_sums, sums_into
M.update_metrics, M.metrics_into, M.running_stats = update_metrics, metrics_into, running_stats
M.nonfinite_message, M.improved, M.snapshot = nonfinite_message, improved, snapshot
M.begin_epoch, M.end_epoch = begin_epoch, end_epoch
M.begin_evaluate, M.end_evaluate = begin_evaluate, end_evaluate

function M.run(c, impl)
  local o = c.options
  local ctx = { experiment = c.experiment, model = c.model, optimizer = c.optimizer, epoch = 0, step = 0,
                history = {}, stop = false }
  local result = { history = ctx.history, model = c.model, optimizer = c.optimizer }
  local first = 1
  ctx.bad_epochs = 0
  if c.start then
    -- a resume: the checkpoint's place, and the best so far
    local s = c.start
    ctx.step, ctx.history, ctx.bad_epochs, ctx.skipped = s.step, s.history, s.bad_epochs, s.skipped
    ctx.best, ctx.best_state, result.history = s.best, s.best_state, s.history
    if ctx.best then result.best = ctx.best end
    first = s.epoch_done and s.epoch + 1 or s.epoch
    if not s.epoch_done then
      ctx.resume_row, ctx.resume_sums, ctx.epoch_step, ctx.batch = s.row, s.sums, s.epoch_step, s.batch
      ctx.resume_metrics = s.metrics
    end
  end
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
    local go_on = impl.train_epoch(c, ctx, row)
    if ctx.interrupted then
      result.interrupted, result.steps, result.epochs = ctx.interrupted, ctx.step, #ctx.history
      return result
    end
    -- 2. validate (kept: the final numbers reuse them when nothing changed since)
    local val_tables = {}
    impl.evaluate(c, "val", row, epoch, val_tables)
    ctx.last_val = c.data.val and { epoch = epoch, row = row, tables = val_tables } or nil
    call(c.hooks, "on_validation_end", ctx)
    row.time = clock() - t0
    -- 3. the epoch scheduler (ReduceLROnPlateau is given the monitored value)
    if c.scheduler and o.scheduler_step ~= "batch" then
      if getmetatable(c.scheduler) == optim.lr_scheduler.ReduceLROnPlateau_class then
        c.scheduler:step(row[o.monitor])
      else
        c.scheduler:step()
      end
    end
    -- 4. the best model so far, and early stopping, on the monitored value
    local value = row[o.monitor]
    if improved(o, value, ctx.best and ctx.best.value) then
      ctx.bad_epochs = 0
      ctx.best = { epoch = epoch, value = value, monitor = o.monitor }
      result.best = ctx.best
      if o.keep_best then ctx.best_state = snapshot(c.model) end
    else
      ctx.bad_epochs = ctx.bad_epochs + 1
    end
    if o.patience and ctx.bad_epochs >= o.patience then
      row.stopped = "early_stopping"
      go_on = false
    end
    -- 5. the history row, the summary line, hooks and the recorder
    ctx.history[#ctx.history + 1] = row
    c.progress:epoch_end(M.summary(row, o.epochs))
    call(c.hooks, "on_epoch_end", ctx)
    record(c.recorder, "epoch_end", ctx, row)
    if ctx.stop and not row.stopped then row.stopped = "hook" end
    if not go_on or ctx.stop then result.stopped = row.stopped; break end
  end
  -- 6. restore the best weights, then the final numbers on every split (the
  --    last validation's when it saw these very weights)
  local last = ctx.last_val
  if ctx.best_state then
    if not (last and last.epoch == result.best.epoch) then c.model:load_state_dict(ctx.best_state) end
    result.restored = result.best.epoch
  end
  local reuse = last and last.epoch == ctx.epoch and (result.restored == nil or result.restored == last.epoch)
  result.final = {}
  for _, split in ipairs { "train", "val", "test" } do
    if c.data[split] and (split ~= "train" or o.final_train) then
      local row, tables = {}, {}
      if split == "val" and reuse then
        for k, v in pairs(last.row) do if k:sub(1, 4) == "val_" then row[k] = v end end
        tables = last.tables
      else
        impl.evaluate(c, split, row, ctx.epoch, tables)
      end
      result.final[split] = {}
      for k, v in pairs(row) do result.final[split][k:sub(#split + 2)] = v end
      if tables.confusion then
        result.confusion = result.confusion or {}
        result.confusion[split] = tables.confusion
      end
    end
  end
  if result.final.test then
    c.progress:line("test  " .. M.row_text(result.final.test))
  end
  result.steps, result.epochs, result.skipped = ctx.step, #ctx.history, ctx.skipped or 0
  result.parameters = c.parameters
  result.time = clock() - t_start
  call(c.hooks, "on_run_end", ctx)
  record(c.recorder, "run_end", ctx, result)
  return result
end

-- "loss 0.3 acc 0.9" from a table of values, sorted by name, loss first
function M.row_text(t)
  local keys = {}
  for k, v in pairs(t) do if type(v) == "number" and k ~= "loss" then keys[#keys + 1] = k end end
  table.sort(keys)
  local parts = { t.loss and ("loss %.4g"):format(t.loss) or nil }
  for _, k in ipairs(keys) do parts[#parts + 1] = ("%s %.4g"):format(k, t[k]) end
  return table.concat(parts, "  ")
end

function M.summary(row, epochs)
  local keys = {}
  for k, v in pairs(row) do
    if type(v) == "number" and k ~= "epoch" and k ~= "time" and k ~= "lr" and not k:find("_w$") then
      keys[#keys + 1] = k
    end
  end
  table.sort(keys)
  local parts = { ("epoch %d/%d"):format(row.epoch, epochs) }
  for _, k in ipairs(keys) do parts[#parts + 1] = ("%s %.4g"):format(k, row[k]) end
  parts[#parts + 1] = ("(%.1fs)"):format(row.time or 0)
  return table.concat(parts, "  ")
end

return M
