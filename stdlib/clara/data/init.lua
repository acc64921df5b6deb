-- clara.data: data sets.  The embedded default is Fashion-MNIST from
-- Debian's dataset-fashion-mnist.
local idx = require "clara.data.idx"

local data = { idx = idx }

data.fashion_mnist_classes = { "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot" }

-- clara.data.fashion_mnist{split = "train" | "test", dir = ...}
-- -> images (N, 28, 28) uint8, labels (N) int64 in 0..9, class names
function data.fashion_mnist(opts)
  opts = opts or {}
  local split = opts.split or "train"
  local prefix = ({ train = "train", test = "t10k" })[split]
  if not prefix then error(("fashion_mnist: unknown split '%s' (train or test)"):format(split), 2) end
  local dir = opts.dir or os.getenv("CLARA_DATA") or "/usr/share/datasets/fashion-mnist"
  local images = idx.read(("%s/%s-images-idx3-ubyte.gz"):format(dir, prefix))
  local labels = idx.read(("%s/%s-labels-idx1-ubyte.gz"):format(dir, prefix)):long()
  return images, labels, data.fashion_mnist_classes
end

-- datasets, loaders, partitions (dataset.lua, loader.lua, partition.lua)
data.TensorDataset = require("clara.data.dataset").TensorDataset
data.Subset = require("clara.data.dataset").Subset
data.Concat = require("clara.data.dataset").Concat
data.DataLoader = require("clara.data.loader").DataLoader
data.collate = require("clara.data.loader").collate
data.iterate = require("clara.data.loader").iterate
data.split = require("clara.data.partition").split
data.given = require("clara.data.partition").given
data.partition_from = require("clara.data.partition").partition_from
data.is_held_out = require("clara.data.partition").is_held_out

-- input conventions (read.lua, C parsers in bindings/parse_*.c): read_idx, read_csv,
-- read_npy, read_npz, read_pt, from_table, read_dir, and fashion_mnist on the C reader
for k, v in pairs(require "clara.data.read") do data[k] = v end

return data
