-- close(expected, got[, tol]): the metric specs' comparison.  Numbers agree
-- within tol (default 1e-12) relative to the expected value, absolute below
-- 1; lists agree entry by entry and in length.
--   local close = require "spec.helpers.close"   -- run from the repo root

-- a required module does not see the spec file's environment: busted's assert
local assert = require("busted").assert

local function close(expected, got, tol)
  tol = tol or 1e-12
  if type(expected) == "table" then
    assert.equal("table", type(got), "expected a list, got " .. tostring(got))
    assert.equal(#expected, #got)
    for i = 1, #expected do close(expected[i], got[i], tol) end
    return
  end
  assert.equal("number", type(got), "expected a number, got " .. tostring(got))
  assert.is_true(math.abs(expected - got) <= tol * math.max(1, math.abs(expected)),
    ("expected %.17g, got %.17g"):format(expected, got))
end

return close
