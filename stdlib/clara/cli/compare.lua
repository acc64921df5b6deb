-- `clara compare RUN... [--metric NAME] [--out DIR] [--alpha A] [--mode max|min] [--no-plots]`
--
-- Each RUN is a run directory, a cross-validation directory, a battery
-- entry or a whole battery (its finished entries).  Prints the comparison
-- as Markdown (clara.compare): every final metric side by side, parameters,
-- time per epoch, epochs, and for cross-validations with the same folds a
-- paired t-test and Wilcoxon test against the first RUN.  --out DIR also
-- writes DIR/compare.md, DIR/compare.json and the learning curves.
local USAGE = "usage: clara compare RUN RUN... [--metric NAME] [--out DIR] [--alpha A] [--mode max|min] [--no-plots]"

local function die(msg)
  io.stderr:write("clara compare: ", msg, "\n", USAGE, "\n")
  os.exit(2)
end

-- 1. the command line
local function parse(args)
  local o = { dirs = {}, opts = {} }
  local i = 1
  while i <= #args do
    local a = args[i]
    local name, inline = a:match("^%-%-([%w-]+)=(.*)$")
    name = name or a:match("^%-%-([%w-]+)$")
    local function value()
      if inline then return inline end
      i = i + 1
      if args[i] == nil then die(a .. " needs a value") end
      return args[i]
    end
    if name == "metric" then o.opts.metric = value()
    elseif name == "out" then o.opts.out = value()
    elseif name == "mode" then o.opts.mode = value()
    elseif name == "alpha" then
      local v = value()
      o.opts.alpha = tonumber(v)
      if not o.opts.alpha then die("--alpha expects a number, got '" .. v .. "'") end
    elseif name == "no-plots" and not inline then o.opts.plots = false
    elseif name == "help" or a == "-h" then print(USAGE); os.exit(0)
    elseif a:sub(1, 1) == "-" and a ~= "-" then die("unknown option '" .. a .. "'")
    else o.dirs[#o.dirs + 1] = a end
    i = i + 1
  end
  if #o.dirs == 0 then die("no run directories given") end
  return o
end

local function main(...)
  local o = parse({ ... })
  -- 2. the comparison; its Markdown on stdout
  local c = require("clara.compare")(o.dirs, o.opts)
  io.write(c.markdown)
  if c.files then io.stderr:write("clara compare: wrote ", c.files.md, " and ", c.files.json, "\n") end
end

-- errors (not a run, no such metric, ...) as one line, no traceback
local ok, err = pcall(main, ...)
if not ok then
  io.stderr:write("clara compare: ", (tostring(err):gsub("^[^:]*:%d+: ", "")), "\n")
  os.exit(1)
end
