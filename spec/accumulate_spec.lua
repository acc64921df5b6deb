-- gradient accumulation: accumulate = 4 micro-batches of 8 makes the same
-- optimizer steps as batches of 32 (a model without batch-dependent
-- layers, float64), including an uneven last step
local MLP = nn.Module:extend("MLP64")
function MLP:init()
  self.w1 = nn.Parameter(torch.randn(4, 16, { dtype = "float64" }) * 0.5)
  self.b1 = nn.Parameter(torch.zeros(16, { dtype = "float64" }))
  self.w2 = nn.Parameter(torch.randn(16, 3, { dtype = "float64" }) * 0.5)
end
function MLP:forward(x) return (x:matmul(self.w1) + self.b1):tanh():matmul(self.w2) end

local function run(batch_size, accumulate, n, opt)
  torch.manual_seed(5)
  local x = torch.randn(n, 4, { dtype = "float64" })
  local y = torch.randint(0, 3, { n })
  return clara.experiment {
    data = clara.data.TensorDataset(x, y), verbose = false, out_dir = false, seed = 3, epochs = 2,
    batch_size = batch_size, accumulate = accumulate,
    model = function() return MLP() end, objective = clara.losses.cross_entropy,
    optimizer = opt or function(m) return optim.SGD(m:parameters(), { lr = 0.5, momentum = 0.9 }) end,
  }:run()
end

local function max_diff(a, b)
  local d = 0
  for k, t in pairs(a.model:state_dict()) do
    d = math.max(d, (t - b.model:state_dict()[k]):abs():max():item())
  end
  return d
end

describe("accumulate", function()
  it("4 micro-batches of 8 give the weights of batches of 32 (float64, 1e-12)", function()
    local big, acc = run(32, 1, 128), run(8, 4, 128)
    assert.are.equal(big.steps, acc.steps)
    assert.are.equal(8, acc.steps)
    assert.is_true(max_diff(big, acc) < 1e-12, max_diff(big, acc))
    assert.is_true(math.abs(big.history[2].train_loss - acc.history[2].train_loss) < 1e-12)
    -- and the test can fail: plain batches of 8 step differently
    assert.is_true(max_diff(big, run(8, 1, 128)) > 1e-4)
  end)

  it("weighs an uneven last step by its samples (100 = 3 x 32 + 4)", function()
    local big, acc = run(32, 1, 100), run(8, 4, 100)
    assert.are.equal(8, acc.steps)   -- 4 steps per epoch
    assert.is_true(max_diff(big, acc) < 1e-12, max_diff(big, acc))
  end)

  it("works with Adam too", function()
    local adam = function(m) return optim.Adam(m:parameters(), { lr = 0.01 }) end
    local big, acc = run(32, 1, 64, adam), run(8, 4, 64, adam)
    assert.is_true(max_diff(big, acc) < 1e-12, max_diff(big, acc))
  end)

  it("drop_last drops the short batch", function()
    local r = run(32, 1, 100)
    local d = clara.experiment {
      data = clara.data.TensorDataset(torch.randn(100, 4, { dtype = "float64" }), torch.randint(0, 3, { 100 })),
      verbose = false, out_dir = false, seed = 3, epochs = 1, batch_size = 32, drop_last = true,
      model = function() return MLP() end, objective = clara.losses.cross_entropy,
      optimizer = function(m) return optim.SGD(m:parameters(), { lr = 0.1 }) end }:run()
    assert.are.equal(8, r.steps)
    assert.are.equal(3, d.steps)
  end)

  it("takes a user batcher", function()
    local x, y = torch.randn(20, 4, { dtype = "float64" }), torch.randint(0, 3, { 20 })
    local seen = {}
    local batcher = { batches = function(_, ds, info)
      seen[#seen + 1] = info.split
      local i = 0
      return function()
        i = i + 1
        if i > 2 then return nil end
        return x[{ { (i - 1) * 10 + 1, i * 10 } }], y[{ { (i - 1) * 10 + 1, i * 10 } }]
      end, 2
    end }
    local r = clara.experiment { data = { train = clara.data.TensorDataset(x, y), val = clara.data.TensorDataset(x, y) },
      batcher = batcher, verbose = false, out_dir = false, epochs = 2, model = function() return MLP() end,
      objective = clara.losses.cross_entropy,
      optimizer = function(m) return optim.SGD(m:parameters(), { lr = 0.1 }) end }:run()
    assert.are.equal(4, r.steps)
    -- the final validation numbers are the last epoch's unless best weights
    -- of an earlier epoch were restored (then val is evaluated once more)
    local final_val = r.restored ~= nil and r.restored ~= 2 and { "val" } or {}
    assert.are.same({ "train", "val", "train", "val", table.unpack(final_val) }, seen)
    assert.are.equal(r.history[r.restored or 2].val_loss, r.final.val.loss)
  end)
end)
