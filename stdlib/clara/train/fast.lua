-- clara.train.fast: the fast twin of clara.train.clear (impl = "fast"):
-- the same contract (c, hooks, recorder calls, checkpoints and exact
-- resume, history columns, result table) and the same numbers, bitwise.
--
-- What is faster: each micro-batch is one call into C (bindings/l_fused.c,
-- bindings/bridge/fused.cpp), which assembles the batch from the dataset's
-- tensors by the loader's permutation, runs zero_grad, forward, loss,
-- backward and the optimizer step, adds the running sums and counts the
-- correct predictions of accuracy metrics.  Lua sees numbers only; it
-- reads the sums once per step (the recorder and hooks see them as the
-- clear loop keeps them) and builds ctx.terms only when a hook reads it.
--
-- Where a piece does not apply, that piece runs as in clear.lua:
--   a model, objective or metric the fused step does not cover
--     (clara.train.fast.plan says which): the whole run is clear.run;
--   another optimizer (Lua's, LBFGS): its step() runs in Lua;
--   another batcher or dataset, or metrics reading more of the batch: the
--     batcher's batches, handed to C one by one;
--   preprocess, metrics other than accuracy: called in Lua per batch;
--   a batch the fused loss does not cover (shapes, dtypes, classes out of
--     range, a module that raises): C stops after the forward and the
--     batch ends here as in clear.lua, errors and all;
--   on_batch_start / on_batch_end hooks: zero_grad / the step in Lua, so
--     that they run where the clear loop runs them;
--   clip_grad: the clipping and the step in Lua, after C's backward;
--   average: the EMA/SWA updates in Lua (clear.lua's), and evaluation is
--     clear.lua's (the averaged model is not the chain C holds).
-- precision = "bf16": C runs forward and loss under CPU autocast, as
-- clear.lua does (core.AUTOCAST).
-- M.last_run tells what the last run did: {fused = micro-batches run in
-- C, in_lua = finished in Lua, reason = why the whole run was clear's}.
local torch = require "torch"
local clear = require "clara.train.clear"
local sums = require "clara.train.sums"
local plan = require "clara.train.fast.plan"
local batcher = require "clara.train.batcher"
local core = require "clara.train.fast.core"
local ocore = require "torch.optim.core"
local progress = require "clara.train.progress"

local call, forward = clear.call, clear.forward
local update_metrics, batch_size = sums.update_metrics, clear.batch_size
local TRAIN, EVAL, OK = core.TRAIN, core.EVAL, core.OK
local ZERO_GRAD, STEP, SCALED, KEEP, COUNT = core.ZERO_GRAD, core.STEP, core.SCALED, core.KEEP, core.COUNT
local AUTOCAST = core.AUTOCAST

local M = {}

local QUIET = getmetatable(progress.new { verbose = false, terminal = false })
local NO_STATS = {}

-- {====================== state shared with C ======================

-- a libtorch optimizer stepping in C gets the Lua groups' hyperparameters
-- first, as opt:step() hands them over (a scheduler may have changed them)
local function sync_options(opt)
  for g, group in ipairs(opt.param_groups) do ocore.set_options(opt._core, g, group) end
end

-- C's running sums continue from a Lua sums table
local function push_sums(F, which, s)
  local raw = s.raw[F.name]
  core.set_sums(F.st, which, s.n, s.loss, raw or 0, s.weighted[F.name] or 0, raw ~= nil)
end

-- C's running sums into the Lua table, and the predictions C counted into
-- the accuracy metrics: what clara.train.clear keeps in Lua, step by step
local function pull_sums(F, which, s)
  local n, loss, raw, weighted, terms, correct, count = core.sums(F.st, which, true)
  if n ~= s.n then
    s.n, s.loss = n, loss
    if terms then s.raw[F.name], s.weighted[F.name] = raw, weighted end
  end
  if count > 0 then
    for _, m in ipairs(F.plan.counted) do
      m.metric.correct, m.metric.count = m.metric.correct + correct, m.metric.count + count
    end
  end
end

-- ctx.loss and ctx.terms, read from C's last finite batch when asked
local function lazy_ctx(F)
  return { __index = function(_, k)
    if k ~= "loss" and k ~= "terms" then return nil end
    local raw, total = core.last(F.st)
    if raw == nil then return nil end
    if k == "loss" then return total end
    return { raw = { [F.name] = raw }, weighted = { [F.name] = raw * F.weight }, loss = total }
  end }
end

-- the loader of a split when C can assemble its batches (the default
-- batcher over a TensorDataset or Subsets of one): C gets the tensors and
-- this epoch's permutation
local function c_loader(F, split, ds, slot)
  local p = F.plan
  if not p.default_batcher or p.targets_beyond_1 then return nil end
  local x, y, map = plan.data_of(ds)
  local loader = F.c.batcher.loaders[split]
  if not x or not loader or loader.dataset ~= ds or not loader.fast or loader.perm == nil
      or loader.augment then return nil end
  core.data(F.st, slot, x, y, map and map:index_select(1, loader.perm) or loader.perm)
  return loader
end

-- }=================================================================

-- {====================== training ======================

-- the clear loop's forward (when C's raised) and objective, for a batch C
-- left to Lua, in the run's precision: outputs, captured, then pcall's results
local function objective_of(c, x, targets, outputs)
  local captured = {}
  if outputs == nil then outputs, captured = forward(c.model, x, c.captures) end
  return outputs, captured, pcall(c.objective.evaluate, c.objective, c.model, outputs, captured, targets)
end

local function lua_objective(c, x, targets, outputs)
  return clear.precise(c, objective_of, c, x, targets, outputs)
end

local function nonfinite(F, ctx, err)
  if F.c.options.on_nonfinite ~= "skip" then
    error(clear.nonfinite_message(err, ctx.epoch, ctx.batch, "train"), 0)
  end
  ctx.skipped = ctx.skipped + 1
end

-- the rest of a micro-batch as clear.lua runs it, when C stopped after
-- the forward (outputs nil: the forward raised in C; here it raises the
-- module's own error); returns whether the loss was finite
local function finish_train(F, ctx, x, targets, outputs, rows, scale)
  local c = F.c
  local captured, ok, total, terms
  outputs, captured, ok, total, terms = lua_objective(c, x, targets, outputs)
  if not ok then
    if type(total) ~= "table" then error(total, 0) end
    nonfinite(F, ctx, total)
    return false
  end
  if scale then (total * scale):backward() else total:backward() end
  core.add(F.st, TRAIN, rows, terms.loss, terms.raw[F.name], terms.weighted[F.name])
  if c.options.train_metrics then update_metrics(c.metrics, outputs, captured, targets) end
  F.run.in_lua = F.run.in_lua + 1
  return true
end

-- one micro-batch: x, y given (preprocessed, or the batcher's), or nil (C
-- takes rows [start, start + rows) of its permutation); targets: the
-- batch's targets when Lua has them.  Returns finite?, stepped in C?
local function train_micro(F, ctx, flags, start, rows, scale, x, y, targets)
  local scaled = flags & SCALED ~= 0 and scale or nil
  if x ~= nil and not (torch.is_tensor(x) and torch.is_tensor(y)) then
    if flags & ZERO_GRAD ~= 0 then F.c.optimizer:zero_grad() end
    return finish_train(F, ctx, x, targets, nil, rows, scaled), false
  end
  local status, value = core.train(F.st, flags, start, rows, scale, x, y)
  if status == OK then
    F.run.fused = F.run.fused + 1
    if flags & KEEP ~= 0 then
      local out, _, yk = core.take(F.st)
      update_metrics(F.plan.in_lua, { out }, {}, targets or { yk })
    end
    return true, flags & STEP ~= 0
  end
  if status == core.NONFINITE_TERM or status == core.NONFINITE_TOTAL then
    nonfinite(F, ctx, { nonfinite = status == core.NONFINITE_TERM and F.name or "loss", value = value })
    return false, false
  end
  local out, xk, yk = core.take(F.st)
  return finish_train(F, ctx, xk, targets or { yk }, out and { out } or nil, rows, scaled), false
end

-- a micro-batch's input: from C's permutation (through preprocess, when
-- there is one) or the batcher's batch g
local function train_batch(F, ctx, flags, g, rows, scale, from_c)
  if from_c then
    if not F.train_pre then return train_micro(F, ctx, flags, g, rows, scale) end
    local x, y = core.batch(F.st, TRAIN, g, rows)
    return train_micro(F, ctx, flags, 0, rows, scale, F.train_pre(x), y)
  end
  local x = F.train_pre and F.train_pre(g[1]) or g[1]
  local targets = { table.unpack(g, 2, g.n) }
  return train_micro(F, ctx, flags, 0, rows, scale, x, targets[1], targets)
end

-- one training epoch, step by step as clear.lua's; returns false when
-- training must end (max_steps, ctx.stop)
local function train_epoch(F, ctx, row)
  local c = F.c
  local o, opt, hooks = c.options, c.optimizer, c.hooks
  -- 1. train mode, fresh metrics, this epoch's batches, the running sums
  local it, s, step, batch = clear.epoch_start(c, ctx)
  push_sums(F, TRAIN, s)
  if getmetatable(ctx) == nil then setmetatable(ctx, lazy_ctx(F)) end
  local loader = c_loader(F, "train", c.data.train, TRAIN)
  local nb, group, rows_of = loader and #loader, F.group, F.rows
  local finished = false
  while not finished do
    -- 2. gather one step's micro-batches: positions in C's permutation,
    --    or the batcher's batches
    local k, n_total = 0, 0
    for _ = 1, o.accumulate do
      local g, rows
      if loader then
        local pos = loader.position
        if pos >= nb then finished = true; break end
        loader.position = pos + 1
        g = pos * loader.batch_size
        rows = math.min(loader.batch_size, loader.n - g)
      else
        g = table.pack(it())
        if g[1] == nil then finished = true; break end
        rows = batch_size(g[1])
      end
      k = k + 1
      group[k], rows_of[k], n_total = g, rows, n_total + rows
    end
    if k == 0 then break end
    -- 3. each micro-batch in one call: zero_grad (first), forward, loss,
    --    backward scaled to the step's mean, and the step when it is alone
    local step_in_c = F.plan.step_in_c and k == 1 and not hooks.on_batch_end
    local zero_in_c = F.plan.step_in_c and not hooks.on_batch_start
    if not zero_in_c then opt:zero_grad() end
    local stepped, c_stepped = false, false
    for j = 1, k do
      batch = batch + 1
      ctx.batch = batch
      if hooks.on_batch_start then pull_sums(F, TRAIN, s); call(hooks, "on_batch_start", ctx) end
      if c.dp and j == k then c.dp:arm(ctx) end
      local flags = F.train_flags | (j == 1 and zero_in_c and ZERO_GRAD or 0) | (k > 1 and SCALED or 0)
      if step_in_c then flags = flags | STEP; sync_options(opt) end
      local finite, in_c = train_batch(F, ctx, flags, group[j], rows_of[j], rows_of[j] / n_total, loader ~= nil)
      if finite then
        stepped, c_stepped = true, c_stepped or in_c
        ctx.loss, ctx.terms = nil, nil -- C's, read when asked
        if hooks.on_batch_end then pull_sums(F, TRAIN, s); call(hooks, "on_batch_end", ctx) end
      end
    end
    -- 4. clipping and the optimizer step (unless C took it), a per-batch
    --    scheduler: clear.lua's
    clear.optimizer_step(c, ctx, stepped, c_stepped)
    step = step + 1
    ctx.step, ctx.epoch_step = ctx.step + 1, step
    pull_sums(F, TRAIN, s)
    clear.step_end(c, ctx)
    if ctx.interrupted then return false end
    -- 5. progress: the running stats only for a display that shows them
    c.progress:step(step, F.quiet and NO_STATS or sums.running(s, c.metrics, o.train_metrics))
    if ctx.stop then row.stopped = "hook"; break end
    if o.max_steps and ctx.step >= o.max_steps then row.stopped = "max_steps"; break end
  end
  -- 6. the epoch's means (also of a cut-short epoch)
  pull_sums(F, TRAIN, s)
  return clear.epoch_end(c, row, s, ctx)
end

-- }=================================================================

-- {====================== evaluation ======================

-- a batch as clear.lua's evaluate runs it, when C stopped after the forward
local function finish_eval(F, x, targets, outputs, rows)
  local c = F.c
  local captured, ok, err, terms
  outputs, captured, ok, err, terms = lua_objective(c, x, targets, outputs)
  if not ok then
    if type(err) ~= "table" then error(err, 0) end
    core.add(F.st, EVAL, rows, 0 / 0)
  else
    core.add(F.st, EVAL, rows, terms.loss, terms.raw[F.name], terms.weighted[F.name])
  end
  update_metrics(c.metrics, outputs, captured, targets)
  F.run.in_lua = F.run.in_lua + 1
end

-- one batch: rows [start, start + rows) of C's permutation, or the
-- batcher's batch b
local function eval_batch(F, start, rows, b)
  local x, y, targets
  if b then
    x = F.pre and F.pre(b[1]) or b[1]
    targets = { table.unpack(b, 2, b.n) }
    y = targets[1]
    if not (torch.is_tensor(x) and torch.is_tensor(y)) then return finish_eval(F, x, targets, nil, rows) end
  elseif F.pre then
    x, y = core.batch(F.st, EVAL, start, rows)
    x = F.pre(x)
  end
  if core.eval(F.st, F.eval_flags, start, rows, x, y) == OK then
    F.run.fused = F.run.fused + 1
    if F.eval_flags & KEEP ~= 0 then
      local out, _, yk = core.take(F.st)
      update_metrics(F.plan.in_lua, { out }, {}, targets or { yk })
    end
    return
  end
  local out, xk, yk = core.take(F.st)
  finish_eval(F, xk, targets or { yk }, out and { out } or nil, rows)
end

-- loss, terms and metrics of a split in eval mode, without gradients
local function evaluate(F, split, row, epoch, tables)
  local c = F.c
  local ds = c.data[split]
  if ds == nil then return end
  -- 1. eval mode, fresh metrics and sums, the split's batches
  local it, was_training = clear.evaluate_start(c, split, epoch)
  local s = sums.new()
  push_sums(F, EVAL, s)
  local key = batcher.key { split = split, evaluate = true, world_size = c.dp and c.dp.world_size }
  local loader = c_loader(F, key, ds, EVAL)
  torch.no_grad(function()
    -- 2. every batch: forward, objective, metrics
    if loader then
      for pos = loader.position, #loader - 1 do
        loader.position = pos + 1
        local start = pos * loader.batch_size
        eval_batch(F, start, math.min(loader.batch_size, loader.n - start))
      end
      return
    end
    while true do
      local b = table.pack(it())
      if b[1] == nil then break end
      eval_batch(F, 0, batch_size(b[1]), b)
    end
  end)
  -- 3. the split's columns, and the model's mode back
  pull_sums(F, EVAL, s)
  clear.evaluate_end(c, split, row, s, tables, was_training)
end

-- }=================================================================

function M.run(c)
  local p, reason = plan.build(c)
  M.last_run = { fused = 0, in_lua = 0, reason = reason }
  if not p then return clear.run(c) end
  local counted, in_lua = #p.counted > 0, #p.in_lua > 0
  local train_metrics = c.options.train_metrics
  local autocast = c.options.precision == "bf16" and AUTOCAST or 0
  local F = {
    c = c, plan = p, st = core.new(p.handles, p.opt_core, p.loss, p.term.weight),
    name = p.term.name, weight = p.term.weight, pre = c.preprocess, run = M.last_run,
    train_pre = c.augment and function(x)
      x = c.augment(x)
      return c.preprocess and c.preprocess(x) or x
    end or c.preprocess,
    quiet = getmetatable(c.progress) == QUIET and not c.progress.verbose,
    train_flags = (train_metrics and counted and COUNT or 0) | (train_metrics and in_lua and KEEP or 0) | autocast,
    eval_flags = (counted and COUNT or 0) | (in_lua and KEEP or 0) | autocast,
    group = {}, rows = {}, -- one step's micro-batches, reused
  }
  -- averaged weights are evaluated in another model than C's chain
  return clear.run(c, {
    train_epoch = function(_, ctx, row) return train_epoch(F, ctx, row) end,
    evaluate = not c.average and function(_, split, row, epoch, tables) return evaluate(F, split, row, epoch, tables) end
      or nil,
  })
end

return M
