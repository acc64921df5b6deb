-- `clara analyze MODEL [--input 1,28,28] [--batch N] [--dtype T] [--script exp.lua]
--                      [--weights best.pt] [--histograms DIR] [--bins N]`
--
-- MODEL is a run directory (its weights in the model --script exp.lua
-- builds), a TorchScript file, or an experiment script (a fresh model from
-- its factory).  Prints clara.analyze.summary: layers, output shapes for
-- the --input shape (without the batch dimension; --batch, default 1),
-- parameters, MACs, memory.  Without --input, an experiment's own data
-- gives the input (its first --batch training samples, preprocessed); a
-- model without one (a TorchScript file) lists its parameters only.  --histograms DIR also draws each parameter's histogram (PNG and
-- SVG, --bins bins) into DIR.
local cmd = require("clara.cli.args").command("analyze")

-- 1. the command line
local function parse(args)
  local o, rest = cmd:parse(args)
  if #rest == 0 then cmd:die("no model given (a run directory, a TorchScript .pt file or an experiment script)") end
  o.source = cmd:single(rest, "model")
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
  local input = o.input
  if input == nil and info.experiment and info.experiment.data ~= nil then
    -- no --input: the experiment's own data, as its model sees it in training
    input = A.example_input(info.experiment, o.batch)
  end
  if input == nil and o.batch then cmd:die("--batch needs --input (the model has no experiment data to take one from)") end
  local s = A.summary(model, input, { batch = o.batch, dtype = o.dtype })
  print("model: " .. what)
  print(s)
  -- 4. the histograms
  if o.histograms then
    local files = A.plot_histograms(A.weight_histograms(model, { bins = o.bins }), o.histograms)
    print(("histograms: %d files in %s"):format(#files, o.histograms))
  end
end

-- errors (missing file, not a run, a layer that fails on the input) as one line
cmd:main(main, ...)
