-- `clara lr-find exp.lua [--start-lr LR] [--end-lr LR] [--num-iter N] [--smooth F] [--diverge X]
--                        [--set key=value ...] [--out DIR] [--no-plot] [--quiet]`
--
-- The learning-rate range test of the experiment the script returns (as
-- `clara run` takes it): exp:lr_find (clara.train.lr_find) on a copy, the
-- experiment's runs untouched.  Writes lr_find.csv and the plot
-- lr_find.png/.svg into DIR (default lr_find/<experiment name>) and prints
-- the suggested learning rate; --set changes a setting first (a
-- hyperparameter the factories read, the batch size ...).
local cmd = require("clara.cli.args").command("lr-find")
cmd.strip = "^clara%.experiment: "

-- 1. the command line
local function parse(args)
  local o, rest = cmd:parse(args)
  o.script = cmd:single(rest, "experiment script")
  o.sets = {}
  for _, kv in ipairs(cmd:settings(o.set)) do o.sets[kv[1]] = kv[2] end
  return o
end

local function main(...)
  local o = parse({ ... })
  -- 2. the experiment the script returns
  local exp = cmd:experiment(o.script)
  if next(o.sets) then exp = exp:set(o.sets) end
  exp = exp:with { verbose = false }
  -- 3. the test, its files, the suggestion
  local out = o.out or require("clara.fs").join("lr_find", exp.name or "experiment")
  local r = exp:lr_find { start_lr = o.start_lr, end_lr = o.end_lr, num_iter = o.num_iter, smooth = o.smooth,
                          diverge = o.diverge, out = out, plot = not o.no_plot }
  if o.quiet then
    print(r.suggestion and ("%.6g"):format(r.suggestion) or "none")
    return 0
  end
  print(("lr-find: %d steps, lr %.3g to %.3g (%s)"):format(#r.lrs, r.lrs[1], r.lrs[#r.lrs],
    r.stopped == "num_iter" and "all steps" or (r.stopped == "diverged" and "stopped: the loss diverged"
      or "stopped: a non-finite loss")))
  for _, k in ipairs { "csv", "png", "svg" } do
    if r.files[k] then print(("%s: %s"):format(k, r.files[k])) end
  end
  if r.suggestion then
    print(("suggested learning rate: %.3g (the steepest descent of the smoothed loss)"):format(r.suggestion))
  else
    print("no suggestion: too few points (raise --num-iter or lower --start-lr)")
  end
  return 0
end

-- errors (an unknown --set key, a bad option value, ...) as one line, no traceback
cmd:main(main, ...)
