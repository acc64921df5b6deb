-- clara.cv: every scheme gives disjoint (train, validation) sets covering
-- all samples, validation sets partitioning the data once per repeat;
-- stratified folds keep class proportions; groups never split; repeats
-- differ; the fold assignment round-trips through JSON and a file.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/cv_spec.lua

local torch = require "torch"
local clara = require "clara"
local cjson = require "cjson"
local cv = clara.cv

-- checks every fold; returns the validation lists
local function check_folds(scheme, n)
  local vals, covered = {}, {}
  local count = 0
  for train, val, f, r in scheme do
    count = count + 1
    assert.equal("int64", train.dtype)
    assert.equal(n, train:numel() + val:numel())
    local in_val = {}
    for _, i in ipairs(val:totable()) do in_val[i] = true end
    for _, i in ipairs(train:totable()) do assert.is_nil(in_val[i], "sample in train and validation") end
    covered[r] = covered[r] or {}
    for i in pairs(in_val) do
      assert.is_nil(covered[r][i], "sample validated twice in one repeat")
      covered[r][i] = f
    end
    vals[#vals + 1] = val:totable()
  end
  assert.equal(#scheme, count)
  for _, c in pairs(covered) do
    for i = 0, n - 1 do assert.is_not_nil(c[i], "sample " .. i .. " never validated") end
  end
  return vals
end

describe("clara.cv", function()
  it("kfold: contiguous folds without shuffle, sizes within one", function()
    local s = cv.kfold(10, { k = 3 })
    assert.equal(3, #s)
    local vals = check_folds(s, 10)
    assert.same({ { 0, 1, 2, 3 }, { 4, 5, 6 }, { 7, 8, 9 } }, vals)
  end)

  it("kfold shuffled: seeded, reproducible, different by seed", function()
    local a = check_folds(cv.kfold(50, { k = 5, shuffle = true, seed = 1 }), 50)
    local b = check_folds(cv.kfold(50, { k = 5, shuffle = true, seed = 1 }), 50)
    local c = check_folds(cv.kfold(50, { k = 5, shuffle = true, seed = 2 }), 50)
    assert.same(a, b)
    assert.are_not.same(a, c)
    for _, v in ipairs(a) do assert.equal(10, #v) end
  end)

  it("stratified_kfold keeps the class proportions in every fold", function()
    local labels = {}
    for i = 1, 90 do labels[i] = i <= 60 and "a" or (i <= 80 and "b" or "c") end
    local s = cv.stratified_kfold(labels, { k = 5, seed = 3 })
    for _, val in ipairs(check_folds(s, 90)) do
      local count = { a = 0, b = 0, c = 0 }
      for _, i in ipairs(val) do count[labels[i + 1]] = count[labels[i + 1]] + 1 end
      assert.same({ a = 12, b = 4, c = 2 }, count)
    end
    -- int64 tensors of labels, uneven classes: within one of the proportion
    local y = torch.tensor { 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2 }
    local t = cv.stratified_kfold(y, { k = 3, seed = 1 })
    for _, val in ipairs(check_folds(t, 14)) do
      local part = y:index_select(1, torch.tensor(val))
      for c, m in ipairs { 7, 3, 4 } do
        assert.is_true(math.abs(part:eq(c - 1):sum():item() - m / 3) < 1)
      end
    end
  end)

  it("repeated_kfold: repeats differ, each a full k-fold, reproducible", function()
    local s = cv.repeated_kfold(40, { k = 4, repeats = 3, seed = 5 })
    assert.equal(12, #s)
    local vals = check_folds(s, 40)
    assert.are_not.same(vals[1], vals[5])
    assert.are_not.same(vals[5], vals[9])
    assert.same(vals, check_folds(cv.repeated_kfold(40, { k = 4, repeats = 3, seed = 5 }), 40))
    assert.are_not.same(vals, check_folds(cv.repeated_kfold(40, { k = 4, repeats = 3, seed = 6 }), 40))
    local _, _, f, r = s:fold(6)
    assert.equal(2, f)
    assert.equal(2, r)
    -- stratified repeats
    local y = {}
    for i = 1, 40 do y[i] = i % 4 == 0 and 1 or 0 end
    local t = cv.repeated_kfold(y, { k = 5, repeats = 2, seed = 1 })
    for _, val in ipairs(check_folds(t, 40)) do
      local ones = 0
      for _, i in ipairs(val) do ones = ones + y[i + 1] end
      assert.equal(2, ones)
    end
  end)

  it("leave_one_out: one sample per fold; large n refused", function()
    local vals = check_folds(cv.leave_one_out(6), 6)
    assert.same({ { 0 }, { 1 }, { 2 }, { 3 }, { 4 }, { 5 } }, vals)
    local ok, err = pcall(cv.leave_one_out, 60000)
    assert.is_false(ok)
    assert.truthy(err:find("leave_one_out", 1, true) and err:find("use kfold", 1, true), err)
    assert.equal(1500, #cv.leave_one_out(1500, { max = 2000 }))
  end)

  it("group_kfold never splits a group and balances the folds", function()
    local groups = {}
    local sizes = { 9, 7, 6, 5, 5, 4, 3, 2, 2, 1 }
    for g, m in ipairs(sizes) do
      for _ = 1, m do groups[#groups + 1] = "patient" .. g end
    end
    local s = cv.group_kfold(groups, { k = 3 })
    local fold_of = {}
    local totals = {}
    for f, val in ipairs(check_folds(s, #groups)) do
      totals[f] = #val
      for _, i in ipairs(val) do
        local g = groups[i + 1]
        assert.is_true(fold_of[g] == nil or fold_of[g] == f, g .. " split across folds")
        fold_of[g] = f
      end
    end
    table.sort(totals)
    assert.is_true(totals[3] - totals[1] <= 2, "unbalanced: " .. table.concat(totals, ","))
    local ok, err = pcall(cv.group_kfold, { 1, 1, 2 }, { k = 3 })
    assert.is_false(ok)
    assert.truthy(err:find("only 2 distinct groups", 1, true), err)
    -- shuffled groups: still whole
    check_folds(cv.group_kfold(torch.tensor { 1, 1, 2, 2, 3, 3, 4, 4 }, { k = 2, shuffle = true, seed = 1 }), 8)
  end)

  it("the assignment round-trips through JSON and a file", function()
    for _, s in ipairs {
      cv.kfold(23, { k = 4, shuffle = true, seed = 8 }),
      cv.stratified_kfold(torch.tensor { 0, 1, 0, 1, 0, 1, 0, 1, 1, 1 }, { k = 2, seed = 2 }),
      cv.repeated_kfold(12, { k = 3, repeats = 2, seed = 4 }),
      cv.leave_one_out(5),
      cv.group_kfold({ 1, 1, 2, 3, 3, 4 }, { k = 2 }),
    } do
      local a = s:assignment()
      assert.equal(s.n, type(a.folds[1]) == "table" and #a.folds[1] or #a.folds)
      local again = cv.from_assignment(cjson.encode(a))
      assert.equal(#s, #again)
      assert.same(check_folds(s, s.n), check_folds(again, s.n))
      assert.equal(tostring(s), tostring(again))
    end
    local s = cv.kfold(15, { k = 3, shuffle = true, seed = 1 })
    local path = os.tmpname()
    s:save(path)
    local loaded = cv.load(path)
    os.remove(path)
    assert.same(check_folds(s, 15), check_folds(loaded, 15))
    assert.equal("CV(kfold, 3 folds of 15 samples, seed=1)", tostring(loaded))
  end)

  it("the folds index a dataset directly", function()
    local ds = clara.data.TensorDataset(torch.randn(12, 2), torch.arange(12))
    local train, val = cv.kfold(12, { k = 3 }):fold(2)
    local sub = clara.data.Subset(ds, val)
    assert.equal(4, #sub)
    assert.equal(4, select(2, sub:get(1)):item())
    assert.equal(8, #clara.data.Subset(ds, train))
  end)
end)
