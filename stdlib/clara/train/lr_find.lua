-- clara.train.lr_find: the learning-rate range test (Leslie Smith's; the
-- fastai / Lightning lr_find) on a copy of an experiment.
--
--   local r = exp:lr_find{start_lr = 1e-7, end_lr = 10, num_iter = 100, out = "lr-find"}
--   print(r.suggestion)     -- r.lrs, r.losses (smoothed), r.raw_losses, r.stopped
--
-- A fresh model and optimizer from the experiment's factories train on its
-- training batches (one optimizer step over `accumulate` of them, as a run
-- does) while the learning rate of every parameter group grows
-- exponentially: step i (0-based) uses start_lr * (end_lr / start_lr) ^
-- (i / (num_iter - 1)).  Each step's training loss is smoothed by an
-- exponential moving average with bias correction (beta = 1 - smooth;
-- smoothed_i = avg_i / (1 - beta ^ (i + 1)), as fastai's); the test stops
-- after num_iter steps, at a non-finite loss, or when (from the second step
-- on) the smoothed loss exceeds diverge x the best so far (Lightning's
-- early_stop_threshold; the diverging step is recorded).
-- The suggestion is Lightning's rule: the lr at the steepest descent of the
-- smoothed loss, i.e. the minimum of its numerical gradient over the step
-- index (np.gradient with unit spacing, which is d loss / d log lr up to a
-- constant), skipping the first skip_begin and the last skip_end points
-- and the non-finite ones; nil with fewer than 2 points left.
--
-- The experiment is untouched: no hooks, schedulers, metrics, recorder or
-- run directory; torch's RNG state is put back afterwards (exp:run() then
-- gives what it gives without the test), and a custom batcher with
-- state()/set_state() gets its state back.  With `out`, the directory gets
-- lr_find.csv (step, lr, loss, smoothed_loss) and the plot lr_find.png/.svg
-- (smoothed loss against lr, log x axis, the suggestion marked; gnuplot
-- through clara.plot, with its .gp script and .dat data).
local torch = require "torch"
local E = require "clara.error"
local clear = require "clara.train.clear"

local M = {}

local API = "clara.experiment: lr_find"

local function diverge_check(v)
  if v == false or (type(v) == "number" and v > 0 and v == v) then return true end
  return false, "must be a number > 0 (or false: never stop early), got " .. E.show(v)
end

M.SCHEMA = {
  start_lr = { type = "number", gt = 0, default = 1e-7, doc = "the learning rate of the first step" },
  end_lr = { type = "number", gt = 0, default = 10, doc = "the learning rate of the last step" },
  num_iter = { type = "integer", min = 2, default = 100, doc = "the number of optimizer steps" },
  smooth = { type = "number", min = 0, lt = 1, default = 0.05, doc = "the loss's smoothing factor (1 - beta)" },
  diverge = { type = "number|boolean", check = diverge_check, default = 4,
              doc = "stop when the smoothed loss exceeds this times the best (false: never)" },
  skip_begin = { type = "integer", min = 0, default = 10, doc = "points the suggestion ignores at the start" },
  skip_end = { type = "integer", min = 0, default = 1, doc = "points the suggestion ignores at the end" },
  out = { type = "string", doc = "a directory for lr_find.csv and the plot (none: nothing written)" },
  plot = { type = "boolean", default = true, doc = "draw the plot into out (gnuplot)" },
}

