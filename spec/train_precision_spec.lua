-- precision = "bf16" and torch.autocast: CPU autocast as PyTorch 1.13 has
-- it (spec/fixtures/switches.lua, tests/fixtures/make_switches.py): the
-- output dtype of ops inside (autocast's lists: matmul, linear, conv in
-- bfloat16, the losses in float32), the state restored on leaving (also
-- when fn raises, and when nested), a bf16 training run equal to PyTorch's
-- recipe (forward and loss under autocast, backward outside); in the loop,
-- evaluation under autocast too, backward and weights float32; the fast
-- twin (autocast in its C step) equal to the clear loop; bad calls.
-- Tolerances: the bf16 run against PyTorch's bf16 run bitwise (the same
-- libtorch kernels, same casts); a bf16 run against the float32 run: the
-- final validation loss within 2% on the seeded MLP and 6% on the seeded
-- CNN below (measured on seeds 1-5: at most 0.6% and 2.8%).
--   ./clara /usr/bin/busted -o plainTerminal spec/train_precision_spec.lua
local H = dofile("spec/helpers/switches.lua")
local fast = require "clara.train.fast"
local F = nn.functional

describe("torch.autocast", function()
  it("casts each op as PyTorch's CPU autocast lists do", function()
    local x, img = torch.randn(4, 5), torch.randn(2, 3, 6, 6)
    local lin, conv = nn.Linear(5, 3), nn.Conv2d(3, 4, 3)
    local y = torch.tensor({ 0, 2, 1, 0 }, { dtype = "int64" })
    local got = torch.autocast("cpu", { dtype = "bfloat16" }, function()
      local h = lin(x)
      return { linear = h.dtype, matmul = torch.matmul(x, x:t()).dtype, conv2d = conv(img).dtype,
               relu = F.relu(h).dtype, cross_entropy = F.cross_entropy(h, y).dtype,
               mse_loss = F.mse_loss(h, torch.zeros(4, 3)).dtype, add_float32 = (x + x).dtype }
    end)
    assert.are.same(H.fixture.autocast, got)
    assert.are.equal("float32", lin(x).dtype)
  end)

  it("returns fn's results, passes its arguments, and restores the state (nested, and on errors)", function()
    assert.is_false(torch.is_autocast_cpu_enabled())
    local a, b, c = torch.autocast("cpu", { dtype = "bfloat16" }, function(p, q)
      local inner = torch.autocast("cpu", { enabled = false }, function() return torch.is_autocast_cpu_enabled() end)
      return p + q, inner, torch.is_autocast_cpu_enabled()
    end, 1, 2)
    assert.are.same({ 3, false, true }, { a, b, c })
    assert.is_false(torch.is_autocast_cpu_enabled())
    local ok, err = pcall(torch.autocast, "cpu", {}, function() error("inside", 0) end)
    assert.is_false(ok); assert.are.equal("inside", err)
    assert.is_false(torch.is_autocast_cpu_enabled())
    -- the options may be left out
    assert.are.equal("bfloat16", torch.autocast("cpu", function() return torch.randn(2, 2):matmul(torch.randn(2, 2)).dtype end))
    assert.are.equal("bfloat16", torch.get_autocast_cpu_dtype())
  end)

  it("refuses bad calls, naming torch.autocast", function()
    H.expect_error("torch.autocast: dtype must be one of 'bfloat16', got 'float16'", torch.autocast, "cpu",
      { dtype = "float16" }, function() end)
    H.expect_error("torch.autocast: device must be 'cpu' (this libtorch has no CUDA autocast), got 'cuda'",
      torch.autocast, "cuda", {}, function() end)
    H.expect_error("torch.autocast: expected a function to run, got 3", torch.autocast, "cpu", {}, 3)
    H.expect_error("torch.autocast: unknown option 'dtyp' (did you mean 'dtype'?)", torch.autocast, "cpu",
      { dtyp = "bfloat16" }, function() end)
    assert.is_false(torch.is_autocast_cpu_enabled())
  end)
end)

