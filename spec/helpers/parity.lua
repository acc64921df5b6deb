-- What the parity specs of nn.utils, optim.swa_utils and the schedulers
-- share (not a spec): tensors from fixture tables, the bitwise comparison
-- (they all match PyTorch bitwise), and the check that a call raises a
-- given message.
--   local P = require "spec.helpers.parity"   -- run from the repo root
local torch = require "torch"
-- a required module does not see busted's environment: take assert from its API
local assert = require("busted").assert

local P = {}

-- {shape = {...}, dtype = "...", data = {...}} as written by tests/fixtures/make_nn.py's lua_tensor
function P.T(spec)
  if #spec.shape == 0 then return torch.tensor(spec.data[1], { dtype = spec.dtype }) end
  return torch.tensor(spec.data, { dtype = spec.dtype }):view(table.unpack(spec.shape))
end

-- bitwise, NaN where the expected value has NaN
function P.assert_same(expected, got, what)
  assert.is_true(torch.is_tensor(got), what .. ": not a tensor")
  assert.are.same(expected:size(), got:size(), what .. ": shape")
  local nan = expected:isnan()
  assert.is_true(torch.equal(nan, got:isnan()) and
    torch.equal(expected:masked_fill(nan, 0), got:detach():masked_fill(nan, 0)),
    what .. ": expected\n" .. tostring(expected) .. "\ngot\n" .. tostring(got))
end

-- f(...) raises a message containing `text` (plain)
function P.expect_error(text, f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok, "no error")
  assert.is_truthy(tostring(err):find(text, 1, true), "error: " .. tostring(err))
end

function P.sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

return P
