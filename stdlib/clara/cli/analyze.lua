-- `clara analyze MODEL [--input 1,28,28] [--batch N] [--dtype T] [--script exp.lua]
--                      [--weights best.pt] [--histograms DIR] [--bins N]`
--
-- MODEL is a run directory (its weights in the model --script exp.lua
-- builds), a TorchScript file, or an experiment script (a fresh model from
-- its factory).  Prints clara.analyze.summary: layers, output shapes for
-- the --input shape (without the batch dimension; --batch, default 1),
-- parameters, MACs, memory.  Without --input only the parameters are
-- listed.  --histograms DIR also draws each parameter's histogram (PNG and
-- SVG, --bins bins) into DIR.
local USAGE = "usage: clara analyze MODEL [--input 1,28,28] [--batch N] [--dtype float32|int64] "
  .. "[--script exp.lua] [--weights model.pt] [--histograms DIR] [--bins N]"

local function die(msg)
  io.stderr:write("clara analyze: ", msg, "\n", USAGE, "\n")
  os.exit(2)
end

-- "1,28,28" -> {1, 28, 28}
local function parse_shape(s)
  local shape = {}
  for part in (s .. ","):gmatch("([^,]*),") do
    local n = math.tointeger(tonumber(part))
    if not n or n < 1 then die("--input expects positive integers separated by commas (e.g. 1,28,28), got '" .. s .. "'") end
    shape[#shape + 1] = n
  end
  return shape
end

local function positive(name, s)
  local n = math.tointeger(tonumber(s))
  if not n or n < 1 then die(("%s expects a positive integer, got '%s'"):format(name, s)) end
  return n
end

-- 1. the command line
local function parse(args)
  local o = {}
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
    if name == "input" then o.input = parse_shape(value())
    elseif name == "batch" then o.batch = positive("--batch", value())
    elseif name == "bins" then o.bins = positive("--bins", value())
    elseif name == "dtype" then o.dtype = value()
    elseif name == "script" then o.script = value()
    elseif name == "weights" then o.weights = value()
    elseif name == "histograms" then o.histograms = value()
    elseif name == "help" or a == "-h" then print(USAGE); os.exit(0)
    elseif a:sub(1, 1) == "-" then die("unknown option '" .. a .. "'")
    elseif o.source then die("one model expected, got '" .. o.source .. "' and '" .. a .. "'")
    else o.source = a end
    i = i + 1
  end
  if not o.source then die("no model given (a run directory, a TorchScript .pt file or an experiment script)") end
  if o.batch and not o.input then die("--batch needs --input") end
  return o
end

local function main(...)
  local o = parse({ ... })
  local A = require("clara.analyze")
  -- 2. the model
  local model, info = A.load_model(o.source, { script = o.script, weights = o.weights })
  local what = info.kind == "run" and ("run " .. info.path .. " (" .. info.weights .. ")")
    or info.kind == "script" and (info.path .. " (fresh from its model factory, untrained)")
    or ("TorchScript " .. info.path)
  -- 3. the summary
  local s = A.summary(model, o.input, { batch = o.batch, dtype = o.dtype })
  print("model: " .. what)
  print(s)
  -- 4. the histograms
  if o.histograms then
    local files = A.plot_histograms(A.weight_histograms(model, { bins = o.bins }), o.histograms)
    print(("histograms: %d files in %s"):format(#files, o.histograms))
  end
end

-- errors (missing file, not a run, a layer that fails on the input) as one line
local ok, err = pcall(main, ...)
if not ok then
  io.stderr:write("clara analyze: ", (tostring(err):gsub("^[^:]*:%d+: ", "")), "\n")
  os.exit(1)
end
