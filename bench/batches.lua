-- batches, clara twin: one epoch of mini-batch assembly over in-memory
-- tensors: x 60000x784 float32, y 60000 int64, batch 128, shuffled, by
-- clara.data.DataLoader (fast path: one index_select per tensor per batch).
-- Same work as batches.py (PyTorch's DataLoader(TensorDataset)) and
-- batches.cpp (randperm + index_select).  A repetition is one epoch.
-- Usage: ./clara bench/batches.lua [rows]   (BENCH_SCALE scales the rows)
-- Timing and protocol: bench/clock.lua.
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local clock = dofile(here .. "/clock.lua")

local rows = clock.count(60000, 1280)

torch.set_num_threads(1)
torch.manual_seed(0)
local x = torch.rand(rows, 784)
local y = torch.randint(0, 10, { rows })
local loader = clara.data.DataLoader(clara.data.TensorDataset(x, y), { batch_size = 128, shuffle = true })

-- the sum of every batch's labels: the same whatever the order, so equal in
-- all twins exactly when every sample came once
local function epoch()
  local s = 0
  for _, yb in loader do s = s + yb:sum():item() end
  return s
end

clock.twin { name = "batches", rep = epoch }
