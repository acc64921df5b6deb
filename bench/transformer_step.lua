-- transformer_step, clara twin: one training step of a small Transformer
-- encoder (nn.TransformerEncoder of 2 nn.TransformerEncoderLayer: d_model
-- 64, nhead 4, dim_feedforward 128, ReLU, post-norm, dropout 0 so that the
-- three twins compute the same losses), sequence 32, batch 16, (S, N, E)
-- layout: forward, MSE loss against a fixed random target, backward, Adam
-- (lr 1e-3) step, zero the grads.  Same work as transformer_step.py/.cpp.
-- The weights are set, in the order of their sorted names, from one seeded
-- generator (LayerNorm weights 1, the rest randn * 0.05), so the three
-- twins start equal.  A repetition is `steps` (10) steps, continuing the
-- same weights; the time is per step.  CHECK: the last loss.
-- Usage: ./clara bench/transformer_step.lua [steps]   (BENCH_SCALE scales)
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local clock = dofile(here .. "/clock.lua")

local steps = clock.count(10, 2)
local S, N, E, HEADS, FF, LAYERS = 32, 16, 64, 4, 128, 2

torch.set_num_threads(1)
local layer = nn.TransformerEncoderLayer(E, HEADS, { dim_feedforward = FF, dropout = 0 })
local model = nn.TransformerEncoder(layer, LAYERS)

torch.manual_seed(0)
local named = {}
for name, p in model:named_parameters() do named[#named + 1] = { name, p } end
table.sort(named, function(a, b) return a[1] < b[1] end)
torch.no_grad(function()
  for _, np in ipairs(named) do
    local name, p = np[1], np[2]
    if name:find("norm%d%.weight$") then p:fill_(1) else p:copy_(torch.randn(p:size()) * 0.05) end
  end
end)
local x = torch.randn(S, N, E)
local y = torch.randn(S, N, E)
local opt = optim.Adam(model:parameters(), { lr = 1e-3 })
local mse = nn.functional.mse_loss

local function step()
  local loss = mse(model(x), y)
  loss:backward()
  opt:step()
  opt:zero_grad()
  return loss
end

local function run(n)
  local loss
  for _ = 1, n do loss = step() end
  return loss:item()
end

clock.twin { name = "transformer_step", rep = function() return run(steps) end, per = steps,
             warmup = function() run(3) end }
