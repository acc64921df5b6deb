-- clara.analyze.hooks: gradient norms recorded during training, and
-- merging hook tables.
--
--   local g = clara.analyze.grad_norms{every = 1, at = "batch", by = "layer"}
--   exp:with{hooks = clara.analyze.merge_hooks(g, {on_epoch_end = print_row})}:run()
--   g.records   {epoch =, batch =, step =, layer =, norm =}, one per layer per recorded batch
--   g.epochs    {epoch =, layer =, mean =, max =, n =}, one per layer per epoch
--   g:write_csv("grads.csv"); g:write_epochs_csv("grads_epochs.csv")
--   g:plot("out/grad_norms")   -- out/grad_norms.png and .svg (clara.plot): epoch means per layer
--
-- A layer is a module with parameters of its own (PyTorch's dotted name);
-- its norm is the L2 norm of all its parameters' gradients together,
-- sqrt(sum of p.grad:norm()^2); parameters without a gradient are left
-- out, and a layer with none is not recorded.  by = "parameter" records
-- each parameter tensor on its own ("0.weight").
-- at = "batch" (the default) reads the gradients after each micro-batch's
-- backward (on_batch_end: with accumulate > 1 they are the sums so far);
-- at = "step" reads them once per optimizer step (on_step_end), which is
-- what the optimizer used.  every = N records one batch (or step) in N.
local common = require "clara.analyze.common"
local E = require "clara.error"
local csv = require "clara.run.history"
local fs = require "clara.fs"

local M = {}

local WHO = "clara.analyze.grad_norms"

-- {{name, {tensors}}} of what is measured
local function groups(model, by)
  local list = {}
  for _, e in ipairs(common.named_modules(model)) do
    local prefix, params = e[1], common.own_parameters(e[2])
    if by == "parameter" then
      for _, p in ipairs(params) do
        list[#list + 1] = { prefix == "" and p[1] or prefix .. "." .. p[1], { p[2] } }
      end
    elseif #params > 0 then
      local ts = {}
      for i, p in ipairs(params) do ts[i] = p[2] end
      list[#list + 1] = { prefix == "" and "(model)" or prefix, ts }
    end
  end
  return list
end

-- the gradients' L2 norm, or nil when none of the tensors has one
local function norm(tensors)
  local sq, any = 0, false
  for _, p in ipairs(tensors) do
    local g = p.grad
    if g ~= nil then
      any = true
      sq = sq + g:norm():item() ^ 2
    end
  end
  return any and math.sqrt(sq) or nil
end

local GradNorms = {}
GradNorms.__index = GradNorms

function GradNorms:record(ctx, step)
  self.groups = self.groups or groups(ctx.model, self.by)
  for _, g in ipairs(self.groups) do
    local n = norm(g[2])
    if n then
      local name = g[1]
      self.records[#self.records + 1] = { epoch = ctx.epoch, batch = ctx.batch, step = step, layer = name, norm = n }
      local acc = self.current[name]
      if not acc then
        acc = { sum = 0, max = -math.huge, n = 0 }
        self.current[name] = acc
        self.order[#self.order + 1] = name
      end
      acc.sum, acc.n, acc.max = acc.sum + n, acc.n + 1, math.max(acc.max, n)
      if not self.seen[name] then self.seen[name] = true; self.layers[#self.layers + 1] = name end
    end
  end
end

-- the epoch's mean and max per layer
function GradNorms:close_epoch(epoch)
  for _, name in ipairs(self.order) do
    local acc = self.current[name]
    self.epochs[#self.epochs + 1] = { epoch = epoch, layer = name, mean = acc.sum / acc.n, max = acc.max, n = acc.n }
  end
  self.current, self.order = {}, {}
end

function GradNorms:write_csv(path)
  fs.write_atomic(path, csv.encode({ "epoch", "step", "batch", "layer", "norm" }, self.records))
end

function GradNorms:write_epochs_csv(path)
  fs.write_atomic(path, csv.encode({ "epoch", "layer", "mean", "max", "n" }, self.epochs))
end

-- path without extension: path.png, path.svg (and path.dat, path.gp),
-- through clara.plot.lines; returns clara.plot's {png =, svg =, gp =, data =}
function GradNorms:plot(path, opts)
  opts = common.options(WHO, opts, 2, { "title", "logy" })
  local series, positive = {}, true
  for _, name in ipairs(self.layers) do
    local s = { name = name, x = {}, y = {} }
    for _, e in ipairs(self.epochs) do
      if e.layer == name then
        s.x[#s.x + 1], s.y[#s.y + 1] = e.epoch, e.mean
        positive = positive and e.mean > 0
      end
    end
    series[#series + 1] = s
  end
  if #self.epochs == 0 then E.raise(nil, WHO .. ": nothing to plot (no epoch has ended)") end
  return require("clara.plot").lines { file = path, series = series, xlabel = "epoch",
    ylabel = "gradient L2 norm (epoch mean)", title = opts.title or "gradient norm per layer",
    logy = opts.logy ~= false and positive }
end

local function check_opts(opts)
  opts = common.options(WHO, opts, 3, { "every", "at", "by" })
  local every = common.positive(WHO, opts, "every", 1, 3)
  local at, by = opts.at or "batch", opts.by or "layer"
  if at ~= "batch" and at ~= "step" then E.raise(nil, WHO .. ": at must be 'batch' or 'step', got " .. tostring(at)) end
  if by ~= "layer" and by ~= "parameter" then
    E.raise(nil, WHO .. ": by must be 'layer' or 'parameter', got " .. tostring(by))
  end
  return every, at, by
end

function M.grad_norms(opts)
  local every, at, by = check_opts(opts)
  local self = setmetatable({ every = every, at = at, by = by, records = {}, epochs = {}, layers = {},
    seen = {}, current = {}, order = {}, count = 0 }, GradNorms)
  local function sample(ctx, step)
    if ctx.model == nil then E.raise(nil, WHO .. ": the hook context has no model") end
    common.check_model(WHO, ctx.model)
    self.count = self.count + 1
    if (self.count - 1) % every == 0 then self:record(ctx, step) end
  end
  -- ctx.step counts finished steps: during a step's batches it is one behind
  if at == "batch" then
    self.on_batch_end = function(ctx) sample(ctx, ctx.step + 1) end
  else
    self.on_step_end = function(ctx) sample(ctx, ctx.step) end
  end
  self.on_epoch_end = function(ctx) self:close_epoch(ctx.epoch) end
  return self
end

-- {======================================================
-- Merging hook tables
-- =======================================================

local HOOKS = { "on_run_start", "on_epoch_start", "on_batch_start", "on_batch_end", "on_step_end",
  "on_validation_end", "on_epoch_end", "on_run_end" }

-- merge_hooks(a, b, ...): one hooks table calling each table's hook in
-- turn (a's first); nil tables are skipped, other fields are left out
function M.merge_hooks(...)
  local merged, n = {}, select("#", ...)
  for _, name in ipairs(HOOKS) do
    local fns = {}
    for i = 1, n do
      local h = select(i, ...)
      if h ~= nil and type(h) ~= "table" then
        E.raise(nil, ("clara.analyze.merge_hooks: argument %d must be a hooks table, got %s"):format(i, type(h)))
      end
      local f = h and h[name]
      if f ~= nil and type(f) ~= "function" then
        E.raise(nil, ("clara.analyze.merge_hooks: argument %d: '%s' must be a function, got %s"):format(i, name, type(f)))
      end
      fns[#fns + 1] = f
    end
    if #fns == 1 then
      merged[name] = fns[1]
    elseif #fns > 1 then
      merged[name] = function(ctx) for _, f in ipairs(fns) do f(ctx) end end
    end
  end
  return merged
end

-- }======================================================

E.methods(GradNorms, "clara.analyze.grad_norms")

return M