-- {====================== the sweep ======================

local function finite(v) return v == v and v ~= math.huge and v ~= -math.huge end

-- the training batches, epoch after epoch, for as many steps as asked
local function batches(c)
  local o, epoch, it, yielded = c.options, 0, nil, true
  return function()
    while true do
      if it then
        local b = table.pack(it())
        if b[1] ~= nil then yielded = true; return b end
      end
      if not yielded then E.raise(API, "the training data yields no batches") end
      epoch, yielded = epoch + 1, false
      it = c.batcher:batches(c.data.train, { split = "train", epoch = epoch, seed = o.seed,
        batch_size = o.batch_size, drop_last = o.drop_last, shuffle = o.shuffle })
    end
  end
end

-- one optimizer step at lr over `accumulate` micro-batches; the step's
-- training loss (the mean over them; NaN when one was not finite: no step)
local function step(c, next_batch, lr)
  local opt = c.optimizer
  for _, g in ipairs(opt.param_groups) do g.lr = lr end
  opt:zero_grad()
  local group, n_total = {}, 0
  for i = 1, c.options.accumulate do
    local b = next_batch()
    b.size = clear.batch_size(b[1])
    group[i], n_total = b, n_total + b.size
  end
  local loss = 0
  for _, b in ipairs(group) do
    local x = c.preprocess and c.preprocess(b[1]) or b[1]
    local outputs, captured = clear.forward(c.model, x, c.captures)
    local ok, total, terms = pcall(c.objective.evaluate, c.objective, c.model, outputs, captured,
                                   { table.unpack(b, 2, b.n) })
    if not ok then
      if type(total) ~= "table" then error(total, 0) end
      return 0 / 0
    end
    local scale = b.size / n_total
    if scale == 1 then total:backward() else (total * scale):backward() end
    loss = loss + terms.loss * scale
  end
  opt:step()
  return loss
end

-- sweep(c, o) -> lrs, raw losses, smoothed losses, why it stopped
local function sweep(c, o)
  if type(c.model.train) == "function" then c.model:train(true) end
  local next_batch = batches(c)
  local lrs, raw, smoothed = {}, {}, {}
  local beta, avg, best = 1 - o.smooth, 0, nil
  for i = 0, o.num_iter - 1 do
    local lr = o.start_lr * (o.end_lr / o.start_lr) ^ (i / (o.num_iter - 1))
    local loss = step(c, next_batch, lr)
    lrs[#lrs + 1], raw[#raw + 1] = lr, loss
    avg = beta * avg + (1 - beta) * loss
    local s = avg / (1 - beta ^ (i + 1))
    smoothed[#smoothed + 1] = s
    if not finite(loss) then return lrs, raw, smoothed, "nonfinite" end
    if o.diverge and i > 0 and s > o.diverge * best then return lrs, raw, smoothed, "diverged" end
    if best == nil or s < best then best = s end
  end
  return lrs, raw, smoothed, "num_iter"
end
-- }================================================================

-- suggestion(lrs, losses, skip_begin, skip_end) -> lr, its index (1-based),
-- or nil: Lightning's steepest descent (see the top)
function M.suggestion(lrs, losses, skip_begin, skip_end)
  local at = {}
  for i = skip_begin + 1, #losses - skip_end do
    if finite(losses[i]) then at[#at + 1] = i end
  end
  local n = #at
  if n < 2 then return nil end
  local best, best_j = math.huge, nil
  for j = 1, n do
    local g
    if j == 1 then g = losses[at[2]] - losses[at[1]]
    elseif j == n then g = losses[at[n]] - losses[at[n - 1]]
    else g = (losses[at[j + 1]] - losses[at[j - 1]]) / 2 end
    if g < best then best, best_j = g, j end
  end
  if best_j == nil then return nil end
  return lrs[at[best_j]], at[best_j]
end

-- {====================== the files ======================

local function write(r, o)
  local fs = require "clara.fs"
  fs.mkdir_p(o.out)
  local lines = { "step,lr,loss,smoothed_loss" }
  for i = 1, #r.lrs do
    lines[#lines + 1] = ("%d,%.17g,%.17g,%.17g"):format(i, r.lrs[i], r.raw_losses[i], r.losses[i])
  end
  local files = { csv = fs.join(o.out, "lr_find.csv") }
  fs.write_atomic(files.csv, table.concat(lines, "\n") .. "\n")
  if o.plot then
    local series = { { name = "smoothed loss", x = r.lrs, y = r.losses, style = "lines" } }
    if r.suggestion then
      series[2] = { name = ("suggestion %.3g"):format(r.suggestion), x = { r.suggestion },
                    y = { r.losses[r.suggestion_index] }, style = "points" }
    end
    local drawn = require("clara.plot").lines { file = fs.join(o.out, "lr_find"), series = series, logx = true,
      title = "LR range test" .. (r.suggestion and (": suggestion %.3g"):format(r.suggestion) or ""),
      xlabel = "learning rate", ylabel = "training loss (smoothed)" }
    for k, v in pairs(drawn) do files[k] = v end
  end
  return files
end
-- }================================================================

-- run(pieces, opts) -> {lrs, losses, raw_losses, suggestion, suggestion_index,
-- stopped, files}.  pieces() builds the copy (clara.experiment: model,
-- optimizer, objective, captures, data, preprocess, batcher, options)
function M.run(pieces, opts)
  local o = E.options(API, opts, M.SCHEMA)
  if not (o.start_lr < o.end_lr) then
    E.raise(API, "start_lr (%s) must be smaller than end_lr (%s)", E.show(o.start_lr), E.show(o.end_lr))
  end
  local rng = torch.get_rng_state()
  local ok, c = pcall(pieces)
  if not ok then torch.set_rng_state(rng); error(c, 0) end
  -- a batcher of the user's is shared with the experiment's runs
  local saved = c.user_batcher and c.batcher.state and c.batcher.set_state and c.batcher:state()
  local done, lrs, raw, smoothed, stopped = pcall(sweep, c, o)
  torch.set_rng_state(rng)
  if saved then c.batcher:set_state(saved) end
  if not done then error(lrs, 0) end
  local r = { lrs = lrs, losses = smoothed, raw_losses = raw, stopped = stopped }
  r.suggestion, r.suggestion_index = M.suggestion(lrs, smoothed, o.skip_begin, o.skip_end)
  if o.out then r.files = write(r, o) end
  return r
end

return M
