-- The experiment of spec/dp_cli_spec.lua (a script for `clara run`, not a
-- spec): run directories under DP_OUT; DP_SLOW seconds per step and a
-- DP_READY file after step 2 (rank-suffixed) so that it can be signalled.
local torch = require "torch"
local proc = require "clara.process.core"
torch.manual_seed(0)
local x = torch.randn(64, 4)
local y = x[{ {}, 1 }]:gt(0):long()
local slow, ready = tonumber(os.getenv("DP_SLOW") or ""), os.getenv("DP_READY")
return clara.experiment {
  name = "dp", out_dir = os.getenv("DP_OUT"),
  data = { train = clara.data.TensorDataset(x, y), val = clara.data.TensorDataset(x:narrow(1, 1, 21), y:narrow(1, 1, 21)) },
  model = function()
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Dropout(0.2), torch.nn.Linear(8, 2))
  end,
  objective = clara.losses.cross_entropy, metrics = { acc = clara.metrics.accuracy, cm = clara.metrics.confusion_matrix },
  optimizer = function(m) return torch.optim.Adam(m, { lr = 0.01 }) end,
  batch_size = 8, epochs = 3, seed = 1,
  hooks = { on_step_end = function(ctx)
    if slow then proc.sleep(slow) end
    if ready and ctx.step == 2 then
      local f = assert(io.open(ready .. "." .. (os.getenv("RANK") or "x"), "w")); f:close()
    end
  end },
}
