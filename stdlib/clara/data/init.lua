-- clara.data: data sets.  The embedded default is Fashion-MNIST from
-- Debian's dataset-fashion-mnist.
local data = { idx = require "clara.data.idx" }

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
-- read_npy, read_npz, read_pt, from_table, read_dir, fashion_mnist (and its class names)
for k, v in pairs(require "clara.data.read") do data[k] = v end

-- images (image.lua, image_folder.lua; C decoders in bindings/image.c):
-- read_image, write_image, ImageFolder
data.read_image = require("clara.data.image").read_image
data.write_image = require("clara.data.image").write_image
data.ImageFolder = require("clara.data.image_folder").ImageFolder

-- a misspelt name raises, naming the closest
return require("clara.error").namespace(data, "clara.data")
