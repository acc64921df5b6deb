-- One rank of the data-parallel specs (spec/dp_*_spec.lua; run by clara,
-- not a spec), or the single process they are compared with.  The
-- environment says what to run; the results (weights, history, final
-- numbers, confusion matrices; floats written exactly) go to DIST_OUT:
--   DP_GROUP       1: torch.distributed's group from env:// first
--   DP_DISTRIBUTED 1: the option distributed = true instead
--   DP_BATCH       batch_size (default 8); DP_IMPL clear | fast; DP_ACCUMULATE
--   DP_EPOCHS      (default 2); DP_MAX_STEPS; DP_DIR the run directory
--   DP_SIGNALS     1: handle_signals; DP_STOP_AT a step whose hook (rank
--                  DP_STOP_RANK's only) sets ctx.stop
--   DP_SLOW        seconds each step sleeps (to be signalled mid-run)
--   DP_READY       a file written after the second step (handlers are up)
--   DP_RESUME      1: resume DP_DIR
--   DP_TIMEOUT     the group's timeout in seconds (default 15)
--   DP_DROPOUT     1: dropout 0.1 (else 0); DP_FINAL_TRAIN 1: final_train
--   DP_NAN         1: training sample 1 is NaN (on_nonfinite = "skip")
--   DP_CV          k: cross-validation with k folds under DP_DIR instead
--   DP_BATTERY     1: a battery of 2 seeds under DP_DIR instead
local torch = require "torch"
local nn, optim = torch.nn, torch.optim
local proc = require "clara.process.core"
local L, Mt = clara.losses, clara.metrics

local function num(name) return tonumber(os.getenv(name) or "") end
local function flag(name) return os.getenv(name) == "1" end

local function serialize(v)
  if type(v) == "table" then
    -- keys sorted, times left out: two runs' files compare byte for byte
    local parts = {}
    for k, x in pairs(v) do
      if k ~= "time" then parts[#parts + 1] = "[" .. serialize(k) .. "]=" .. serialize(x) end
    end
    table.sort(parts)
    return "{" .. table.concat(parts, ",") .. "}"
  end
  if type(v) == "number" and v ~= v then return "0/0" end
  return ("%q"):format(v)
end

local function data(n, seed)
  torch.manual_seed(seed)
  local x = torch.randn(n, 4)
  local y = (x[{ {}, 1 }] + x[{ {}, 2 }] * 0.5):gt(0):long() + (x[{ {}, 3 }]:gt(0.5)):long()
  return clara.data.TensorDataset(x, y)
end

if flag("DP_GROUP") then torch.distributed.init_process_group { backend = "gloo", timeout = num("DP_TIMEOUT") or 15 } end

local train = data(64, 1)
if flag("DP_NAN") then train.tensors[1][1]:fill_(0 / 0) end

local stop_at, stop_rank = num("DP_STOP_AT"), num("DP_STOP_RANK") or 0
local slow = num("DP_SLOW")
local hooks = {}
function hooks.on_step_end(ctx)
  if slow then proc.sleep(slow) end
  local ready = os.getenv("DP_READY")
  if ready and ctx.step == 2 then
    local rank = os.getenv("RANK") or "x"
    local f = assert(io.open(ready .. "." .. rank, "w")); f:close()
  end
  local rank = torch.distributed.is_initialized() and torch.distributed.get_rank() or 0
  if stop_at and ctx.step == stop_at and rank == stop_rank then ctx.stop = true end
end

local spec = {
  data = { train = train, val = data(30, 2), test = data(27, 3) },
  on_nonfinite = flag("DP_NAN") and "skip" or "stop", final_train = flag("DP_FINAL_TRAIN"),
  model = function()
    -- dropout draws differ per rank: a world of 2 then matches a single process only without it
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Dropout(flag("DP_DROPOUT") and 0.1 or 0), nn.Linear(8, 3))
  end,
  objective = L.cross_entropy,
  metrics = { acc = Mt.accuracy, f1 = Mt.f1 { average = "macro" }, cm = Mt.confusion_matrix,
              auc = Mt.roc_auc { multi_class = "ovr", logits = true } },
  optimizer = function(m) return optim.SGD(m, { lr = 0.1, momentum = 0.9 }) end,
  batch_size = num("DP_BATCH") or 8, accumulate = num("DP_ACCUMULATE"), epochs = num("DP_EPOCHS") or 2, seed = 7, verbose = false,
  max_steps = num("DP_MAX_STEPS"), impl = os.getenv("DP_IMPL") or "clear", hooks = hooks,
  distributed = flag("DP_DISTRIBUTED"), handle_signals = flag("DP_SIGNALS"),
  grad_transport = os.getenv("DP_TRANSPORT"),
  out_dir = false,
}
local exp = clara.experiment(spec)
local function out_file()
  -- "{rank}" in DIST_OUT: one file per rank (ranks started by clara launch)
  return (os.getenv("DIST_OUT"):gsub("{rank}", os.getenv("RANK") or "x"))
end

if num("DP_CV") then
  local cv = exp:with { data = { train = train, test = data(27, 3) }, monitor = "val_loss" }
    :cross_validate { folds = num("DP_CV"), dir = os.getenv("DP_DIR") }
  local folds = {}
  for j, f in ipairs(cv.folds) do folds[j] = f.metrics end
  local f = assert(io.open(out_file(), "w"))
  f:write("return ", serialize({ folds = folds, summary = cv.summary }), "\n")
  f:close()
  os.exit(0)
end

if flag("DP_BATTERY") then
  spec.out_dir = os.getenv("DP_DIR")
  local counts = clara.battery({ name = "b", base = spec, grid = { seed = { 7, 8 } } }):run { log = function() end }
  local f = assert(io.open(out_file(), "w"))
  f:write("return ", serialize({ rows = counts.rows, done = counts.done }), "\n")
  f:close()
  os.exit(0)
end

local r = exp:run { dir = os.getenv("DP_DIR"), resume = flag("DP_RESUME") and os.getenv("DP_DIR") or nil }

local weights = {}
for k, t in pairs(r.model:state_dict()) do weights[k] = t:reshape({ -1 }):totable() end
local results = { weights = weights, history = r.history, final = r.final, confusion = r.confusion,
                  steps = r.steps, skipped = r.skipped, fused = require("clara.train.fast").last_run, interrupted = r.interrupted, stopped = r.stopped,
                  transport = r.grad_transport,
                  rank = torch.distributed.is_initialized() and torch.distributed.get_rank() or -1 }
local f = assert(io.open(out_file(), "w"))
f:write("return ", serialize(results), "\n")
f:close()
os.exit(r.interrupted and 75 or 0)
