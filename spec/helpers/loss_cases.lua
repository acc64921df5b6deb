-- The fixture cases of the loss specs (spec/fixtures/losses.lua,
-- losses_parity.lua; written by tests/fixtures/loss_cases.py): building
-- their tensors, calling a loss on a case, and comparing with PyTorch.
-- Not a spec itself (no "_spec" in the name).
local torch = require "torch"
local busted = require "busted"
local assert, it = busted.assert, busted.it

local M = {}

function M.build(t)
  if #t.shape == 0 then return torch.tensor(t.data[1], { dtype = t.dtype }) end
  return torch.tensor(t.data, { dtype = t.dtype }):view(table.unpack(t.shape))
end

-- every element within rtol of PyTorch's (1e-5 in float32, a few ulps of
-- the reduction order; 1e-10 in float64), plus an absolute floor far below
-- the tensor's scale (float32 rounding of elements near zero)
function M.assert_close(got, want, what)
  assert.is_true(torch.is_tensor(got), what .. ": not a tensor")
  assert.same(want.shape, got:size(), what .. ": shape")
  local rtol = want.dtype == "float64" and 1e-10 or 1e-5
  local expected = M.build(want)
  local scale = #want.data > 0 and expected:abs():max():item() or 0
  local err = (got:detach():double() - expected:double()):abs()
  local bound = expected:double():abs() * rtol + scale * rtol * 1e-2
  local worst = (err - bound):max():item()
  assert(worst <= 0, ("%s: off by %g beyond tolerance\n got  %s\n want %s"):format(
    what, worst, tostring(got), tostring(expected)))
end

-- the case's arguments (those differentiated require grad) and options
function M.inputs(c)
  local args = {}
  for i, t in ipairs(c.args) do args[i] = M.build(t) end
  for _, i in ipairs(c.grad) do args[i]:requires_grad_() end
  local opts = {}
  for k, v in pairs(c.opts) do opts[k] = type(v) == "table" and M.build(v) or v end
  return args, opts
end

-- fn called on the case in its form: the uniform form (output list,
-- target, opts) or PyTorch's positional one; opts may be left out
function M.call(c, fn, args, opts)
  if c.list then
    local output = {}
    for j, i in ipairs(c.list) do output[j] = args[i] end
    if c.target then return fn(output, args[c.target], opts) end
    return fn(output, opts)
  end
  local all = { table.unpack(args) }
  all[#all + 1] = opts
  return fn(table.unpack(all, 1, #args + (opts and 1 or 0)))
end

-- the loss's value, dtype and gradients against PyTorch's
function M.check(c, loss, args)
  assert.equal(c.value.dtype, loss.dtype)
  M.assert_close(loss, c.value, "value")
  if c.gw then (loss * M.build(c.gw)):sum():backward() else loss:backward() end
  for i, g in pairs(c.grads) do
    M.assert_close(args[i].grad, g, "gradient of argument " .. i)
  end
end

-- inside a describe block: one `it` per case, the clara loss it names
-- against PyTorch; and one that there are at least min cases
function M.against_pytorch(cases, min)
  local losses = require "clara.losses"
  it("has the fixture cases", function()
    assert.is_true(#cases >= min, "only " .. #cases .. " cases")
  end)
  for _, c in ipairs(cases) do
    it(c.id, function()
      local args, opts = M.inputs(c)
      local fn = losses[c.fn]
      assert.is_function(fn, "no loss " .. c.fn)
      M.check(c, M.call(c, fn, args, opts), args)
    end)
  end
end

return M
