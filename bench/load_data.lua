-- load_data, clara twin, one of two benchmarks (argument "idx" or "csv"):
--   load_idx: Fashion-MNIST train images + labels from the gzip IDX files
--     (clara.data.read_idx, the C reader), labels to int64;
--   load_csv: a ~100 MB numeric CSV (header, 20 float columns, an integer
--     label column) with clara.data.read_csv into float32 inputs and labels.
-- Same files as load_data.py (numpy); no C++ twin.  A repetition is one
-- load; the warm-up only reads the file once (page cache).
-- Usage: ./clara bench/load_data.lua idx|csv
-- The CSV is written into build/bench/ on first use (by load_data.py).
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local clock = dofile(here .. "/clock.lua")
local data = require "clara.data"

local FM = os.getenv("CLARA_DATA") or "/usr/share/datasets/fashion-mnist"
local CSV = "build/bench/numeric_100mb.csv"
local which = arg and arg[1] or "idx"

local function slurp(path)
  local f = assert(io.open(path, "rb"))
  f:read("a")
  f:close()
end

local function sum(t) return t:double():sum():item() end

local benches = {
  idx = {
    name = "load_idx", file = FM .. "/train-images-idx3-ubyte.gz",
    load = function()
      local x = data.read_idx(FM .. "/train-images-idx3-ubyte.gz")
      local y = data.read_idx(FM .. "/train-labels-idx1-ubyte.gz"):long()
      return sum(x) + sum(y)
    end,
  },
  csv = {
    name = "load_csv", file = CSV,
    load = function()
      local x, y = data.read_csv(CSV, { label = "label" })
      return sum(x) + sum(y)
    end,
  },
}
local b = benches[which] or error("load_data.lua: expected idx or csv, got " .. tostring(which))

if which == "csv" and not io.open(CSV, "rb") then
  assert(os.execute("/usr/bin/python3 " .. here .. "/load_data.py --make-csv " .. CSV),
    "could not write " .. CSV)
end

torch.set_num_threads(1)
clock.twin {
  name = b.name, warmup = function() slurp(b.file) end,
  rep = function()
    collectgarbage() -- the previous result's tensors go first
    return b.load()
  end,
}
