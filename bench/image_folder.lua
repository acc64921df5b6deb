-- image_folder, clara twin: one pass over a folder of 10,000 small PNG
-- files (Fashion-MNIST, written by bench/image_folder.py --make) with
-- clara.data.ImageFolder (RGB, float32 in [0, 1], as torchvision's loader
-- + ToTensor) and a DataLoader (batch_size 64, in order).  BENCH_WORKERS=n
-- asks the DataLoader for `workers = n`; where the DataLoader has no such
-- option the twin says SKIP.  A repetition builds the dataset (the folder
-- scan) and decodes every file.  CHECK: the sum of every pixel and label.
-- Usage: ./clara bench/image_folder.lua
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local clock = dofile(here .. "/clock.lua")
local data = require "clara.data"

local N = 10000
local ROOT = "/tmp/clara-bench-fmnist-png-" .. N
local workers = clock.setting("BENCH_WORKERS", 0)
local name = workers == 0 and "image_folder" or ("image_folder_w" .. workers)

assert(os.execute(("/usr/bin/python3 %s/image_folder.py --make %s %d"):format(here, ROOT, N)),
  "could not write " .. ROOT)
torch.set_num_threads(1)

local function loader()
  local ds = data.ImageFolder(ROOT)
  local opts = { batch_size = 64, shuffle = false }
  if workers > 0 then opts.workers = workers end
  return data.DataLoader(ds, opts)
end

if workers > 0 and not pcall(loader) then
  print(("SKIP %s the DataLoader has no workers option in this tree"):format(name))
  return
end

clock.twin {
  name = name,
  rep = function()
    local total = 0.0
    for x, y in loader():iter() do
      total = total + x:double():sum():item() + y:sum():item()
    end
    return total
  end,
}
