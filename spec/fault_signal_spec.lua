-- Signals outside the training loop: SIGTERM during start-up, the model
-- factory, the checkpoint's loading, between CV folds and between battery
-- entries ends clara with 75 (the requeue code) after saving what exists,
-- never with 143; running the same command again finishes the work, each
-- epoch in the history once.  The processes signal themselves from a
-- shell (spec/helpers/fault.lua), as a scheduler would.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/fault_signal_spec.lua
local fs = require "clara.fs"
local run = require "clara.run"
local F = require "spec.helpers.fault"
local tmpdir, cleanup = F.tmpdir, F.cleanup
teardown(cleanup)

local runs = F.runs

describe("clara run: a signal outside the loop", function()
  for _, point in ipairs { "startup", "factory" } do
    it("during " .. point .. ": exit 75, no run begun; the same command then trains", function()
      local dir = tmpdir()
      local exp = F.experiment(dir)
      local out, rc = F.clara("run " .. exp, { FAULT_SIGNAL = point })
      assert.are.equal(75, rc, out)
      assert.matches("clara run: TERM: stopped before the run began, exiting with code 75", out, 1, true)
      for _, r in ipairs(runs(dir)) do assert.is_false(fs.exists(fs.join(r, "checkpoint.pt"))) end
      out, rc = F.clara("run " .. exp)
      assert.are.equal(0, rc, out)
      local done = runs(dir)
      assert.is_true(run.is_done(done[#done]))
      assert.are.same({ 1, 2, 3 }, F.epochs(done[#done]))
    end)
  end

  for _, name in ipairs { "USR1", "INT" } do
    it("SIG" .. name .. " in the model factory: exit 75 too", function()
      local dir = tmpdir()
      local out, rc = F.clara("run " .. F.experiment(dir), { FAULT_SIGNAL = "factory", FAULT_SIGNAL_NAME = name })
      assert.are.equal(75, rc, out)
      assert.matches("clara run: " .. name .. ": stopped before the run began", out, 1, true)
    end)
  end

  it("with handle_signals = false, a signal acts as it would (143), also one during start-up", function()
    local dir = tmpdir()
    local exp = F.experiment(dir, { handle_signals = false })
    for _, point in ipairs { "startup", "epoch_end:1" } do
      local out, rc = F.clara("run " .. exp, { FAULT_SIGNAL = point })
      assert.are.equal(143, rc, point .. ": " .. out)
    end
  end)

  it("while the checkpoint loads: exit 75, the checkpoint and history unchanged; a resume finishes", function()
    local dir = tmpdir()
    local exp = F.experiment(dir)
    -- 1. a run stopped in epoch 2 (the signal of epoch 1's end is answered at the next step)
    local out, rc = F.clara("run " .. exp, { FAULT_SIGNAL = "epoch_end:1" })
    assert.are.equal(75, rc, out)
    local r = runs(dir)[1]
    local before = F.snapshot(r)
    assert.is_truthy(before["checkpoint.pt"])
    -- 2. a resume told to stop while it loads the checkpoint
    out, rc = F.clara("run " .. exp .. " --resume=" .. r, { FAULT_SIGNAL = "load" })
    assert.are.equal(75, rc, out)
    assert.matches("checkpoint written in " .. r, out, 1, true)
    local after = F.snapshot(r)
    assert.are.equal(before["checkpoint.pt"], after["checkpoint.pt"])
    assert.are.equal(before["history.csv"], after["history.csv"])
    assert.is_false(run.is_done(r))
    -- 3. the resume that finishes
    out, rc = F.clara("run " .. exp .. " --resume=" .. r)
    assert.are.equal(0, rc, out)
    assert.is_true(run.is_done(r))
    assert.are.same({ 1, 2, 3 }, F.epochs(r))
  end)
end)

describe("clara battery: a signal outside the loop", function()
  it("during start-up of an entry (--entry): exit 75, nothing begun; again: done", function()
    local dir = tmpdir()
    local b = F.battery(dir)
    local out, rc = F.clara("battery " .. b .. " --entry 1", { FAULT_SIGNAL = "startup" })
    assert.are.equal(75, rc, out)
    local entry = fs.join(dir, "runs", "grid", "lr=0.1")
    assert.is_false(fs.exists(fs.join(entry, "checkpoint.pt")))
    out, rc = F.clara("battery " .. b .. " --entry 1")
    assert.are.equal(0, rc, out)
    assert.is_true(run.is_done(entry))
  end)

  it("in the model factory of an entry: exit 75; again: done", function()
    local dir = tmpdir()
    local b = F.battery(dir)
    local out, rc = F.clara("battery " .. b .. " --entry 2", { FAULT_SIGNAL = "factory" })
    assert.are.equal(75, rc, out)
    out, rc = F.clara("battery " .. b .. " --entry 2")
    assert.are.equal(0, rc, out)
    assert.is_true(run.is_done(fs.join(dir, "runs", "grid", "lr=0.05")))
  end)

  it("between two entries (jobs = 1): the first finishes, the second does not start; exit 75; again: all done", function()
    local dir = tmpdir()
    local b = F.battery(dir, { entries = 3, epochs = 2 })
    -- the 2nd epoch end is the first entry's last: it finishes, then the battery stops
    local out, rc = F.clara("battery " .. b, { FAULT_SIGNAL = "epoch_end:2" })
    assert.are.equal(75, rc, out)
    assert.matches("TERM received, stopping before lr=0.05", out, 1, true)
    local grid = fs.join(dir, "runs", "grid")
    assert.is_true(run.is_done(fs.join(grid, "lr=0.1")))
    assert.is_false(fs.exists(fs.join(grid, "lr=0.05")))
    out, rc = F.clara("battery " .. b)
    assert.are.equal(0, rc, out)
    assert.matches("2 entries to run, 1 already finished", out, 1, true)
    for _, name in ipairs { "lr=0.1", "lr=0.05", "lr=0.0333333" } do
      assert.is_true(run.is_done(fs.join(grid, name)), name)
      assert.are.same({ 1, 2 }, F.epochs(fs.join(grid, name)))
    end
  end)

  it("between two CV folds: fold 1 finishes, fold 2 does not start; exit 75; again: fold 1 reused", function()
    local dir = tmpdir()
    local b = F.battery(dir, { entries = 1, epochs = 2, cv = 3 })
    local out, rc = F.clara("battery " .. b .. " --entry 1", { FAULT_SIGNAL = "epoch_end:2" })
    assert.are.equal(75, rc, out)
    local cv = fs.join(dir, "runs", "grid", "lr=0.1")
    assert.is_true(run.is_done(fs.join(cv, "fold-1")))
    assert.is_false(fs.exists(fs.join(cv, "fold-2")))
    assert.is_false(run.is_done(cv))
    local fold1 = F.snapshot(fs.join(cv, "fold-1"))
    out, rc = F.clara("battery " .. b .. " --entry 1")
    assert.are.equal(0, rc, out)
    assert.is_true(run.is_done(cv))
    assert.are.same(fold1, F.snapshot(fs.join(cv, "fold-1")))   -- reused, not redone
    for j = 1, 3 do assert.are.same({ 1, 2 }, F.epochs(fs.join(cv, "fold-" .. j))) end
  end)

  it("the SLURM script requeues on 75 whatever stopped clara", function()
    -- every path above ends with 75; the generated script's only test is the code
    local text = require("clara.scripts.slurm")(clara.battery.load(F.battery(tmpdir())), { time = "1:00:00" })
    assert.matches('if [ "$rc" -eq 75 ]; then', text, 1, true)
    assert.matches('scontrol requeue', text, 1, true)
  end)
end)
