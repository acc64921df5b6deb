-- Cross-validation and batteries with data-parallel entries (ranks of
-- spec/helpers/dp_rank.lua spawned directly, killed by PID when done):
-- rank 0 decides the directories and folds and writes the files; 2 ranks
-- of batch 8 give the numbers of 1 process of batch 16 (losses rtol 1e-5,
-- float32 sums in another order; accuracies exactly).
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

describe("cross-validation and batteries, data-parallel", function()
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

  it("a battery: 2 ranks of batch 8 give the entries of 1 process of batch 16; one battery directory", function()
    local single = D.run(0, { DP_BATTERY = "1", DP_BATCH = 16, DP_DIR = D.tmpdir() })[1]
    local dir = D.tmpdir()
    local two = D.run(2, { DP_BATTERY = "1", DP_BATCH = 8, DP_DIR = dir })
    assert.are.same(two[1], two[2])
    assert.are.equal(2, two[1].done)
    for _, row in ipairs(single.rows) do row.batch_size = nil end
    for _, row in ipairs(two[1].rows) do row.batch_size = nil end
    close(single.rows, two[1].rows, "rows")
    assert.is_number(single.rows[2].val_acc)
    assert.are.same(single.rows[2].val_acc, two[1].rows[2].val_acc)
    assert.is_true(fs.exists(fs.join(dir, "b", "summary.md")))
    assert.is_true(fs.exists(fs.join(dir, "b", "seed=8", "report.json")))
  end)
end)
