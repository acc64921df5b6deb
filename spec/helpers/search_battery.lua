-- search_battery(dir, search, opts) writes a search battery script into
-- dir and returns its path.  Its experiment's monitored value is a known
-- function of the trial's parameter and the epoch: val_fake = q / epoch
-- (a metric that ignores the model), so a schedule can be computed by
-- hand; the model still trains (SGD on shuffled random data), so exact
-- continuation is visible in its weights.  SEARCH_KILL_AFTER=N in the
-- environment makes the process SIGKILL itself after the N-th file it
-- writes (clara.fs.on_write), as kill -9 would.  opts.slow: seconds to
-- sleep at each step (so that a signal lands mid-training); opts.mode.
local fs = require "clara.fs"
local json = require "clara.run.json"

return function(dir, search, opts)
  opts = opts or {}
  local text = ([[
local limit, writes = tonumber(os.getenv("SEARCH_KILL_AFTER") or ""), 0
if limit then
  local proc, pid = require "clara.process.core", require("clara.signal").getpid()
  require("clara.fs").on_write = function()
    writes = writes + 1
    if writes >= limit then proc.kill(pid, "KILL"); proc.sleep(10) end
  end
end
torch.manual_seed(3)
local x = torch.randn(40, 3)
local y = x:sum(2, { keepdim = true })
local current = { q = 0, epoch = 0 }
local function fake()
  return { count = 1, update = function() end, reset = function() end,
           compute = function() return current.q / current.epoch end }
end
return clara.battery{
  name = "search", out_dir = %q,
  base = { name = "fake", seed = 1, epochs = 9, batch_size = 8, verbose = false,
    data = { train = { x[{ {1, 32} }], y[{ {1, 32} }] }, val = { x[{ {33, 40} }], y[{ {33, 40} }] } },
    hparams = { q = 1, lr = 0.05 },
    model = function(hp) current.q = hp.q; return nn.Linear(3, 1) end,
    objective = clara.losses.mse, metrics = { fake = fake }, monitor = "val_fake", mode = %q,
    optimizer = function(m, hp) return optim.SGD(m, { lr = hp.lr, momentum = 0.9 }) end,
    hooks = { on_epoch_start = function(ctx) current.epoch = ctx.epoch end,
              on_step_end = %s > 0 and function() require("clara.process.core").sleep(%s) end or nil } },
  search = require("clara.run.json").decode(%q),
}
]]):format(fs.join(dir, "runs"), opts.mode or "min", opts.slow or 0, opts.slow or 0, json.encode(search))
  local path = fs.join(dir, "search.lua")
  fs.write_atomic(path, text)
  return path
end
