-- clara.analyze: summaries (shapes checked against the model's own
-- forward, parameter counts and MACs against hand counts), gradient norms
-- against p.grad:norm() read in a hook of the spec's own, activation
-- statistics of a ReLU on a known input, histograms against numpy
-- (spec/fixtures/analyze.lua, tests/fixtures/make_analyze.py), bad calls,
-- and `clara analyze` through io.popen.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/analyze_spec.lua
local torch = require "torch"
local nn, optim = torch.nn, torch.optim
local clara = require "clara"
local fs = require "clara.fs"
local badcalls = require "spec.helpers.badcalls"
local A = clara.analyze

local CLARA = fs.join(require("lfs").currentdir(), "clara")

local tmpdir, cleanup = dofile("spec/helpers/tmpdir.lua")
teardown(cleanup)

local sh = require("spec.helpers.shell").sh

local function same_shape(a, b) return table.concat(a, "x") == table.concat(b, "x") end

local function write(path, text)
  local f = assert(io.open(path, "w")); f:write(text); f:close()
end

-- a small classification set: 64 samples, 4 features
local function toy_data()
  local g = torch.manual_seed(3)
  local x = torch.randn(64, 4)
  local y = (x[{ {}, 1 }] + x[{ {}, 2 }]):gt(0):long()
  return x, y
end

local function toy_experiment(hooks, extra)
  local x, y = toy_data()
  local spec = {
    name = "analyze_toy", data = { train = { x, y } }, seed = 1, verbose = false, out_dir = false,
    model = function() return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)) end,
    objective = clara.losses.cross_entropy,
    optimizer = function(m) return optim.SGD(m, { lr = 0.1 }) end,
    batch_size = 16, epochs = 2, shuffle = false, hooks = hooks,
  }
  for k, v in pairs(extra or {}) do spec[k] = v end
  return clara.experiment(spec)
end

