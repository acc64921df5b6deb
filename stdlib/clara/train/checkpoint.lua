-- clara.train.checkpoint: connects a training loop (clara.train.clear) to
-- a run directory (clara.run) and to clara.signal.
--
-- recorder(r, c, opts) is the loop's recorder: it writes config.json and
-- model.txt at the start, each epoch's row to history.csv, best.pt when the
-- monitored value improves, checkpoint.pt every opts.every steps and at
-- each epoch's end, model.pt then report.md/.json (the mark of completion,
-- last) at the end.  With
-- opts.signals, a pending signal (clara.signal) at a step boundary writes
-- the checkpoint and sets ctx.interrupted: the loop returns at once with
-- result.interrupted = "TERM" (the CLI then exits with code 75).
--
-- A checkpoint holds everything an exact resume needs: weights, optimizer
-- and scheduler state, epoch, step and batch position, the loaders' states
-- (permutations), torch's RNG state, the history, the best value and
-- weights, and the running sums of a cut epoch.  restore(c, state) puts the
-- objects back and returns what the loop starts from (c.start).
local run = require "clara.run"
local json = require "clara.run.json"
local E = require "clara.error"
local average = require "clara.train.average"
local keep = require "clara.train.keep"
local boundary = require "clara.train.boundary"

local M = {}

-- 1. the experiment's settings for config.json: what its option schema
-- (clara.experiment.options) records, and which were left unset
function M.config(exp)
  local O = require "clara.experiment.options"
  local settings, unset = O.record(exp)
  local cfg = { kind = "run", unset = unset }
  for k, v in pairs(settings) do cfg[k] = v end
  -- pre- and post-processing that describe themselves (clara.transforms),
  -- so that clara.load_run can rebuild them
  for _, k in ipairs { "preprocess", "augment", "postprocess" } do
    local v = exp[k]
    if type(v) == "table" and type(v.describe) == "function" then
      local ok, d = pcall(v.describe, v)
      if ok and O.plain(d, 0) then cfg[k] = d end
    end
  end
  -- the class-to-index mapping of image folders (clara.data.ImageFolder)
  cfg.class_to_idx = require("clara.data.image_folder").class_to_idx_of(exp.data)
  return cfg
end

-- 2. the checkpoint: a table torch.save takes (string keys or 1..n lists)
local function copy_row(row)
  local t = {}
  for k, v in pairs(row or {}) do t[k] = v end
  return t
end

function M.capture(c, ctx, at_epoch_end)
  local state = {
    format = 1, epoch = ctx.epoch, step = ctx.step, epoch_done = at_epoch_end,
    model = c.model:state_dict(), optimizer = c.optimizer:state_dict(),
    rng = run.rng_state(), history = {}, bad_epochs = ctx.bad_epochs or 0, skipped = ctx.skipped or 0,
  }
  for i, row in ipairs(ctx.history) do state.history[i] = copy_row(row) end
  if c.scheduler and c.scheduler.state_dict then state.scheduler = c.scheduler:state_dict() end
  -- the train loader only: evaluation loaders start afresh each time
  if c.batcher.state then state.loaders = { train = c.batcher:state().train } end
  if ctx.best then state.best = copy_row(ctx.best) end
  if ctx.best_state then state.best_state = ctx.best_state end
  -- clip_grad's per-step norms; the averaged weights (and SWALR's state)
  state.grad_norms, state.average = ctx.grad_norms, average.state(c.average)
  if not at_epoch_end then
    -- a cut epoch: where it is, and the sums its row will be made from
    state.row, state.epoch_step, state.batch = copy_row(ctx.row), ctx.epoch_step, ctx.batch
    state.sums = { n = ctx.sums.n, loss = ctx.sums.loss, raw = copy_row(ctx.sums.raw),
                   weighted = copy_row(ctx.sums.weighted) }
    -- the training metrics' running sums (metrics without state() restart)
    state.metrics = {}
    for i, m in ipairs(c.metrics) do
      if type(m.metric.state) == "function" then state.metrics[i] = { name = m.name, state = m.metric:state() } end
    end
  end
  return state
end

-- restore(c, state) -> start (for clear.run): the objects get their state
-- back; the RNG last, after every factory has drawn what it draws
function M.restore(c, state)
  if type(state) ~= "table" or state.format ~= 1 then
    E.raise("clara.experiment", "not a checkpoint written by clara.train.checkpoint")
  end
  if c.dp then state = c.dp:own(state) end
  c.model:load_state_dict(state.model)
  c.optimizer:load_state_dict(state.optimizer)
  if state.scheduler and c.scheduler then c.scheduler:load_state_dict(state.scheduler) end
  if state.loaders and c.batcher.set_state then c.batcher:set_state(state.loaders, not state.epoch_done) end
  average.set_state(c.average, state.average)
  run.set_rng_state(state.rng)
  return state
end

