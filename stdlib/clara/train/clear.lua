-- clara.train.clear: the reference training loop, readable top to bottom.
-- Slow where clarity costs speed; faster loops must give its results.
--
-- run(c) takes what clara.experiment prepared (c: model, optimizer,
-- scheduler, objective, metrics, batcher, data, preprocess, hooks,
-- recorder, progress, options, parameters (the model's count, for the report)) and returns the result table.
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
      error("clara.experiment: intermediate results need a model with capture (an nn.Module)", 0)
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

local function nonfinite_message(err, epoch, batch, split)
  return ("clara.experiment: non-finite loss in %s at epoch %d, batch %d: term '%s' is %s")
    :format(split, epoch, batch, err.nonfinite, tostring(err.value))
end

-- one training epoch: returns false when training must end (max_steps, ctx.stop)
local function train_epoch(c, ctx, row)
  local o, model, opt = c.options, c.model, c.optimizer
  -- 1. train mode, fresh metrics, this epoch's batches
  set_mode(model, true)
  for _, m in ipairs(c.metrics) do m.metric:reset() end
  local it, count = c.batcher:batches(c.data.train, { split = "train", epoch = ctx.epoch, seed = o.seed,
    batch_size = o.batch_size, drop_last = o.drop_last, shuffle = o.shuffle })
  local steps_per_epoch = count and math.ceil(count / o.accumulate) or nil
  c.progress:epoch_start(ctx.epoch, o.epochs, steps_per_epoch)
  local sums, step, batch, finished = new_sums(), 0, 0, false
  if ctx.resume_sums then
    -- a resumed cut epoch: its batcher continues where the checkpoint was
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
  sums_into(row, "train", sums, c.columns)
  if o.train_metrics then metrics_into(row, "train", c.metrics) end
  return row.stopped == nil
end

-- loss, terms and metrics of a split in eval mode, without gradients
function M.evaluate(c, split, row, epoch, tables)
  local ds = c.data[split]
  if ds == nil then return end
  local model, o = c.model, c.options
  -- 1. eval mode, fresh metrics
  local was_training = model.training
  set_mode(model, false)
  for _, m in ipairs(c.metrics) do m.metric:reset() end
  local sums, batch = new_sums(), 0
  torch.no_grad(function()
    local it = c.batcher:batches(ds, { split = split, epoch = epoch, seed = o.seed,
      batch_size = o.eval_batch_size or o.batch_size })
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
  -- 3. the split's columns
  sums_into(row, split, sums, c.columns)
  metrics_into(row, split, c.metrics, tables)
  set_mode(model, was_training ~= false)
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

function M.run(c)
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
    ctx.row = row
    call(c.hooks, "on_epoch_start", ctx)
    -- 1. train
    local t0 = clock()
    local go_on = train_epoch(c, ctx, row)
    if ctx.interrupted then
      result.interrupted, result.steps, result.epochs = ctx.interrupted, ctx.step, #ctx.history
      return result
    end
    -- 2. validate
    M.evaluate(c, "val", row, epoch)
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
  -- 6. restore the best weights, then the final numbers on every split
  if ctx.best_state then
    c.model:load_state_dict(ctx.best_state)
    result.restored = result.best.epoch
  end
  result.final = {}
  for _, split in ipairs { "train", "val", "test" } do
    if c.data[split] and (split ~= "train" or o.final_train) then
      local row, tables = {}, {}
      M.evaluate(c, split, row, ctx.epoch, tables)
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