describe("clara.analyze.summary", function()
  it("counts an MLP: shapes, parameters, MACs = in * out per sample", function()
    local net = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    local s = A.summary(net, { 784 })
    assert.are.equal(784 * 256, s:row("0").macs)
    assert.are.equal(2 * 784 * 256, s:row("0").flops)
    assert.are.equal(256 * 10, s:row("2").macs)
    assert.are.equal(256, s:row("1").flops) -- one op per ReLU output
    assert.are.equal(784 * 256 + 256, s:row("0").params)
    assert.are.equal(784 * 256 + 256 + 256 * 10 + 10, s.totals.params)
    assert.are.equal(s.totals.params, s.totals.trainable)
    assert.are.equal(0, s.totals.non_trainable)
    assert.are.equal(4 * s.totals.params, s.totals.param_bytes)
    assert.are.equal(784 * 256 + 256 * 10, s.totals.macs)
    assert.are.same({ 1, 256 }, s:row("0").output_shape)
    assert.are.same({ 1, 10 }, s:row("").output_shape)
    -- outputs of the leaves: 256 + 256 + 10 floats
    assert.are.equal(4 * (256 + 256 + 10), s.totals.activation_bytes)
    assert.are.equal(4 * 784, s.totals.input_bytes)
    -- a batch of 8 multiplies the work and the activations, not the parameters
    local s8 = A.summary(net, { 784 }, { batch = 8 })
    assert.are.equal(8 * s.totals.macs, s8.totals.macs)
    assert.are.equal(8 * s.totals.activation_bytes, s8.totals.activation_bytes)
    assert.are.same({ 8, 10 }, s8:row("").output_shape)
  end)

  it("counts a CNN; output shapes are what the layers give", function()
    local net = nn.Sequential(nn.Conv2d(1, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
      nn.Linear(8 * 13 * 13, 10))
    local s = A.summary(net, { 1, 28, 28 })
    assert.are.equal(26 * 26 * 8 * 9, s:row("0").macs)
    assert.are.equal(8 * 26 * 26, s:row("1").macs)          -- eval BatchNorm: one scale-and-shift each
    assert.are.equal(0, s:row("3").macs)
    assert.are.equal(8 * 13 * 13 * 4, s:row("3").flops)     -- 2x2 windows
    assert.are.equal(8 * 13 * 13 * 10, s:row("5").macs)
    assert.are.equal(8 * 9 + 8, s:row("0").params)
    assert.are.equal(8 + 8 + 1, s.totals.buffers)           -- running mean, var, num_batches_tracked
    assert.are.equal(8 * 4 + 8 * 4 + 8, s.totals.buffer_bytes)
    -- each layer's shape is what running the layers in turn gives
    local x = torch.randn(1, 1, 28, 28)
    local bytes = 0
    torch.no_grad(function()
      net:eval()
      for i = 1, #net do
        x = net[i](x)
        assert.is_true(same_shape(x:size(), s:row(tostring(i - 1)).output_shape), "layer " .. (i - 1))
        bytes = bytes + 4 * x:numel()
      end
    end)
    assert.are.equal(bytes, s.totals.activation_bytes)
  end)

  it("counts strided, grouped, transposed and 1d convolutions", function()
    local s = A.summary(nn.Conv2d(4, 8, 3, { stride = 2, padding = 1, groups = 2 }), { 4, 9, 9 })
    assert.are.same({ 1, 8, 5, 5 }, s:row("").output_shape)
    assert.are.equal(8 * 5 * 5 * (4 / 2) * 9, s.totals.macs)
    s = A.summary(nn.ConvTranspose2d(2, 3, 3, { stride = 2 }), { 2, 5, 5 })
    assert.are.same({ 1, 3, 11, 11 }, s:row("").output_shape)
    assert.are.equal(2 * 5 * 5 * 3 * 9, s.totals.macs)     -- each input pixel spreads a 3x3 kernel per output channel
    s = A.summary(nn.Conv1d(3, 4, 5), { 3, 20 })
    assert.are.equal(4 * 16 * 3 * 5, s.totals.macs)
  end)

  it("counts recurrent layers per step, layer and direction", function()
    -- LSTM: 4 gates; layer 1 reads 8 inputs, layer 2 the 5 hidden; 2 x 3 steps
    local s = A.summary(nn.Sequential(nn.LSTM(8, 5, 2, { batch_first = true })), { 3, 8 }, { batch = 2 })
    assert.are.equal(2 * 3 * (4 * 5 * (8 + 5) + 4 * 5 * (5 + 5)), s.totals.macs)
    assert.are.same({ { 2, 3, 5 }, { 2, 2, 5 }, { 2, 2, 5 } }, s:row("0").output_shapes)
    -- GRU: 3 gates, both directions; (L, N, H) = (2, 3, 4)
    s = A.summary(nn.GRU(4, 6, { bidirectional = true }), { 3, 4 }, { batch = 2 })
    assert.are.equal(2 * 3 * 2 * (3 * 6 * (4 + 6)), s.totals.macs)
  end)

  it("counts norms, embeddings and softmax; integer inputs with dtype", function()
    local s = A.summary(nn.Sequential(nn.Embedding(10, 4), nn.LayerNorm(4), nn.Softmax(3)), { 5 }, { dtype = "int64" })
    assert.are.same({ 1, 5, 4 }, s:row("0").output_shape)
    assert.are.equal(0, s:row("0").macs)
    assert.are.equal(20, s:row("1").macs)
    assert.are.equal(2 * 20 + 5 * 20, s:row("1").flops)
    assert.are.equal(3 * 20, s:row("2").flops)
    assert.are.equal(8 * 5, s.totals.input_bytes)          -- int64 indices
  end)

  it("takes an example tensor, and a layer used twice counts twice", function()
    local Twice = nn.Module:extend("Twice")
    function Twice:init() self.fc = nn.Linear(6, 6) end
    function Twice:forward(x) return self.fc(self.fc(x)) end
    local s = A.summary(Twice(), torch.randn(3, 6))
    assert.are.equal(3, s.batch)
    assert.are.equal(2, s:row("fc").calls)
    assert.are.equal(2 * 3 * 36, s.totals.macs)
    assert.are.equal(42, s.totals.params)
  end)

  it("lists Lua layers it cannot count, and counts frozen parameters apart", function()
    local Scale = nn.Module:extend("Scale")
    function Scale:init(n) self.weight = nn.Parameter(torch.ones(n)) end
    function Scale:forward(x) return x * self.weight end
    local net = nn.Sequential(nn.Linear(4, 8), Scale(8))
    net[1].weight:requires_grad_(false)
    local s = A.summary(net, { 4 })
    assert.are.equal(40 + 8, s.totals.params)
    assert.are.equal(8 + 8, s.totals.trainable)
    assert.are.equal(32, s.totals.non_trainable)
    assert.is_nil(s:row("1").macs)
    assert.are.equal("1", s.uncounted[1].name)
    assert.are.equal(32, s.totals.macs)
    assert.matches("MACs not counted (no rule for these layers): 1 (Scale)", tostring(s), 1, true)
  end)

  it("runs in eval mode without gradients, then puts modes and the RNG back", function()
    local Probe = nn.Module:extend("Probe")
    local seen = {}
    function Probe:forward(x)
      seen.training, seen.grad = self.training, torch.is_grad_enabled()
      return x
    end
    local net = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5), Probe())
    net:train(); net[2]:eval()
    torch.manual_seed(11); local a = torch.rand(3)
    torch.manual_seed(11)
    A.summary(net, { 2 })
    local b = torch.rand(3)
    assert.is_true(torch.equal(a, b))
    assert.is_false(seen.training); assert.is_false(seen.grad)
    assert.is_true(net.training); assert.is_false(net[2].training); assert.is_true(net[1].training)
    assert.is_true(torch.is_grad_enabled())
    -- also when the pass fails
    assert.is_false(pcall(A.summary, net, { 3 }))
    assert.is_true(net.training); assert.is_false(net[2].training)
    assert.is_nil(rawget(net[1], "forward"))                -- the wrappers are gone
  end)

  it("prints a table with totals", function()
    local text = tostring(A.summary(nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10)), { 784 }))
    assert.matches("Layer (type)", text, 1, true)
    assert.matches("0 %(Linear%)%s+%[1, 256%]%s+200,960%s+200,704", text)
    assert.matches("2 %(Linear%)%s+%[1, 10%]%s+2,570%s+2,560", text)
    assert.matches("Total params: 203,530 (795.04 KiB)", text, 1, true)
    -- FLOPs: 2 per MAC, and one per ReLU output
    assert.matches("MACs: 203,264 (203.26 K)   FLOPs: 406,784 (406.78 K)", text, 1, true)
    -- without an input: parameters only
    local bare = tostring(A.summary(nn.Linear(3, 2)))
    assert.matches("no input given", bare, 1, true)
    assert.matches("Total params: 8", bare, 1, true)
  end)

  it("summarizes a TorchScript model: parameters, and the model's output shape", function()
    local m = torch.jit.compile([[
def forward(self, x):
    return x @ self.w + self.b
]], { parameters = { w = torch.randn(3, 2), b = torch.zeros(2) } })
    local s = A.summary(m, { 3 }, { batch = 4 })
    assert.are.equal(8, s.totals.params)
    assert.are.same({ 4, 2 }, s:row("").output_shape)
    assert.is_nil(s.totals.macs)
    assert.matches("TorchScript model runs as one call", tostring(s), 1, true)
  end)
