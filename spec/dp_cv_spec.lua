-- Cross-validation with data-parallel folds (ranks of
-- spec/helpers/dp_rank.lua spawned directly, killed by PID when done):
-- rank 0 decides the directory and folds and writes the CV's files; 2
-- ranks of batch 8 give the fold metrics of 1 process of batch 16 (losses
-- rtol 1e-5, float32 sums in another order; accuracies exactly).
local D = require "spec.helpers.dp_ranks"
local fs = require "clara.fs"

local function close(a, b, what)
  if type(a) == "table" then
    for k, v in pairs(a) do close(v, b[k], what .. "." .. tostring(k)) end
    return
  end
  if type(a) ~= "number" then assert.are.same(a, b, what); return end
  assert(math.abs(a - b) <= 1e-5 * math.max(math.abs(a), math.abs(b)) + 1e-6, ("%s: %.9g vs %.9g"):format(what, a, b))
end

describe("cross-validation, data-parallel", function()
  teardown(D.cleanup)

  it("2 ranks of batch 8 give the folds of 1 process of batch 16; one CV directory", function()
    local single = D.run(0, { DP_CV = 2, DP_BATCH = 16, DP_DIR = D.tmpdir() .. "/cv" })[1]
    local dir = D.tmpdir() .. "/cv"
    local two = D.run(2, { DP_CV = 2, DP_BATCH = 8, DP_DIR = dir })
    assert.are.same(two[1], two[2])
    close(single.folds, two[1].folds, "folds")
    for j = 1, 2 do
      assert.is_number(single.folds[j].val.acc)
      assert.are.same(single.folds[j].val.acc, two[1].folds[j].val.acc)
    end
    assert.is_true(fs.exists(fs.join(dir, "report.json")))
    assert.is_true(fs.exists(fs.join(dir, "fold-2", "report.json")))
  end)
end)
