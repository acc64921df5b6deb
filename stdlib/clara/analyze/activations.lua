-- clara.analyze.activations: what each layer's output looks like.
--
--   local st = clara.analyze.activation_stats(net, x)
--   st[i]          {name = "1" (dotted; "" the model), type = "ReLU", shape, numel,
--                   mean, std, zero_fraction}, in call order; st["1"] the same row
--
-- Per module, its first output tensor: mean, std (torch's, n - 1) and the
-- fraction of elements exactly 0 (dead ReLUs).  The pass runs in eval mode
-- (modes put back after) without gradients; a module called twice keeps
-- its last call.
--
--   local h = clara.analyze.activation_hook{every = 100}      -- the training batches
--   local h = clara.analyze.activation_hook{every = 1, x = fixed_batch}
--   exp:with{hooks = h}:run();  h.records; h:write_csv("act.csv")
--
-- The hook samples one step in `every`.  Without x it measures the
-- training forward pass itself (train mode, the step's first batch,
-- through forward hooks); with x it runs activation_stats(model, x) after
-- the step.  records: {epoch =, step =, layer =, type =, mean =, std =,
-- zero_fraction =, numel =}.
local torch = require "torch"
local E = require "clara.error"
local common = require "clara.analyze.common"
local trace = require "clara.analyze.trace"
local csv = require "clara.run.history"
local fs = require "clara.fs"

local M = {}

local function first_tensor(packed)
  return common.tensors(packed)[1]
end

-- mean, std, zero fraction of one tensor (computed in float64)
local function stats_of(t)
  local d = t:detach():double()
  local n = d:numel()
  return {
    shape = t:size(), numel = n,
    mean = n > 0 and d:mean():item() or 0 / 0,
    std = n > 1 and d:std():item() or 0 / 0,
    zero_fraction = n > 0 and d:eq(0):sum():item() / n or 0 / 0,
  }
end
M.stats_of = stats_of

local function need_nn(who, model, level)
  if common.check_model(who, model, level + 1) == "script" then
    E.raise(nil, who .. ": per-layer activations need an nn.Module (a TorchScript model runs as one call;"
      .. " export the tensors you want as methods)")
  end
end

-- rows in first-call order, also by name
local function collector()
  local rows, index = {}, {}
  local function add(name, m, outputs)
    local t = first_tensor(outputs)
    if not t then return end
    local row = stats_of(t)
    row.name, row.type = name, common.type_name(m)
    if not index[name] then index[name] = #rows + 1 end
    rows[index[name]] = row
  end
  local function finish()
    for _, row in ipairs(rows) do rows[row.name] = row end
    return rows
  end
  return add, finish
end

function M.stats(model, x)
  local who = "clara.analyze.activation_stats"
  need_nn(who, model, 2)
  local args = table.pack(x)
  if type(x) == "table" and not torch.is_tensor(x) then args = table.pack(table.unpack(x)) end
  if args.n == 0 or not torch.is_tensor(args[1]) then
    E.raise(nil, who .. ": x must be an input tensor (or a list of them), got " .. type(x))
  end
  local add, finish = collector()
  local restore = common.save_modes(model)
  model:eval()
  local out, err = torch.no_grad(function()
    return trace.run(model, args, function(name, m, _, outputs) add(name, m, outputs) end, who)
  end)
  restore()
  if not out then E.raise(nil, err) end
  return finish()
end

-- {======================================================
-- During training
-- =======================================================

local Hook = {}
Hook.__index = Hook

function Hook:add_rows(ctx, rows, step)
  for _, r in ipairs(rows) do
    self.records[#self.records + 1] = { epoch = ctx.epoch, step = step, layer = r.name, type = r.type,
      mean = r.mean, std = r.std, zero_fraction = r.zero_fraction, numel = r.numel }
  end
end

function Hook:write_csv(path)
  fs.write_atomic(path, csv.encode({ "epoch", "step", "layer", "type", "numel", "mean", "std", "zero_fraction" },
    self.records))
end

-- forward hooks on every module until on_batch_end takes them off
function Hook:attach(model)
  local add, finish = collector()
  local removers = {}
  for _, e in ipairs(common.named_modules(model)) do
    local name = e[1]
    removers[#removers + 1] = e[2]:register_forward_hook(function(m, ...)
      add(name, m, table.pack(...))
    end)
  end
  self.pending = { removers = removers, finish = finish }
end

-- the hooks off; the rows recorded unless the batch was dropped
function Hook:detach(ctx, step)
  local p = self.pending
  self.pending = nil
  for _, remove in ipairs(p.removers) do remove() end
  if ctx then self:add_rows(ctx, p.finish(), step) end
end

function M.hook(opts)
  local who = "clara.analyze.activation_hook"
  opts = common.options(who, opts, 2, { "every", "x" })
  local every = common.positive(who, opts, "every", 1, 2)
  local x = opts.x
  if x ~= nil and not torch.is_tensor(x) then E.raise(nil, who .. ": x must be a tensor, got " .. type(x)) end
  local self = setmetatable({ every = every, x = x, records = {} }, Hook)
  if x then
    -- ctx.step counts finished steps: 1 after the first
    self.on_step_end = function(ctx)
      if (ctx.step - 1) % every == 0 then self:add_rows(ctx, M.stats(ctx.model, x), ctx.step) end
    end
  else
    local taken = {}
    self.on_batch_start = function(ctx)
      need_nn(who, ctx.model, 1)
      -- a batch skipped for a non-finite loss has no on_batch_end: drop what it saw
      if self.pending then self:detach(nil) end
      -- the step's first batch: ctx.step counts the steps finished before it
      if ctx.step % every == 0 and not taken[ctx.step] then
        taken[ctx.step] = true
        self:attach(ctx.model)
      end
    end
    self.on_batch_end = function(ctx)
      if self.pending then self:detach(ctx, ctx.step + 1) end
    end
  end
  return self
end

-- }======================================================

E.methods(Hook, "clara.analyze.activation_hook")

return M
