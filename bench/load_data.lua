-- load_data, clara twin: (1) load_idx: Fashion-MNIST train images + labels
-- from the gzip IDX files (clara.data.read_idx, the C reader), labels to
-- int64; (2) load_csv: a ~100 MB numeric CSV (header, 20 float columns, an
-- integer label column) with clara.data.read_csv into float32 inputs and
-- labels.  Same files and repetitions as load_data.py (numpy).
-- Usage: ./clara bench/load_data.lua [reps]
-- The CSV is written into build/bench/ on first use (by load_data.py).
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local clock = dofile(here .. "/clock.lua")
local data = require "clara.data"

local FM = os.getenv("CLARA_DATA") or "/usr/share/datasets/fashion-mnist"
local CSV = "build/bench/numeric_100mb.csv"
local reps = arg and tonumber(arg[1]) or 5

if not io.open(CSV, "rb") then
  assert(os.execute("/usr/bin/python3 " .. here .. "/load_data.py --make-csv " .. CSV),
    "could not write " .. CSV)
end

local function load_idx()
  local x = data.read_idx(FM .. "/train-images-idx3-ubyte.gz")
  local y = data.read_idx(FM .. "/train-labels-idx1-ubyte.gz"):long()
  return x, y
end

local function load_csv()
  return data.read_csv(CSV, { label = "label" })
end

local function bench(name, fn, n, check)
  collectgarbage()
  local a, b = clock.best(name, function()
    collectgarbage() -- the previous result's tensors go first
    return fn()
  end, n)
  print(string.format("CHECK %s %.6g", name, check(a, b)))
  io.stdout:flush()
end

torch.set_num_threads(1)
bench("load_idx", load_idx, reps, function(x, y) return x:long():sum():item() + y:sum():item() end)
bench("load_csv", load_csv, math.max(1, reps // 2),
  function(x, y) return x:double():sum():item() + y:double():sum():item() end)
