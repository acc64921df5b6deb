-- same_batches(a, b, what, epochs): every batch of `epochs` epochs (default
-- 1) of two loaders equal field by field, bitwise, in shape and dtype;
-- returns the number of batches (the loader workers specs' comparison).
--   local same_batches = dofile("spec/helpers/same_batches.lua")
local torch = require "torch"
local assert = require("busted").assert

return function(a, b, what, epochs)
  local n = 0
  for e = 1, epochs or 1 do
    local ia, ib = a:iter(), b:iter()
    while true do
      local ra, rb = table.pack(ia()), table.pack(ib())
      if ra[1] == nil then
        assert.is_nil(rb[1], what .. ": the workers loader has more batches")
        break
      end
      n = n + 1
      assert.are.equal(ra.n, rb.n)
      for k = 1, ra.n do
        assert.are.same(ra[k]:size(), rb[k]:size())
        assert.are.equal(ra[k].dtype, rb[k].dtype)
        assert.is_true(torch.equal(ra[k], rb[k]), ("%s: epoch %d batch %d field %d differs"):format(what, e, n, k))
      end
    end
  end
  return n
end
