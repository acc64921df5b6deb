-- Completion is marked last: a run (or a battery entry, or a CV and its
-- folds) counts as done only when report.json, written after every other
-- result file, exists with each file it lists.  The process is killed
-- (SIGKILL) right after its N-th file write, for every N of a whole run;
-- after each kill, "done" implies complete, and running the same command
-- again finishes the work to the weights of a run never killed, each
-- epoch once in the history.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/fault_completion_spec.lua
local torch = require "torch"
local fs = require "clara.fs"
local json = require "clara.run.json"
local run = require "clara.run"
local F = require "spec.helpers.fault"
local tmpdir, cleanup = F.tmpdir, F.cleanup
teardown(cleanup)

local RUN_FILES = { "config.json", "model.txt", "history.csv", "model.pt", "best.pt", "report.md", "report.json" }

local function same_weights(a, b)
  local x, y = torch.load(fs.join(a, "model.pt")), torch.load(fs.join(b, "model.pt"))
  for k, t in pairs(x) do
    if not torch.equal(t, y[k]) then return false, k end
  end
  return true
end

-- a run directory that says it is done has every result file
local function check_run(dir, what)
  if not run.is_done(dir) then return false end
  for _, name in ipairs(RUN_FILES) do
    assert.is_true(fs.exists(fs.join(dir, name)), what .. ": done without " .. name)
  end
  assert.is_truthy(torch.load(fs.join(dir, "model.pt")), what)
  return true
end

local function check_cv(dir, folds, what)
  if not run.is_done(dir) then return false end
  for j = 1, folds do assert.is_true(check_run(fs.join(dir, "fold-" .. j), what), what .. ": fold " .. j) end
  for _, name in ipairs { "folds.csv", "report.md", "cv.json", "config.json" } do
    assert.is_true(fs.exists(fs.join(dir, name)), what .. ": done without " .. name)
  end
  return true
end

-- kill_each(args, check, finish, stride) runs `clara ARGS` killed after
-- its 1st, 1 + stride-th, ... write until one run finishes unkilled; after
-- each kill, check() and a run to the end, then finish().  Returns the
-- number of kills.  (spec/fault_completion_corpus_spec.lua stops at every
-- write of many more runs, in one process.)
local function kill_each(setup, args, check, finish, stride)
  local n, at = 0, 1
  while true do
    local dir = setup()
    local k = at
    local out, rc = F.clara(args(dir), { FAULT_KILL_AFTER = k })
    if rc == 0 then break end
    n, at = n + 1, at + (stride or 1)
    assert.are.equal(137, rc, ("kill after write %d: %s"):format(k, out))
    check(dir, ("killed after write %d"):format(k))
    out, rc = F.clara(args(dir))
    assert.are.equal(0, rc, ("resumed after write %d: %s"):format(k, out))
    finish(dir, ("resumed after write %d"):format(k))
    assert.is_true(n < 200, "the run never finished")
  end
  return n
end

describe("a battery entry killed after each of its writes", function()
  it("is done only when complete, and a re-run completes it exactly", function()
    local ref = tmpdir()
    local b = F.battery(ref, { entries = 1, epochs = 2 })
    local out, rc = F.clara("battery " .. b)
    assert.are.equal(0, rc, out)
    local ref_entry = fs.join(ref, "runs", "grid", "lr=0.1")
    local function setup()
      local dir = tmpdir()
      F.battery(dir, { entries = 1, epochs = 2 })
      return dir
    end
    local entry = function(dir) return fs.join(dir, "runs", "grid", "lr=0.1") end
    local kills = kill_each(setup, function(dir) return "battery " .. fs.join(dir, "battery.lua") .. " --entry 1" end,
      function(dir, what)
        local done = check_run(entry(dir), what)
        local b2 = clara.battery.load(fs.join(dir, "battery.lua"))
        assert.are.equal(done, b2:status(1) == "done", what)
      end,
      function(dir, what)
        assert.is_true(check_run(entry(dir), what), what)
        assert.are.same({ 1, 2 }, F.epochs(entry(dir)), what)
        assert.is_true(same_weights(entry(dir), ref_entry), what)
      end)
    assert.is_true(kills >= 12, "only " .. kills .. " writes")
    print(("\nrun entry: %d kill points, each resumed to the reference weights"):format(kills))
  end)
end)

