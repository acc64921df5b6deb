-- clara.train.distributed: data-parallel training, in one place.  An
-- experiment trains data-parallel when torch.distributed's process group
-- is up, or brings it up from env:// with `distributed = true` or, by
-- default, under a launcher (WORLD_SIZE > 1: clara launch, torchrun);
-- nothing else in the script changes.  The loop
-- calls these pieces at numbered places:
--   1. setup, after the model factory: parameters and buffers broadcast
--      from rank 0; then rank r > 0 reseeds torch's generator with
--      (seed or torch.initial_seed()) + r, so dropout and augmentation
--      differ per rank and are reproducible (rank 0 keeps its stream: a
--      world of 1 is bitwise a run without a group);
--   2. shards: the batcher is told rank and world_size (the default one
--      takes rank r's positions r, r + W, ... of the same seeded
--      permutation; training shards padded by wrapping as PyTorch's
--      DistributedSampler, evaluation shards not);
--   3. arm before the backward that ends an optimizer step (the last
--      micro-batch's), reduce_grads after it, before clip_grad and
--      opt:step(): the gradients averaged over the ranks by
--      torch.distributed.Reducer, bucket by bucket while backward still
--      runs (DDP's way); the step's flags (a step taken, ctx.stop, a
--      pending signal) ride with the last bucket: one round of
--      collectives per step;
--   4. reduce_sums and merge_metrics at an epoch's end and after an
--      evaluation: the sums add, metric states merge (Metric:merge), so
--      every rank has the numbers of the whole split;
--   5. agree, at each step boundary: a stop (ctx.stop, a pending signal)
--      on any rank stops every rank at that same step.  The flags came
--      with the gradients, as they stood at arm; when the experiment has
--      hooks that run after it (on_batch_end, on_step_end: they may set
--      ctx.stop), one more small all_reduce at the boundary itself;
--   6. rank 0 alone writes the run directory (clara.experiment).
local torch = require "torch"
local E = require "clara.error"

local M = {}

local API = "clara.experiment"
local SIGNALS = { "HUP", "INT", "USR1", "USR2", "TERM" }
local SIGNAL_CODE = {}
for i, s in ipairs(SIGNALS) do SIGNAL_CODE[s] = i end

local DP = {}
DP.__index = DP

local function dist() return require "torch.distributed" end

-- every tensor of the model's state (parameters and buffers) from rank 0
local function broadcast_state(model)
  if type(model.state_dict) ~= "function" then
    E.raise(API, "data-parallel training needs an nn module (its parameters are broadcast), got %s", E.show(model))
  end
  local sd, names = model:state_dict(), {}
  for k in pairs(sd) do names[#names + 1] = k end
  table.sort(names)
  torch.no_grad(function()
    for _, k in ipairs(names) do dist().broadcast(sd[k], 0) end
  end)
end

-- whether the experiment runs data-parallel: a group is up, or it brings
-- one up (distributed = true, or by default under a launcher)
function M.active(exp)
  local d = dist()
  if d.is_initialized() then return true end
  local launched = (tonumber(os.getenv("WORLD_SIZE") or "") or 1) > 1
  if not (exp.distributed or exp.distributed == nil and launched) then return false end
  d.init_process_group { backend = "gloo" }
  return true
end

-- 1. the data-parallel state of a run (nil without a process group):
-- called after the model factory, before the optimizer's
function M.setup(exp, model)
  if not M.active(exp) then return nil end
  local d = dist()
  local self = setmetatable({ rank = d.get_rank(), world_size = d.get_world_size(), model = model,
                              handle_signals = exp.handle_signals, grad_transport = exp.grad_transport }, DP)
  broadcast_state(model)
  -- a late stop (set by a hook after arm) needs its own agreement: the
  -- ranks decide together whether any of them has such hooks
  local hooks = exp.hooks or {}
  local late = torch.tensor({ (hooks.on_batch_end or hooks.on_step_end) and 1 or 0 }, { dtype = "int64" })
  d.all_reduce(late, { op = "max" })
  self.late_stops = late:item() > 0
  if self.rank > 0 then torch.manual_seed((exp.seed or torch.initial_seed()) + self.rank) end
  return self
end

-- a rank other than 0 of an initialized group (it writes no run directory)
function M.follower()
  local d = dist()
  return d.is_initialized() and d.get_rank() > 0
end

-- 2. what the batcher is told (info.rank, info.world_size)
function DP:shard(info)
  info.rank, info.world_size = self.rank, self.world_size
  return info
end

-- the step's flags: [1] a step taken, [2] ctx.stop, [2 + i] signal i pending
local N_FLAGS = 2 + #SIGNALS

local function flags(self, stepped, ctx)
  local v = { stepped and 1 or 0, ctx.stop and 1 or 0 }
  for i = 1, #SIGNALS do v[2 + i] = 0 end
  local sig = self.handle_signals and require("clara.signal").pending() or nil
  if sig then v[2 + SIGNAL_CODE[sig]] = 1 end
  return v
end

-- the reducer, made at the first step (after a resume has loaded the
-- weights): every parameter that requires grad, in the model's order
function DP:reducer()
  if self.grads then return self.grads end
  local params = {}
  for _, p in ipairs(self.model:parameters()) do
    if p.requires_grad then params[#params + 1] = p end
  end
  if #params == 0 then E.raise(API, "data-parallel training needs parameters that require grad; the model has none") end
  self.grads = dist().Reducer(params, { flags = N_FLAGS, transport = self.grad_transport })
  return self.grads
end

-- how the gradients travelled ("shm" or "gloo"; nil before the first step)
function DP:transport()
  return self.grads and self.grads:transport() or nil
end

-- 3. before the backward that ends an optimizer step
function DP:arm(ctx)
  self:reducer():arm(flags(self, true, ctx))
end

-- 3. after it: the gradients averaged (once per optimizer step); stepped:
-- this rank had a finite micro-batch (on_nonfinite = "skip"); returns
-- whether any rank had one (then every rank steps, a rank that skipped
-- adding zeros).  The stop flags that came along wait for agree().
function DP:reduce_grads(stepped, ctx)
  local v = self:reducer():finish(flags(self, stepped, ctx or {}))
  local signal
  for i = #SIGNALS, 1, -1 do
    if v[2 + i] > 0 then signal = SIGNALS[i]; break end
  end
  self.agreed = { stop = v[2] > 0, signal = signal }
  return v[1] > 0
end

-- 4. the split's sums added over the ranks (float64: counts stay exact)
function DP:reduce_sums(s, columns)
  local v = { s.n, s.loss }
  for i, col in ipairs(columns) do v[i + 2] = s[col[2]][col[1]] or 0 end
  local t = torch.tensor(v, { dtype = "float64" })
  dist().all_reduce(t)
  v = t:totable()
  s.n, s.loss = math.tointeger(v[1]) or v[1], v[2]
  for i, col in ipairs(columns) do s[col[2]][col[1]] = v[i + 2] end
end

-- bytes of a Lua value (torch.save's format) as a uint8 tensor, and back
local function to_bytes(value)
  local path = os.tmpname()
  torch.save(path, value)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  os.remove(path)
  local bytes = {}
  for i = 1, #s, 4096 do
    table.move({ s:byte(i, math.min(i + 4095, #s)) }, 1, math.min(4096, #s - i + 1), #bytes + 1, bytes)
  end
  return torch.tensor(bytes, { dtype = "uint8" })
end

local function from_bytes(t, len)
  local list, parts = t:narrow(1, 1, len):totable(), {}
  for i = 1, len, 4096 do parts[#parts + 1] = string.char(table.unpack(list, i, math.min(i + 4095, len))) end
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(table.concat(parts))
  f:close()
  local v = torch.load(path)
  os.remove(path)
  return v
end

-- every rank's value, in rank order (all_gather of their bytes)
local function gather(value)
  local d = dist()
  local W = d.get_world_size()
  local bytes = to_bytes(value)
  local lens = {}
  for r = 1, W do lens[r] = torch.zeros(1, { dtype = "int64" }) end
  d.all_gather(lens, torch.tensor({ bytes:numel() }, { dtype = "int64" }))
  local longest = 1
  for r = 1, W do longest = math.max(longest, lens[r]:item()) end
  local padded, outs = torch.zeros(longest, { dtype = "uint8" }), {}
  if bytes:numel() > 0 then padded:narrow(1, 1, bytes:numel()):copy_(bytes) end
  for r = 1, W do outs[r] = torch.zeros(longest, { dtype = "uint8" }) end
  d.all_gather(outs, padded)
  local values = {}
  for r = 1, W do values[r] = from_bytes(outs[r], lens[r]:item()) end
  return values
end

function DP:gather(value) return gather(value) end

-- rank 0's value on every rank (what rank 0 alone decided: a directory)
function M.share(value) return gather(value)[1] end

-- a pending signal (its name) on any rank, agreed: nil or one name
function M.agree_signal(sig)
  local t = torch.tensor({ sig and SIGNAL_CODE[sig] or 0 }, { dtype = "int64" })
  dist().all_reduce(t, { op = "max" })
  return SIGNALS[t:item()]
end

-- 4. every metric's state merged over the ranks, in rank order
function DP:merge_metrics(metrics)
  if #metrics == 0 then return end
  local states = {}
  for i, m in ipairs(metrics) do
    if type(m.metric.state) ~= "function" or type(m.metric.merge) ~= "function" then
      E.raise(API, "metric '%s' has no state() and merge(): data-parallel training cannot combine it over the ranks",
        tostring(m.name))
    end
    states[i] = m.metric:state()
  end
  local all = self:gather(states)
  for i, m in ipairs(metrics) do
    m.metric:reset()
    for r = 1, self.world_size do m.metric:merge(all[r][i]) end
  end
end

-- 5. a stop (ctx.stop from a hook, a pending signal) on any rank is every
-- rank's, at this step boundary: ctx.stop, ctx.dp_signal agreed
function DP:agree(ctx)
  local agreed = self.agreed or {}
  self.agreed = nil
  if self.late_stops then
    local sig = self.handle_signals and require("clara.signal").pending() or nil
    local t = torch.tensor({ ctx.stop and 1 or 0, sig and SIGNAL_CODE[sig] or 0 }, { dtype = "int64" })
    dist().all_reduce(t, { op = "max" })
    local v = t:totable()
    agreed = { stop = agreed.stop or v[1] > 0, signal = SIGNALS[v[2]] or agreed.signal }
  end
  if agreed.stop then ctx.stop = true end
  if agreed.signal then ctx.dp_signal = agreed.signal end
end

-- {====================== 6. checkpoints ======================

-- what differs between the ranks in a checkpoint: the RNG, the train
-- loader's shard and place, a cut epoch's sums and metrics
function DP.part(c, ctx, at_epoch_end)
  local s = require("clara.train.checkpoint").capture(c, ctx, at_epoch_end)
  return { rng = s.rng, loaders = s.loaders, sums = s.sums, metrics = s.metrics }
end

-- a checkpoint as this rank resumes it: rank 0's, with this rank's part
function DP:own(state)
  local ranks = state.ranks
  if type(ranks) ~= "table" or #ranks ~= self.world_size then
    E.raise(API, "resume: the checkpoint is of %s, this run has %d ranks", type(ranks) == "table"
      and (#ranks .. " ranks") or "a run without data parallelism", self.world_size)
  end
  local mine = {}
  for k, v in pairs(state) do mine[k] = v end
  for k, v in pairs(ranks[self.rank + 1]) do mine[k] = v end
  mine.ranks = nil
  return mine
end

-- A rank other than 0: no run directory, but its part of every checkpoint
-- rank 0 writes (o.writes: rank 0 has a run directory), at the same step
-- boundaries (every checkpoint_every steps, an agreed signal, each
-- epoch's end).  Returns the checkpoint to resume from (o.resume: read
-- from o.dir, as rank 0 reads it: a directory all ranks see).
function DP:follow(c, o)
  local user = o.user
  local function pass(name, ...)
    if user and user[name] then user[name](user, ...) end
  end
  local savable = type(c.model.state_dict) == "function" and type(c.optimizer.state_dict) == "function"
  local rec = {}
  function rec.run_start(_, ctx) pass("run_start", ctx) end
  function rec.step_end(_, ctx)
    pass("step_end", ctx)
    if o.writes and savable and (ctx.dp_signal or (o.every and ctx.step % o.every == 0)) then
      self:gather(DP.part(c, ctx, false))
    end
  end
  function rec.epoch_end(_, ctx, row)
    if o.writes and savable then self:gather(DP.part(c, ctx, true)) end
    pass("epoch_end", ctx, row)
  end
  function rec.run_end(_, ctx, result) pass("run_end", ctx, result) end
  c.recorder = rec
  if not o.resume then return nil end
  local path = require("clara.fs").join(o.dir, "checkpoint.pt")
  local state = torch.load(path)
  if state == nil then E.raise(API, "resume: no checkpoint.pt in '%s'", o.dir) end
  return state
end

-- }=================================================================

return M
