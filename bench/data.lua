-- bench/data.lua: Fashion-MNIST for the Lua twins, as bench/data.h and
-- bench/data.py prepare it: the first `rows` training images scaled to
-- [0,1] float32 (x:float():div(255), the same op in all three twins), flat
-- (rows, 784) or as (rows, 1, 28, 28) images; labels int64.
local M = {}

function M.fashion_mnist(rows, flat)
  local x, y = clara.data.fashion_mnist { split = "train" }
  rows = math.min(rows, x:size(1))
  x = x:narrow(1, 1, rows):float():div(255)
  if flat ~= false then x = x:reshape(rows, 784):contiguous() else x = x:reshape(rows, 1, 28, 28):contiguous() end
  return x, y:narrow(1, 1, rows):contiguous()
end

-- the twins' setup: one thread (BENCH_THREADS: the parallel benchmark's
-- 1 process x 2 threads), then BENCH_ROWS (else `rows`) images
function M.setup(rows, flat)
  torch.set_num_threads(tonumber(os.getenv("BENCH_THREADS") or "") or 1)
  return M.fashion_mnist(tonumber(os.getenv("BENCH_ROWS") or "") or rows, flat)
end

return M
