-- What the parity specs against PyTorch share (spec/functional_parity_spec.lua,
-- spec/nn_modules_parity_spec.lua): a fixture's tensor as a clara tensor,
-- and the comparison.  Not a spec itself (no "_spec" in the name).
--
--   local P = require "spec.helpers.parity"   -- run from the repo root
--   P.assert_close(P.T(c.outputs[1]), y, "output 1")

local torch = require "torch"
local busted = require "busted"
local assert = busted.assert

local P = {}

-- {shape = {...}, dtype = "...", data = {...}} as a tensor
function P.T(spec)
  if #spec.shape == 0 then return torch.tensor(spec.data[1], { dtype = spec.dtype }) end
  return torch.tensor(spec.data, { dtype = spec.dtype }):view(table.unpack(spec.shape))
end

local function shape(t) return "(" .. table.concat(t:size(), ", ") .. ")" end

-- Floats within rtol 1e-5 with an absolute floor of 1e-6 for values that
-- cancel to ~0 (float32's last digits; the kernels are libtorch 1.13's,
-- PyTorch's own, so most cases agree bit for bit); integers exactly.
function P.assert_close(expected, got, what)
  assert.is_true(torch.is_tensor(got), what .. ": not a tensor")
  assert.are.same(expected:size(), got:size(), what .. ": shape " .. shape(got))
  assert.are.equal(expected.dtype, got.dtype, what .. ": dtype")
  if expected.dtype ~= "float32" and expected.dtype ~= "float64" then
    assert.is_true(torch.equal(expected, got), what .. ": values")
    return
  end
  local ok = torch.allclose(got:detach(), expected, { rtol = 1e-5, atol = 1e-6 })
  assert.is_true(ok, what .. ": expected\n" .. tostring(expected) .. "\ngot\n" .. tostring(got))
end

return P