describe("a cross-validated battery entry killed after each of its writes", function()
  it("reuses only complete folds and completes the CV exactly", function()
    local ref = tmpdir()
    local b = F.battery(ref, { entries = 1, epochs = 1, cv = 2 })
    local out, rc = F.clara("battery " .. b .. " --entry 1")
    assert.are.equal(0, rc, out)
    local ref_cv = fs.join(ref, "runs", "grid", "lr=0.1")
    local function setup()
      local dir = tmpdir()
      F.battery(dir, { entries = 1, epochs = 1, cv = 2 })
      return dir
    end
    local cv = function(dir) return fs.join(dir, "runs", "grid", "lr=0.1") end
    local kills = kill_each(setup, function(dir) return "battery " .. fs.join(dir, "battery.lua") .. " --entry 1" end,
      function(dir, what)
        check_cv(cv(dir), 2, what)
        for j = 1, 2 do check_run(fs.join(cv(dir), "fold-" .. j), what) end
      end,
      function(dir, what)
        assert.is_true(check_cv(cv(dir), 2, what), what)
        for j = 1, 2 do
          assert.are.same({ 1 }, F.epochs(fs.join(cv(dir), "fold-" .. j)), what)
          assert.is_true(same_weights(fs.join(cv(dir), "fold-" .. j), fs.join(ref_cv, "fold-" .. j)), what)
        end
        local a = json.decode(fs.read(fs.join(cv(dir), "report.json")))
        local r = json.decode(fs.read(fs.join(ref_cv, "report.json")))
        assert.are.same(r.summary, a.summary, what)
      end, 3)
    assert.is_true(kills >= 8, "only " .. kills .. " kills")
    print(("\nCV entry: %d kill points (every third write), each resumed to the reference folds"):format(kills))
  end)
end)

describe("clara.run.is_done and the readers", function()
  local function report(dir, t)
    fs.mkdir_p(dir)
    fs.write_atomic(fs.join(dir, "report.json"), json.encode(t))
  end

  it("a report listing a missing file, an old report without model.pt, a torn report: not done", function()
    local dir = tmpdir()
    report(dir, { metrics = {}, files = { "history.csv", "model.pt" } })
    fs.write_atomic(fs.join(dir, "history.csv"), "epoch\n1\n")
    assert.is_false(run.is_done(dir))
    fs.write_atomic(fs.join(dir, "model.pt"), "x")
    assert.is_true(run.is_done(dir))
    local old = tmpdir()
    report(old, { metrics = {} })      -- written before model.pt by older versions
    assert.is_false(run.is_done(old))
    fs.write_atomic(fs.join(old, "model.pt"), "x")
    assert.is_true(run.is_done(old))
    local torn = tmpdir()
    fs.write_atomic(fs.join(torn, "report.json"), '{"metrics": {')
    assert.is_false(run.is_done(torn))
    assert.is_false(run.is_done(fs.join(torn, "missing")))
  end)

  it("a run's report lists what it vouches for, written after them", function()
    local dir = tmpdir()
    local exp = F.experiment(dir, { epochs = 1 })
    local out, rc = F.clara("run " .. exp)
    assert.are.equal(0, rc, out)
    local r = F.runs(dir)[1]
    local rep = json.decode(fs.read(fs.join(r, "report.json")))
    table.sort(rep.files)
    assert.are.same({ "best.pt", "config.json", "history.csv", "model.pt", "model.txt", "report.md" }, rep.files)
    local t = require("lfs").attributes(fs.join(r, "report.json"), "modification")
    for _, name in ipairs(rep.files) do
      assert.is_true(require("lfs").attributes(fs.join(r, name), "modification") <= t, name)
    end
  end)
end)