-- a metric that records the dtype of the outputs it sees, per split
local function dtype_probe(seen)
  return { name = "probe", count = 1, update = function(_, out) seen[#seen + 1] = out.dtype end,
           compute = function() return 0 end, reset = function() end }
end

describe("precision = 'bf16'", function()
  for _, name in ipairs { "bf16", "float32" } do
    it(name .. " training gives PyTorch's weights and losses (its autocast recipe)", function()
      local case = H.case(name)
      local r = H.experiment(case, { precision = name }):run()
      H.assert_state(H.state(case.final), r.model:state_dict(), name)
      for e = 1, case.epochs do assert.are.equal(case.train_loss[e], r.history[e].train_loss) end
    end)
  end

  it("runs forward and loss under autocast, backward outside, weights float32; evaluation too", function()
    local case = H.case("bf16")
    local train_seen, val_seen, in_backward = {}, {}, {}
    local r = H.experiment(case, { precision = "bf16", train_metrics = true,
      metrics = { probe = dtype_probe(train_seen) }, hooks = {
        on_batch_end = function() in_backward[#in_backward + 1] = torch.is_autocast_cpu_enabled() end,
      } }):run()
    for _, d in ipairs(train_seen) do assert.are.equal("bfloat16", d) end
    for _, b in ipairs(in_backward) do assert.is_false(b) end
    assert.is_true(#train_seen > 0 and #in_backward > 0)
    for _, p in ipairs(r.model:parameters()) do
      assert.are.equal("float32", p.dtype); assert.are.equal("float32", p.grad.dtype)
    end
    -- evaluation: a fresh probe on the validation split only
    local exp = H.experiment(case, { precision = "bf16", train_metrics = false, epochs = 1,
      metrics = { probe = dtype_probe(val_seen) } })
    exp:run()
    assert.is_true(#val_seen > 0)
    for _, d in ipairs(val_seen) do assert.are.equal("bfloat16", d) end
    assert.is_false(torch.is_autocast_cpu_enabled())
  end)

  local function data(seed, cnn)
    torch.manual_seed(seed)
    local X = cnn and torch.randn(256, 1, 8, 8) or torch.randn(256, 10)
    local Y = X:view(256, -1):matmul(torch.randn(cnn and 64 or 10, 3)):argmax(2):view(-1)
    return X, Y
  end
  for _, cnn in ipairs { false, true } do
    it(("ends within %d%% of the float32 run's validation loss (seeded %s)"):format(cnn and 6 or 2,
        cnn and "CNN" or "MLP"), function()
      local X, Y = data(3, cnn)
      local loss = {}
      for _, p in ipairs { "float32", "bf16" } do
        loss[p] = clara.experiment { data = { train = { X, Y }, val = { X, Y } },
          model = function()
            if cnn then return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3)) end
            return nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 3))
          end,
          objective = clara.losses.cross_entropy,
          optimizer = function(m) return optim.SGD(m:parameters(), { lr = 0.1, momentum = 0.9 }) end,
          epochs = 5, batch_size = 32, seed = 3, verbose = false, out_dir = false, precision = p,
          keep_best = false }:run().final.val.loss
      end
      assert.are_not.equal(loss.float32, loss.bf16) -- bf16 really ran
      assert.is_true(math.abs(loss.bf16 - loss.float32) / loss.float32 < (cnn and 0.06 or 0.02),
        ("float32 %g, bf16 %g"):format(loss.float32, loss.bf16))
    end)
  end

  it("under impl = 'fast' (forward and loss under autocast in C) gives the clear loop's numbers", function()
    local case = H.case("bf16")
    local over = { precision = "bf16", data = { train = { H.X, H.Y }, val = { H.X, H.Y }, test = { H.X, H.Y } },
                   metrics = { acc = clara.metrics.accuracy }, train_metrics = true }
    local clear = H.experiment(case, over):run()
    over.impl = "fast"
    local r = H.experiment(case, over):run()
    assert.is_nil(fast.last_run.reason)
    assert.are.equal(case.epochs * 3 * 2 + 3, fast.last_run.fused) -- training, validation and test batches
    H.assert_state(H.state(case.final), r.model:state_dict(), "fast bf16")
    for e = 1, case.epochs do
      for k, v in pairs(clear.history[e]) do
        if k ~= "time" then assert.are.equal(v, r.history[e][k], ("epoch %d %s"):format(e, k)) end
      end
    end
    assert.are.same(clear.final, r.final)
    assert.is_false(torch.is_autocast_cpu_enabled())
  end)

  it("under impl = 'fast', a batch C leaves to Lua ends as in the clear loop", function()
    -- class probabilities as targets: C's fused loss takes class indices, so
    -- each batch goes back to Lua after C's forward
    local case = H.case("bf16")
    local soft = torch.zeros(H.X:size(1), 3):scatter(2, H.Y:view(-1, 1), 1.0)
    local over = { precision = "bf16", data = { train = { H.X, soft }, val = { H.X, soft } } }
    local clear = H.experiment(case, over):run()
    over.impl = "fast"
    local r = H.experiment(case, over):run()
    assert.is_nil(fast.last_run.reason)
    assert.is_true(fast.last_run.in_lua > 0)
    H.assert_same_weights(clear.model, r.model, "fast bf16, objective in Lua")
    for e = 1, case.epochs do assert.are.equal(clear.history[e].val_loss, r.history[e].val_loss) end
  end)

  it("refuses an unknown precision at construction", function()
    H.expect_error("clara.experiment: precision must be one of 'float32', 'bf16', got 'fp8'", H.experiment,
      H.case("bf16"), { precision = "fp8" })
  end)
end)