end)

describe("clara.analyze.grad_norms", function()
  it("records each layer's gradient norm after each backward, as p.grad:norm() gives it", function()
    local g = A.grad_norms()
    local hand = {}
    local mine = { on_batch_end = function(ctx)
      for _, layer in ipairs { "0", "2" } do
        local m = ctx.model[tonumber(layer) + 1]
        hand[#hand + 1] = math.sqrt(m.weight.grad:norm():item() ^ 2 + m.bias.grad:norm():item() ^ 2)
      end
    end }
    toy_experiment(A.merge_hooks(g, mine)):run()
    -- 2 epochs of 4 batches, 2 layers
    assert.are.equal(16, #g.records)
    assert.are.same({ "0", "2" }, g.layers)
    for i, r in ipairs(g.records) do assert.near(hand[i], r.norm, 1e-12) end
    assert.are.same({ 1, 1, 1, "0" }, { g.records[1].epoch, g.records[1].batch, g.records[1].step, g.records[1].layer })
    assert.are.same({ 2, 4, 8, "2" }, { g.records[16].epoch, g.records[16].batch, g.records[16].step, g.records[16].layer })
    -- per epoch: mean and max of that epoch's batches
    assert.are.equal(4, #g.epochs)
    local e = g.epochs[3]
    assert.are.same({ 2, "0", 4 }, { e.epoch, e.layer, e.n })
    local sum, max = 0, 0
    for _, i in ipairs { 9, 11, 13, 15 } do sum = sum + hand[i]; max = math.max(max, hand[i]) end
    assert.near(sum / 4, e.mean, 1e-12)
    assert.are.equal(max, e.max)
  end)

  it("per step with accumulation, per parameter, every N", function()
    local g = A.grad_norms { at = "step", by = "parameter", every = 2 }
    local hand = {}
    local mine = { on_step_end = function(ctx) hand[#hand + 1] = ctx.model[3].bias.grad:norm():item() end }
    toy_experiment(A.merge_hooks(g, mine), { accumulate = 2, epochs = 1 }):run()
    -- 4 batches make 2 steps; every = 2 keeps step 1; 4 parameter tensors
    assert.are.equal(4, #g.records)
    assert.are.same({ "0.weight", "0.bias", "2.weight", "2.bias" }, g.layers)
    assert.are.equal(1, g.records[4].step)
    assert.near(hand[1], g.records[4].norm, 1e-12)
  end)

  it("writes CSV files and a plot", function()
    local g = A.grad_norms()
    toy_experiment(g):run()
    local d = tmpdir()
    g:write_csv(fs.join(d, "g.csv")); g:write_epochs_csv(fs.join(d, "e.csv"))
    local lines = {}
    for l in io.lines(fs.join(d, "g.csv")) do lines[#lines + 1] = l end
    assert.are.equal("epoch,step,batch,layer,norm", lines[1])
    assert.are.equal(17, #lines)
    assert.are.equal(g.records[1].norm, tonumber(lines[2]:match("([^,]+)$")))
    local e = fs.read(fs.join(d, "e.csv"))
    assert.matches("^epoch,layer,mean,max,n\n2,0,", (e:gsub("\n1,[^\n]*", "")))
    local files = g:plot(fs.join(d, "grads"))
    assert.are.same({ fs.join(d, "grads.png"), fs.join(d, "grads.svg") }, { files.png, files.svg })
    assert.are.equal("\137PNG", fs.read(files.png):sub(1, 4))
    assert.matches("<svg", fs.read(files.svg), 1, true)
    -- the data file holds the epoch means, layer by layer
    local means = {}
    for v in fs.read(files.data):gmatch("\n%d+\t(%S+)") do means[#means + 1] = tonumber(v) end
    assert.are.same({ g.epochs[1].mean, g.epochs[3].mean, g.epochs[2].mean, g.epochs[4].mean }, means)
    assert.is_true(fs.exists(fs.join(d, "grads.gp")) and fs.exists(fs.join(d, "grads.dat")))
  end)

  it("merge_hooks calls each table's hook in order", function()
    local order = {}
    local h = A.merge_hooks({ on_epoch_end = function() order[#order + 1] = "a" end }, nil,
      { on_epoch_end = function() order[#order + 1] = "b" end, on_run_end = function() order[#order + 1] = "c" end })
    h.on_epoch_end({}); h.on_run_end({})
    assert.are.same({ "a", "b", "c" }, order)
    assert.is_nil(h.on_batch_end)
  end)
end)

describe("clara.analyze.activation_stats", function()
  -- Linear keeps the first 3 inputs (weight = [I | 0], no bias), then ReLU
  local function known_net()
    local net = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    torch.no_grad(function()
      net[1].weight:copy_(torch.tensor { { 1, 0, 0, 0 }, { 0, 1, 0, 0 }, { 0, 0, 1, 0 } })
      net[1].bias:zero_()
    end)
    return net
  end
  local x = torch.tensor { { 1, -2, 3, -4 }, { -1, 2, 0, 5 } }:float()

  it("gives mean, std and the fraction of exact zeros per layer", function()
    local st = A.activation_stats(known_net(), x)
    -- Linear: {1, -2, 3, -1, 2, 0}; ReLU: {1, 0, 3, 0, 2, 0}
    assert.are.same({ "0", "1", "" }, { st[1].name, st[2].name, st[3].name })
    assert.near(0.5, st["0"].mean, 1e-12)
    assert.near(1 / 6, st["0"].zero_fraction, 1e-12)
    assert.near(1, st["1"].mean, 1e-12)
    assert.near(math.sqrt((0 + 1 + 4 + 1 + 1 + 1) / 5), st["1"].std, 1e-6)
    assert.are.equal(0.5, st["1"].zero_fraction)
    assert.are.equal("ReLU", st["1"].type)
    assert.are.same({ 2, 3 }, st["1"].shape)
  end)

  it("samples during training: a fixed batch every N steps", function()
    local h = A.activation_hook { every = 3, x = x }
    local hand = {}
    local mine = { on_step_end = function(ctx)
      if ctx.step == 4 then hand = A.activation_stats(ctx.model, x) end
    end }
    toy_experiment(A.merge_hooks(h, mine), {
      model = known_net, epochs = 1, data = { train = { toy_data() } } }):run()
    -- steps 1 and 4 of 4; three rows each (two layers and the model)
    assert.are.equal(6, #h.records)
    assert.are.same({ 4, "1", "ReLU" }, { h.records[5].step, h.records[5].layer, h.records[5].type })
    assert.are.equal(hand["1"].zero_fraction, h.records[5].zero_fraction)
    assert.are.equal(hand["1"].mean, h.records[5].mean)
  end)

  it("samples during training: the training batch itself", function()
    local h = A.activation_hook { every = 2 }
    local x, y = toy_data()
    -- lr = 0: the weights stay, so the stats of batch k can be recomputed after
    toy_experiment(h, { model = known_net, epochs = 1, optimizer = function(m) return optim.SGD(m, { lr = 0 }) end })
      :run()
    assert.are.equal(6, #h.records)                         -- steps 1 and 3
    local again = A.activation_stats(known_net(), x[{ { 33, 48 } }])
    assert.are.same({ 3, "1" }, { h.records[5].step, h.records[5].layer })
    assert.near(again["1"].mean, h.records[5].mean, 1e-12)
    assert.are.equal(again["1"].zero_fraction, h.records[5].zero_fraction)
    local d = tmpdir()
    h:write_csv(fs.join(d, "a.csv"))
    assert.matches("^epoch,step,layer,type,numel,mean,std,zero_fraction\n1,1,0,Linear,48,", fs.read(fs.join(d, "a.csv")))
  end)
end)

describe("clara.analyze.weight_histograms", function()
  local F = dofile("spec/fixtures/analyze.lua")

  it("bins as numpy.histogram does", function()
    local t = torch.tensor(F.values)
    for _, name in ipairs { "bins30", "bins7_range" } do
      local c = F[name]
      local h = A.histogram(t, { bins = c.bins, range = c.range })
      assert.are.same(c.counts, h.counts)
      assert.are.same(c.edges, h.edges)
    end
    local h = A.histogram(torch.full({ 5 }, 0.75), { bins = 4 })
    assert.are.same(F.constant.counts, h.counts)
    assert.are.same(F.constant.edges, h.edges)
  end)

  it("gives one histogram per parameter tensor, and plots them", function()
    local net = nn.Sequential(nn.Linear(4, 2))
    torch.no_grad(function()
      net[1].weight:copy_(torch.tensor { { 0, 1, 2, 3 }, { 4, 5, 6, 7 } })
      net[1].bias:copy_(torch.tensor { 0.5, 7 })
    end)
    local h = A.weight_histograms(net, { bins = 4 })
    assert.are.same({ "0.weight", "0.bias" }, { h[1].name, h[2].name })
    assert.are.same({ 0, 1.75, 3.5, 5.25, 7 }, h["0.weight"].edges)
    assert.are.same({ 2, 2, 2, 2 }, h["0.weight"].counts)
    assert.are.same({ 1, 0, 0, 1 }, h["0.bias"].counts)
    assert.near(3.5, h["0.weight"].mean, 1e-12)
    local d = tmpdir()
    local files = A.plot_histograms(h, d)
    assert.are.equal(4, #files)
    for _, f in ipairs { "0.weight.png", "0.weight.svg", "0.bias.png", "0.bias.svg", "0.weight.gp", "0.bias.dat" } do
      assert.is_true(fs.exists(fs.join(d, f)), f)
    end
    -- no temporary left behind
    local left = {}
    for e in require("lfs").dir(d) do if e:find(fs.TEMP_MARK, 1, true) then left[#left + 1] = e end end
    assert.are.same({}, left)
  end)
end)

describe("clara.analyze bad calls", function()
  local net = nn.Sequential(nn.Linear(784, 16), nn.ReLU(), nn.Linear(16, 2))
  local script = torch.jit.compile("def forward(self, x):\n    return x * 2\n")
  badcalls({
    { "summary of a number", "clara.analyze.summary", "expected a model", function() A.summary(3, { 4 }) end },
    { "summary of a tensor", "clara.analyze.summary", "got a tensor", function() A.summary(torch.ones(2), { 4 }) end },
    { "summary with a zero dim", "clara.analyze.summary", "positive integers", "{784, 0}", function() A.summary(net, { 784, 0 }) end },
    { "summary with a string input", "clara.analyze.summary", "input must be a shape", function() A.summary(net, "784") end },
    { "summary with batch 0", "clara.analyze.summary", "batch must be >= 1, got 0", function() A.summary(net, { 784 }, { batch = 0 }) end },
    { "summary on a wrong shape", "clara.analyze.summary", "failed in layer '0' (Linear) on input [1, 100]",
      function() A.summary(net, { 100 }) end },
    { "summary failing in a nested layer", "clara.analyze.summary", "layer '0.1' (Linear)",
      function() A.summary(nn.Sequential(nn.Sequential(nn.Linear(4, 4), nn.Linear(5, 2))), { 4 }) end },
    { "summary of a failing script", "clara.analyze.summary", "TorchScript model failed on input [1, 2], [1, 3]",
      function() A.summary(torch.jit.compile("def forward(self, x, y):\n    return x + y\n"), { { 2 }, { 3 } }) end },
    { "grad_norms every 0", "clara.analyze.grad_norms", "every must be >= 1, got 0", function() A.grad_norms { every = 0 } end },
    { "grad_norms at 'epoch'", "clara.analyze.grad_norms", "at must be 'batch' or 'step'", function() A.grad_norms { at = "epoch" } end },
    { "grad_norms by 'module'", "clara.analyze.grad_norms", "by must be 'layer' or 'parameter'", function() A.grad_norms { by = "module" } end },
    { "merge_hooks of a number", "clara.analyze.merge_hooks", "argument 2 must be a hooks table", function() A.merge_hooks({}, 3) end },
    { "merge_hooks of a bad hook", "clara.analyze.merge_hooks", "'on_batch_end' must be a function", function() A.merge_hooks({ on_batch_end = 1 }) end },
    { "activation_stats of a script", "clara.analyze.activation_stats", "need an nn.Module", function() A.activation_stats(script, torch.ones(2)) end },
    { "activation_stats without x", "clara.analyze.activation_stats", "x must be an input tensor", function() A.activation_stats(net) end },
    { "activation_stats on a wrong shape", "clara.analyze.activation_stats", "failed in layer '0' (Linear)", function() A.activation_stats(net, torch.ones(1, 3)) end },
    { "activation_hook x not a tensor", "clara.analyze.activation_hook", "x must be a tensor", function() A.activation_hook { x = {} } end },
    { "weight_histograms bins 0", "clara.analyze.weight_histograms", "bins must be >= 1, got 0", function() A.weight_histograms(net, { bins = 0 }) end },
    { "weight_histograms of a string", "clara.analyze.weight_histograms", "expected a model", function() A.weight_histograms("net") end },
    { "histogram with a bad range", "clara.analyze.histogram", "range must be {low, high}", function() A.histogram(torch.ones(3), { range = { 1, 0 } }) end },
    { "plot_histograms of a table", "clara.analyze.plot_histograms", "expected the list", function() A.plot_histograms({}, "/tmp") end },
    { "load_model of a missing file", "clara.analyze.load_model", "'/nonexistent.pt' does not exist", function() A.load_model("/nonexistent.pt") end },
    { "load_model of a state_dict", "clara.analyze.load_model", "holds weights, not a model", function() A.load_model("spec/fixtures/state_dict.pt") end },
    { "load_model of a plain directory", "clara.analyze.load_model", "is not a run directory", function() A.load_model("spec") end },
  }, { position = "analyze_spec.lua:%d+:" })
end)

describe("clara analyze", function()
  local d = tmpdir()
  local exp_path = fs.join(d, "exp.lua")
  -- hparams.hidden = 16 in the script; the run below trains hidden = 8
  write(exp_path, [[
local x = torch.randn(32, 4)
local y = x[{ {}, 1 }]:gt(0):long()
return {
  name = "an", data = { train = { x, y } }, hparams = { hidden = 16 }, verbose = false, seed = 5,
  model = function(hp) return nn.Sequential(nn.Linear(4, hp.hidden), nn.ReLU(), nn.Linear(hp.hidden, 2)) end,
  objective = clara.losses.cross_entropy, optimizer = function(m) return optim.SGD(m, { lr = 0.1 }) end,
  batch_size = 16, epochs = 1,
}
]])

  it("summarizes an experiment script's fresh model", function()
    local text, rc = sh(("%s analyze %s --input 4 --batch 3"):format(CLARA, exp_path))
    assert.are.equal(0, rc, text)
    assert.matches("fresh from its model factory", text, 1, true)
    assert.matches("0 %(Linear%)%s+%[3, 16%]%s+80%s+192", text)
    assert.matches("MACs: 288", text, 1, true)
  end)

  it("takes the input from the experiment's own data without --input", function()
    local text, rc = sh(("%s analyze %s --batch 2"):format(CLARA, exp_path))
    assert.are.equal(0, rc, text)
    -- the first two training samples: [2, 4] in, [2, 16] out of the first layer
    assert.matches("0 %(Linear%)%s+%[2, 16%]%s+80%s+128", text)
    assert.matches("MACs: 192", text, 1, true)
    text, rc = sh(("%s analyze %s"):format(CLARA, exp_path))
    assert.are.equal(0, rc, text)
    assert.matches("0 %(Linear%)%s+%[1, 16%]", text)
  end)

  it("builds a script's model under its seed, leaving the caller's RNG alone", function()
    torch.manual_seed(1); local a = torch.rand(2)
    torch.manual_seed(1)
    local m1, info = A.load_model(exp_path)
    local b = torch.rand(2)
    assert.is_true(torch.equal(a, b))
    assert.are.equal("script", info.kind)
    local m2 = A.load_model(exp_path)
    assert.is_true(torch.equal(m1[1].weight, m2[1].weight))
    torch.manual_seed(5)
    assert.is_true(torch.equal(nn.Linear(4, 16).weight, m1[1].weight))
  end)

  it("rebuilds a run's model with the run's hyperparameters and weights", function()
    local spec = dofile(exp_path)
    spec.out_dir = d
    local r = clara.experiment(spec):set { hidden = 8 }:run()
    local text, rc = sh(("%s analyze %s --script %s --input 4"):format(CLARA, r.dir, exp_path))
    assert.are.equal(0, rc, text)
    assert.matches("0 %(Linear%)%s+%[1, 8%]%s+40%s+32", text)
    local model, info = A.load_model(r.dir, { script = exp_path })
    assert.are.equal("run", info.kind)
    for name, t in pairs(torch.load(fs.join(r.dir, "model.pt"))) do
      assert.is_true(torch.equal(t, model:state_dict()[name]), name)
    end
    -- a run directory alone cannot rebuild a Lua model
    text, rc = sh(("%s analyze %s --input 4"):format(CLARA, r.dir))
    assert.are.equal(1, rc)
    assert.matches("is a run directory: it keeps weights, not code; give the experiment script", text, 1, true)
  end)

  it("summarizes a TorchScript file and draws histograms", function()
    local pt = fs.join(d, "m.pt")
    torch.jit.compile("def forward(self, x):\n    return x @ self.w\n", { parameters = { w = torch.randn(3, 5) } }):save(pt)
    local hist = fs.join(d, "hist")
    local text, rc = sh(("%s analyze %s --input 3 --batch 2 --histograms %s --bins 5"):format(CLARA, pt, hist))
    assert.are.equal(0, rc, text)
    assert.matches("Module%s+%[2, 5%]", text)
    assert.matches("Total params: 15", text, 1, true)
    assert.matches("histograms: 2 files in " .. hist, text, 1, true)
    assert.are.equal("\137PNG", fs.read(fs.join(hist, "w.png")):sub(1, 4))
  end)

  it("explains bad command lines in one line, exit code 1 or 2", function()
    local cases = {
      { "", 2, "no model given" },
      { exp_path .. " --input 1,x,3", 2, "--input expects positive integers separated by commas" },
      { exp_path .. " --input 4 --batch 0", 2, "--batch expects a positive integer, got '0'" },
      { exp_path .. " --bogus", 2, "unknown option '--bogus'" },
      { "spec/fixtures/jit_sequential.pt --batch 2", 2, "--batch needs --input" },
      { "/nonexistent.pt", 1, "'/nonexistent.pt' does not exist" },
      { "spec --input 4", 1, "'spec' is not a run directory (no config.json or report.json)" },
      { "spec/fixtures/state_dict.pt", 1, "holds weights, not a model" },
      { exp_path .. " --input 5", 1, "the forward pass failed in layer '0' (Linear) on input [1, 5]" },
    }
    for _, c in ipairs(cases) do
      local text, rc = sh(CLARA .. " analyze " .. c[1])
      assert.are.equal(c[2], rc, c[1] .. ": " .. text)
      assert.matches("^clara analyze: ", text)
      assert.matches(c[3], text, 1, true)
      assert.is_nil(text:find("traceback"), text)
    end
  end)
end)
