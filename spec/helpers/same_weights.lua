-- assert_same_weights(a, b, what): two models' state_dicts bitwise equal,
-- entry by entry (the resume and checkpoint specs' test of exactness).
--   local assert_same_weights = dofile("spec/helpers/same_weights.lua")
local torch = require "torch"
local assert = require("busted").assert

return function(a, b, what)
  local sa, sb = a:state_dict(), b:state_dict()
  local n = 0
  for k, t in pairs(sa) do
    n = n + 1
    assert(torch.equal(t, sb[k]), ("%s: %s differs"):format(what, k))
  end
  assert.is_true(n > 0)
end
