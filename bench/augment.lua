-- augment, clara twin, one of two benchmarks (argument "crop28" or
-- "rrc224"): batch augmentation per sample with clara.transforms.batch
--   augment_crop28: random crop with padding 4 + horizontal flip of
--     Fashion-MNIST images (N, 1, 28, 28);
--   augment_rrc224: random resized crop to 224 (bilinear) + horizontal flip
--     of 3 x 224 x 224 images.
-- The PyTorch twin (augment.py) runs torchvision's per-sample transforms on
-- tensors and stacks the batch; no C++ twin.  Time per sample; the check is
-- the batch's element count (the draws differ, the shapes may not).
-- Usage: ./clara bench/augment.lua crop28|rrc224
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local clock = dofile(here .. "/clock.lua")
local data = dofile(here .. "/data.lua")
local T = clara.transforms

local which = arg and arg[1] or "crop28"
torch.set_num_threads(1)
local x, step
if which == "crop28" then
  x = data.fashion_mnist(clock.setting("BENCH_ROWS", 4096), false)
  step = T.chain { T.batch.random_crop { size = 28, padding = 4 }, T.batch.flip {} }
elseif which == "rrc224" then
  torch.manual_seed(0)
  x = torch.rand(clock.setting("BENCH_ROWS", 64), 3, 224, 224)
  step = T.chain { T.batch.random_resized_crop { size = 224 }, T.batch.flip {} }
else
  error("augment.lua: expected crop28 or rrc224, got " .. tostring(which))
end
torch.manual_seed(1)

clock.twin {
  name = "augment_" .. which, per = x:size(1),
  rep = function() return step(x):numel() end,
}
