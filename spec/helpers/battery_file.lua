-- battery_file(dir, opts) writes a small battery script into dir and
-- returns its path: a 2x2 grid (lr x hidden) over a tiny experiment whose
-- entries with hidden = 3 throw (opts.broken ~= false), out_dir in dir.
-- opts.cv = k cross-validates each entry; opts.slow = seconds to sleep per
-- step (so a kill lands mid-run); opts.checkpoint_every.
local fs = require "clara.fs"

return function(dir, opts)
  opts = opts or {}
  local text = ([[
torch.manual_seed(3)
local x = torch.randn(120, 4)
local y = x[{ {}, 1 }]:add(x[{ {}, 2 }]):gt(0):long()
local slow = %s
return clara.battery{
  name = "grid", out_dir = %q,
  base = { name = "tiny", data = %s, seed = 1, hparams = { lr = 0.1, hidden = 8 },
    model = function(hp)
      if hp.hidden == 3 and %s then error("hidden 3 is broken") end
      return nn.Sequential(nn.Linear(4, hp.hidden), nn.ReLU(), nn.Linear(hp.hidden, 2))
    end,
    objective = clara.losses.cross_entropy, metrics = { acc = clara.metrics.accuracy },
    optimizer = function(m, hp) return optim.SGD(m, { lr = hp.lr, momentum = 0.9 }) end,
    epochs = 3, batch_size = 16, verbose = false, checkpoint_every = %s,
    hooks = slow > 0 and { on_step_end = function() require("clara.process.core").sleep(slow) end } or nil },
  grid = { lr = { 0.1, 0.01 }, hidden = { 8, 3 } },
  cv = %s,
}
]]):format(opts.slow or 0, fs.join(dir, "runs"),
    opts.cv and "{ train = { x, y } }" or "{ train = { x[{ {1, 90} }], y[{ {1, 90} }] }, val = { x[{ {91, 120} }], y[{ {91, 120} }] } }",
    opts.broken == false and "false" or "true", tostring(opts.checkpoint_every or "nil"),
    opts.cv and ("{ folds = %d }"):format(opts.cv) or "nil")
  local path = fs.join(dir, "battery.lua")
  fs.write_atomic(path, text)
  return path
end
