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
  it("writes one summary line per epoch and no carriage return to a non-terminal", function()
    local out = sink()
    exp { progress = progress.new { terminal = false, out = out, columns = 200 } }:run()
    local text = out:text()
    assert.is_nil(text:find("\r", 1, true))
    local lines = {}
    for line in text:gmatch("[^\n]+") do lines[#lines + 1] = line end
    assert.are.equal(3, #lines, text)
    assert.matches("^epoch 1/2  train_loss [%d.e-]+  train_mae [%d.e-]+  val_loss [%d.e-]+  val_mae [%d.e-]+  %([%d.]+s%)$", lines[1])
    assert.matches("^epoch 2/2  train_loss ", lines[2])
    assert.matches("^restored the weights of epoch %d %(best val_loss [%d.e-]+%)$", lines[3])
  end)

  it("writes one line per epoch on a terminal with verbose = 2, a bar with verbose = 1", function()
    local out = sink()
    exp { verbose = 2, progress = progress.new { verbose = 2, terminal = true, out = out, columns = 200 } }:run()
    assert.is_nil(out:text():find("\r", 1, true))
    assert.matches("^epoch 1/2  train_loss [^\n]+\nepoch 2/2  train_loss ", out:text())
    -- the experiment's own display takes the level
    local real = io.stdout
    local bar = sink()
    bar.flush = function() end
    io.stdout = bar ---@diagnostic disable-line
    local ok, err = pcall(function() exp { verbose = 2 }:run() end)
    io.stdout = real ---@diagnostic disable-line
    assert(ok, err)
    assert.is_nil(bar:text():find("\r", 1, true))
    assert.matches("epoch 1/2  train_loss", bar:text())
  end)

  it("checks verbose: 0, 1, 2 or a boolean", function()
    assert.has_error(function() exp { verbose = 3 } end)
    local out = sink()
    exp { verbose = 0, progress = progress.new { verbose = 0, terminal = true, out = out } }:run()
    assert.are.equal("", out:text())
    assert.are.equal(0, progress.level(false))
    assert.are.equal(1, progress.level(true))
    assert.are.equal(2, progress.level(2))
  end)

  it("prints early stopping and the epoch whose weights were restored", function()
    local out = sink()
    -- lr 0: nothing improves after the first epoch
    exp { epochs = 10, patience = 2, optimizer = function(m) return optim.SGD(m, { lr = 0 }) end,
          progress = progress.new { terminal = false, out = out, columns = 200 } }:run()
    local text = out:text()
    assert.matches("\nearly stopping at epoch 3: val_loss did not improve for 2 epochs\n", text)
    assert.matches("\nrestored the weights of epoch 1 %(best val_loss [%d.e-]+%)\n", text)
    assert.is_nil(text:find("epoch 4/10", 1, true))
  end)

  it("wraps long lines at the terminal width between parts, never mid-word", function()
    local line = "epoch 12/100  train_loss 0.1234  train_accuracy 0.9876  val_loss 0.2345  val_accuracy 0.9512  (1.2s)"
    local wrapped = progress.wrap(line, 40)
    assert.are.equal("epoch 12/100  train_loss 0.1234\n  train_accuracy 0.9876  val_loss 0.2345\n"
      .. "  val_accuracy 0.9512  (1.2s)", wrapped)
    for l in wrapped:gmatch("[^\n]+") do assert.is_true(#l <= 40, l) end
    -- every word survives, in order
    assert.are.equal(line:gsub("%s+", " "), (wrapped:gsub("%s+", " ")))
    assert.are.equal("short", progress.wrap("short", 40))
    -- a part longer than the width is cut at its spaces; a word longer stays whole
    assert.are.equal("aaa bbb\n  ccc\n  dddddddddddddd", progress.wrap("aaa bbb ccc dddddddddddddd", 10))
    -- COLUMNS gives the width (the terminal's when unset, 80 without one)
    local out = sink()
    local p = progress.new { terminal = false, out = out, columns = 30 }
    p:line("alpha 1  beta 2  gamma 3  delta 4  epsilon 5")
    assert.are.equal("alpha 1  beta 2  gamma 3\n  delta 4  epsilon 5\n", out:text())
    assert.is_true(progress.columns() >= 20)
    -- not on a terminal, lines stay whole unless COLUMNS says a width
    local function child(env)
      local p = io.popen(env .. [[ ./clara -e 'require("clara.train.progress").new{terminal = false}:line(("part 1  "):rep(30))']])
      local out = p:read("a")
      p:close()
      return out
    end
    assert.are.equal(("part 1  "):rep(30) .. "\n", child("env -u COLUMNS"))
    local first = #child("env COLUMNS=100"):match("^[^\n]*")
    assert.is_true(first > 90 and first <= 100, first)
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
