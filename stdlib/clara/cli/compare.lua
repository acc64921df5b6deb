-- `clara compare RUN... [--metric NAME] [--out DIR] [--alpha A] [--mode max|min] [--no-plots]`
--
-- Each RUN is a run directory, a cross-validation directory, a battery
-- entry or a whole battery (its finished entries).  Prints the comparison
-- as Markdown (clara.compare): the settings that differ between the runs,
-- every final metric (or the --metric ones) side by side, parameters,
-- time per epoch, epochs, and for cross-validations with the same folds a
-- paired t-test and Wilcoxon test against the first RUN.  --out DIR also
-- writes DIR/compare.md, DIR/compare.json and the learning curves.
local cmd = require("clara.cli.args").command("compare")

-- 1. the command line
local function parse(args)
  local o, dirs = cmd:parse(args)
  if #dirs == 0 then cmd:die("no run directories given") end
  local opts = { metric = o.metric, out = o.out, mode = o.mode, alpha = o.alpha }
  if o.no_plots then opts.plots = false end
  return { dirs = dirs, opts = opts }
end

local function main(...)
  local o = parse({ ... })
  -- 2. the comparison; its Markdown on stdout
  local c = require("clara.compare")(o.dirs, o.opts)
  io.write(c.markdown)
  if c.files then io.stderr:write("clara compare: wrote ", c.files.md, " and ", c.files.json, "\n") end
end

-- errors (not a run, no such metric, ...) as one line, no traceback
cmd:main(main, ...)
