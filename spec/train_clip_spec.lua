-- clara.experiment's clip_grad against PyTorch 1.13 (spec/fixtures/
-- switches.lua, tests/fixtures/make_switches.py: clip_grad_norm_ /
-- clip_grad_value_ between backward and step, after accumulation): the
-- final weights and every step's pre-clip total norm, in the clear loop and
-- the fast twin; the history's grad_norm columns, ctx.grad_norm, the run
-- directory's grad_norm.csv across a kill and resume; bad options.
-- Tolerance: bitwise for weights and norms (the same libtorch operations in
-- PyTorch's order, on the same CPU kernels); the norms PyTorch printed as
-- doubles from float32 tensors, compared exactly.
--   ./clara /usr/bin/busted -o plainTerminal spec/train_clip_spec.lua
local H = dofile("spec/helpers/switches.lua")
local fs = require "clara.fs"
local fast = require "clara.train.fast"

local tmpdir, cleanup = dofile("spec/helpers/tmpdir.lua")
teardown(cleanup)

local CASES = { "clip_norm", "clip_norm_inf", "clip_value", "clip_accumulate" }

local function clip_option(case)
  local cg = {}
  for k, v in pairs(case.clip) do cg[k] = v end
  if cg.norm_type == math.huge then cg.norm_type = "inf" end
  return cg
end

describe("clip_grad", function()
  for _, name in ipairs(CASES) do
    for _, impl in ipairs { "clear", "fast" } do
      it(("%s (%s loop) gives PyTorch's weights and per-step norms"):format(name, impl), function()
        local case = H.case(name)
        local r = H.experiment(case, { clip_grad = clip_option(case), impl = impl }):run()
        H.assert_state(H.state(case.final), r.model:state_dict(), name)
        assert.are.equal(#case.norms, #r.grad_norms)
        for i, v in ipairs(case.norms) do
          assert.are.equal(v, r.grad_norms[i], ("%s: step %d's norm"):format(name, i))
        end
        if impl == "fast" then
          assert.is_nil(fast.last_run.reason)
          assert.is_true(fast.last_run.fused > 0)
        end
      end)
    end
  end

  it("logs grad_norm (the epoch's mean) and grad_norm_max in the history, ctx.grad_norm in hooks", function()
    local case = H.case("clip_norm")
    local seen = {}
    local r = H.experiment(case, { clip_grad = { norm = 0.5 },
      hooks = { on_step_end = function(ctx) seen[#seen + 1] = ctx.grad_norm end } }):run()
    assert.are.same(r.grad_norms, seen)
    local per_epoch = #case.norms // case.epochs
    for e = 1, case.epochs do
      local sum, max = 0, -math.huge
      for i = (e - 1) * per_epoch + 1, e * per_epoch do
        sum, max = sum + case.norms[i], math.max(max, case.norms[i])
      end
      assert.are.equal(sum / per_epoch, r.history[e].grad_norm)
      assert.are.equal(max, r.history[e].grad_norm_max)
    end
  end)

  it("the monitor may name grad_norm; without clip_grad there is no such column", function()
    local case = H.case("clip_norm")
    local r = H.experiment(case, { clip_grad = { norm = 0.5 }, monitor = "grad_norm" }):run()
    assert.are.equal("grad_norm", r.best.monitor)
    H.expect_error("monitor grad_norm is not a column", function() H.experiment(case, { monitor = "grad_norm" }):run() end)
    assert.is_nil(H.experiment(case, { epochs = 1 }):run().grad_norms)
  end)

  it("keeps every step's norm exactly once across a kill and resume (grad_norm.csv)", function()
    local case = H.case("clip_norm")
    local reference = H.experiment(case, { clip_grad = { norm = 0.5 } }):run()
    for _, k in ipairs { 2, 3, 5 } do
      local out = tmpdir()
      local exp = H.experiment(case, { clip_grad = { norm = 0.5 }, out_dir = out, checkpoint_every = 1 })
      H.expect_error("crash at step " .. k, function() exp:with { hooks = H.crash_at(k) }:run() end)
      local r = exp:run { resume = true }
      H.assert_same_weights(reference.model, r.model, "resumed at step " .. k)
      assert.are.same(reference.grad_norms, r.grad_norms)
      for e = 1, case.epochs do
        assert.are.equal(reference.history[e].grad_norm, r.history[e].grad_norm)
        assert.are.equal(reference.history[e].grad_norm_max, r.history[e].grad_norm_max)
      end
      local lines = {}
      for line in io.lines(fs.join(r.dir, "grad_norm.csv")) do lines[#lines + 1] = line end
      assert.are.equal("step,grad_norm", lines[1])
      assert.are.equal(#reference.grad_norms + 1, #lines)
      for i, v in ipairs(reference.grad_norms) do
        local step, value = lines[i + 1]:match("^(%d+),(.*)$")
        assert.are.equal(i, tonumber(step))
        assert.are.equal(v, tonumber(value), "grad_norm.csv, step " .. i)
      end
    end
  end)

  it("refuses bad settings at construction, naming the option", function()
    local case = H.case("clip_norm")
    for _, bad in ipairs {
      { { norm = -1 }, "clip_grad norm must be > 0, got -1" },
      { { norm = 1, value = 0.5 }, "clip_grad must give norm (clip the total norm) or value (clip each gradient), one of them, got both" },
      { {}, "clip_grad must give norm (clip the total norm) or value (clip each gradient), one of them, got neither" },
      { { nrom = 1 }, "clip_grad has no setting 'nrom' (did you mean 'norm'?)" },
      { { norm = 0 / 0 }, "clip_grad norm must be a number, got nan" },
      { { norm = math.huge }, "clip_grad norm must be finite, got inf" },
      { { value = 1, norm_type = "l2" }, "clip_grad norm_type must be a number > 0 or 'inf', got 'l2'" },
      { { norm = 1, norm_type = -2 }, "clip_grad norm_type must be > 0, got -2" },
      { 1.0, "clip_grad must be {norm = x, norm_type = 2} or {value = x}, got 1.0" },
    } do
      H.expect_error("clara.experiment: " .. bad[2], H.experiment, case, { clip_grad = bad[1] })
    end
  end)
end)
