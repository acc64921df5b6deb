-- `clara run exp.lua [--set key=value ...] [--resume [DIR]] [--out DIR] [--quiet]`
--
-- The script returns an experiment: the table clara.experiment takes, or
-- a clara.experiment object.  --set sets a hyperparameter (a key of the
-- experiment's hparams; "hparams.x" adds one) or else an experiment field
-- (numbers, true/false and nil are parsed, anything else stays a string);
-- --out sets out_dir,
-- --resume continues the newest run of the experiment (or the run
-- directory given as --resume=DIR), --quiet sets verbose = false.
-- Signals are handled: SIGTERM/USR1/INT write a checkpoint at the next
-- step boundary and the process exits with code 75 (clara.signal.REQUEUE).
local USAGE = "usage: clara run exp.lua [--set key=value ...] [--resume[=DIR]] [--out DIR] [--quiet]"

local function die(msg)
  io.stderr:write("clara run: ", msg, "\n", USAGE, "\n")
  os.exit(2)
end

-- "0.01" -> 0.01, "64" -> 64, "true" -> true, "nil" -> nil, else the text
local function parse_value(s)
  if s == "true" then return true elseif s == "false" then return false elseif s == "nil" then return nil end
  return math.tointeger(tonumber(s)) or tonumber(s) or s
end

-- 1. the command line
local function parse(args)
  local o = { sets = {} }
  local i = 1
  while i <= #args do
    local a = args[i]
    local function value()
      i = i + 1
      if args[i] == nil then die(a .. " needs a value") end
      return args[i]
    end
    if a == "--set" or a:match("^%-%-set=") then
      local kv = a:match("^%-%-set=(.*)$") or value()
      local k, v = kv:match("^([%a_][%w_.]*)=(.*)$")
      if not k then die("--set expects key=value, got '" .. kv .. "'") end
      o.sets[#o.sets + 1] = { k, parse_value(v) }
    elseif a == "--out" then o.out = value()
    elseif a:match("^%-%-out=") then o.out = a:match("^%-%-out=(.*)$")
    elseif a == "--resume" then o.resume = true
    elseif a:match("^%-%-resume=") then o.resume = a:match("^%-%-resume=(.*)$")
    elseif a == "--quiet" or a == "-q" then o.quiet = true
    elseif a == "--help" or a == "-h" then print(USAGE); os.exit(0)
    elseif a:sub(1, 1) == "-" then die("unknown option '" .. a .. "'")
    elseif o.script then die("one experiment script expected, got '" .. o.script .. "' and '" .. a .. "'")
    else o.script = a end
    i = i + 1
  end
  if not o.script then die("no experiment script given") end
  return o
end

local function main(...)
  local o = parse({ ... })
  local clara = require "clara"
  -- 2. the experiment the script returns
  local chunk, err = loadfile(o.script)
  if not chunk then die(err) end
  local spec = chunk()
  if type(spec) ~= "table" then
    die(("'%s' must return an experiment (a table or clara.experiment), got %s"):format(o.script, type(spec)))
  end
  local exp = getmetatable(spec) == clara.experiment.Experiment and spec or clara.experiment(spec)
  -- 3. the overrides: hyperparameters or experiment fields (exp:set)
  local sets = {}
  for _, kv in ipairs(o.sets) do sets[kv[1]] = kv[2] end
  exp = exp:set(sets)
  local fields = { out_dir = o.out, verbose = o.quiet and false or nil }
  if exp.handle_signals == nil then fields.handle_signals = true end
  exp = exp:with(fields)
  -- 4. the run; an interrupted one asks to be requeued
  local result = exp:run { resume = o.resume }
  if result.interrupted then
    io.stderr:write(("clara run: %s: checkpoint written in %s, exiting with code %d\n")
      :format(result.interrupted, tostring(result.dir), require("clara.signal").REQUEUE))
    require("clara.signal").exit_requeue()
  end
  if not o.quiet and result.dir then print("run: " .. result.dir) end
end

-- errors of the experiment (an unknown --set key, ...) as one line, no traceback
local ok, err = pcall(main, ...)
if not ok then
  io.stderr:write("clara run: ", tostring(err):gsub("^[^:]*:%d+: ", ""), "\n")
  os.exit(1)
end