-- 3. the recorder clara.train.clear calls; `user` (the experiment's own
-- recorder, if any) is called too.  opts.keep: the checkpoint policy
-- (clara.train.keep.policy): the kept per-epoch checkpoints, and
-- save_on_error: rec:failed() after an error writes the checkpoint of the
-- last step boundary (clara.train.boundary) and says what it did.
function M.recorder(r, c, opts)
  opts = opts or {}
  local signal = opts.signals and require "clara.signal" or nil
  local user = opts.user
  local rec = {}
  local function pass(name, ...)
    if user and user[name] then user[name](user, ...) end
  end
  -- a foreign model or optimizer (no state_dict) runs without checkpoints
  local savable = type(c.model.state_dict) == "function" and type(c.optimizer.state_dict) == "function"
  local policy = opts.keep or keep.policy(nil)
  local keeper = savable and policy.active and keep.new(r, policy, c.options.monitor, c.options.mode) or nil
  local on_error = savable and policy.save_on_error
  -- the run's context, and its last step boundary: {disk = true} when
  -- checkpoint.pt holds it, else what clara.train.boundary kept of it
  local seen, last, buffers, written
  local function save(ctx, at_epoch_end)
    if not savable then return end
    local state = M.capture(c, ctx, at_epoch_end)
    -- data-parallel: every rank's own part (its RNG, loader, sums)
    if c.dp then state.ranks = c.dp:gather(c.dp.part(c, ctx, at_epoch_end)) end
    r:save_checkpoint(state)
    last, written = { disk = true, step = ctx.step }, ctx.step
  end
  function rec:run_start(ctx)
    if not opts.resumed then
      -- after the on_run_start hooks: a preprocessing they fit is saved fitted
      r:write_config(M.config(c.experiment))
      r:write_model_txt { model = c.model, preprocess = c.experiment.preprocess,
                          postprocess = c.experiment.postprocess, augment = c.experiment.augment }
    end
    seen, last, written = ctx, { disk = opts.resumed, step = ctx.step }, opts.resumed and ctx.step or nil
    if on_error then buffers = boundary.buffers(c.model) end
    if keeper then keeper:start(ctx.history, c.start and c.start.epoch_done and r:path("checkpoint.pt")) end
    pass("run_start", ctx)
  end
  function rec:step_end(ctx)
    pass("step_end", ctx)
    -- data-parallel: a signal any rank had, agreed (clara.train.distributed)
    local sig = ctx.dp_signal or (not c.dp and signal and signal.pending()) or nil
    if sig or (opts.every and ctx.step % opts.every == 0) then
      save(ctx, false)
    elseif on_error then
      last = boundary.mark(c, ctx, buffers)
    end
    if sig then ctx.interrupted = sig end
  end
  function rec:epoch_end(ctx, row)
    r:append_history(row)
    if ctx.grad_norms then M.write_grad_norms(r, ctx.grad_norms) end
    if ctx.best and ctx.best.epoch == row.epoch and ctx.best_state then
      r:save_checkpoint(ctx.best_state, "best.pt")
    end
    save(ctx, true)
    if keeper then keeper:epoch_end(row, r:path("checkpoint.pt")) end
    pass("epoch_end", ctx, row)
  end
  function rec:run_end(ctx, result)
    if keeper then result.checkpoints = keeper:list() end
    -- the weights first: report.json marks the run done
    if savable then r:save_model(result.model or c.model) end
    r:write_report(result)
    pass("run_end", ctx, result)
  end
  -- after an error: the last step boundary's checkpoint, when it is not
  -- on disk yet; returns a sentence for error.txt (nil: nothing to say)
  function rec:failed()
    if not (on_error and seen and last) then return nil end
    -- data-parallel: the other ranks' parts cannot be gathered after an error
    if c.dp then return written and ("checkpoint.pt is the last one written (step " .. written .. ")") or nil end
    local ctx, state, why = seen, nil, nil
    if ctx.applying then
      why = ("the error came while step %d was applied (the weights half-updated)"):format(ctx.step + 1)
    elseif ctx.step == last.step + 1 then
      state = M.capture(c, ctx, false)   -- in the boundary's hooks: the objects are the boundary's
    elseif last.disk or ctx.step == 0 then
      return last.disk and ("checkpoint.pt holds the last step boundary before the error (step %d)")
        :format(ctx.step) or nil
    else
      state, why = boundary.state(c, ctx, last, buffers, M.capture)
    end
    if state then
      local ok, err = pcall(r.save_checkpoint, r, state)
      if ok then
        return ("checkpoint.pt: step %d, the last step boundary before the error (resume continues from it)")
          :format(state.step)
      end
      why = "writing it failed: " .. tostring(err)
    end
    return ("no checkpoint of the step boundary before the error: %s; %s"):format(why,
      written and ("checkpoint.pt is the last one written (step " .. written .. ")")
      or "there is no checkpoint.pt (a resume has nothing to continue: run it again)")
  end
  return rec
end

-- clip_grad's gradient norm of every step so far, grad_norm.csv (rewritten
-- whole from the list a checkpoint holds: a resume neither repeats nor
-- loses a step)
function M.write_grad_norms(r, list)
  local lines = { "step,grad_norm" }
  for i, v in ipairs(list) do lines[#lines + 1] = ("%d,%.17g"):format(i, v) end
  require("clara.fs").write_atomic(r:path("grad_norm.csv"), table.concat(lines, "\n") .. "\n")
end

-- 4. the run directory a resume continues: resume = true is the newest
-- run of the experiment (run ids begin with the UTC time), else a path.
-- Errors name the user's line
function M.find(out_dir, name, resume)
  local fs = require "clara.fs"
  if type(resume) == "string" then
    if not fs.isdir(resume) then E.raise("clara.experiment", "resume: '%s' is not a directory (nor a checkpoint file)", resume) end
    return resume
  end
  local parent, newest = fs.join(out_dir, name), nil
  if fs.isdir(parent) then
    for entry in require("lfs").dir(parent) do
      if entry:sub(1, 1) ~= "." and fs.exists(fs.join(parent, entry, "checkpoint.pt"))
         and (newest == nil or entry > newest) then
        newest = entry
      end
    end
  end
  if not newest then
    E.raise("clara.experiment", "resume: no run with a checkpoint under '%s'", parent)
  end
  return fs.join(parent, newest)
end

M.json = json
return M
