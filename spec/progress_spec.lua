-- VERBOSE: a bar on a terminal, ~10 plain lines per epoch elsewhere, silence with verbose = false
local progress = require "clara.train.progress"

local function sink()
  local s = { parts = {} }
  function s:write(x) self.parts[#self.parts + 1] = x end
  function s:text() return table.concat(self.parts) end
  return s
end

local function exp(over)
  torch.manual_seed(0)
  local x = torch.randn(400, 3)
  local spec = {
    data = { train = clara.data.TensorDataset(x, x:sum(2, { keepdim = true })), val = clara.data.TensorDataset(x[{{1, 40}}], x[{{1, 40}}]:sum(2, { keepdim = true })) },
    model = function() return nn.Linear(3, 1) end, objective = clara.losses.mse,
    metrics = { mae = clara.metrics.mae },
    optimizer = function(m) return optim.SGD(m, { lr = 0.05 }) end,
    batch_size = 4, epochs = 2, seed = 1, out_dir = false,
  }
  for k, v in pairs(over) do spec[k] = v end
  return clara.experiment(spec)
end

describe("progress", function()
  it("writes ~10 lines per epoch and no carriage return to a non-terminal", function()
    local out = sink()
    exp { progress = progress.new { terminal = false, out = out } }:run()
    local text = out:text()
    assert.is_nil(text:find("\r", 1, true))
    local per_epoch = { 0, 0 }
    for line in text:gmatch("[^\n]+") do
      local e = line:match("^epoch (%d)/2 +%d+%% %(")
      if e then per_epoch[tonumber(e)] = per_epoch[tonumber(e)] + 1 end
    end
    assert.are.same({ 10, 10 }, per_epoch)
    assert.matches("epoch 1/2  100%% %(100/100%)  [%d.]+ it/s  ETA 0:00  loss [%d.e-]+  mae [%d.e-]+\n", text)
    assert.matches("epoch 2/2  train_loss [%d.e-]+  train_mae [%d.e-]+  val_loss [%d.e-]+  val_mae [%d.e-]+  %([%d.]+s%)\n", text)
  end)

  it("prints nothing with verbose = false", function()
    local real = io.write
    local out = sink()
    local spy = progress.new { verbose = false, terminal = false, out = out }
    exp { verbose = false, progress = spy }:run()
    assert.are.equal("", out:text())
    -- and the default progress object is silent too
    local r = exp { verbose = false }:run()
    assert.are.equal(2, #r.history)
    assert.are.equal(real, io.write)
  end)

  it("redraws a bar in place on a terminal", function()
    local out = sink()
    exp { epochs = 1, progress = progress.new { terminal = true, out = out } }:run()
    local text = out:text()
    assert.truthy(text:find("\r\27[K", 1, true))
    assert.truthy(text:find("100/100 [========================]", 1, true))
    assert.matches("\nepoch 1/1  train_loss", text)
  end)

  it("formats the bar: step/total, rate, ETA, running loss and metrics", function()
    local s = progress.bar(25, 100, 12.5, { { "loss", 0.123456 }, { "acc", 0.9 } }, 20)
    assert.are.equal(" 25/100 [=====>              ]   12.5 it/s  ETA 0:06  loss 0.1235  acc 0.9", s)
    assert.are.equal("100/100 [====================]   12.5 it/s  ETA 0:00", progress.bar(100, 100, 12.5, {}, 20))
    assert.are.equal("7    3.0 it/s  loss 1", progress.bar(7, nil, 3, { { "loss", 1 } }))
    assert.are.equal("1:01:05", progress.duration(3665))
    assert.are.equal("?", progress.duration(math.huge))
    assert.are.equal("epoch 1/3   50% (5/10)  2.0 it/s  ETA 0:03  loss 0.5",
      progress.log_line(1, 3, 5, 10, 2, { { "loss", 0.5 } }))
  end)

  it("knows a terminal through clara.sys.core", function()
    local sys = require "clara.sys.core"
    assert.is_boolean(sys.isatty(1))
    assert.is_false(sys.isatty(99))
    local a = sys.clock(); local b = sys.clock()
    assert.is_true(b >= a)
    assert.has_error(function() sys.isatty(-1) end)
  end)
end)
