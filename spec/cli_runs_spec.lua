-- The commands that read runs, as a user runs them (io.popen of ./clara):
-- `clara report runs/NAME` reports the newest run there, `clara compare`
-- shows first the settings that differ and --metric limits the columns,
-- `clara battery --only` matches settings in any order and --list honours it.
local fs = require "clara.fs"

local CLARA = fs.join(require("lfs").currentdir(), "clara")
local EXP = "spec/helpers/resume_experiment.lua"
local sh = require("spec.helpers.shell").sh
local tmpdir, cleanup = dofile("spec/helpers/tmpdir.lua")
teardown(cleanup)

-- two runs of the small experiment in out/resume_mlp/, the second with
-- other settings; -> their directories, oldest first
local function two_runs(out)
  for _, set in ipairs { "--set lr=0.1", "--set lr=0.05 --set hidden=8" } do
    local text, rc = sh(("%s run %s --out %s --set epochs=1 %s -q"):format(CLARA, EXP, out, set))
    assert.are.equal(0, rc, text)
  end
  local runs = {}
  for e in require("lfs").dir(fs.join(out, "resume_mlp")) do
    if e:sub(1, 1) ~= "." then runs[#runs + 1] = fs.join(out, "resume_mlp", e) end
  end
  table.sort(runs)
  assert.are.equal(2, #runs)
  return runs
end

describe("clara report, compare on runs", function()
  local out = tmpdir()
  local runs = two_runs(out)

  it("clara report runs/NAME reports the newest run there", function()
    -- the first run's id sorts first: ids begin with the start time
    local cfg = require("clara.run.json").decode(fs.read(fs.join(runs[2], "config.json")))
    assert.are.equal(8, math.tointeger(cfg.hparams.hidden))
    local text, rc = sh(("%s report %s"):format(CLARA, fs.join(out, "resume_mlp")))
    assert.are.equal(0, rc, text)
    assert.are.equal("report: " .. fs.join(runs[2], "report", "report.html") .. "\n", text)
    assert.is_true(fs.exists(fs.join(runs[2], "report", "report.html")))
    assert.is_false(fs.exists(fs.join(runs[1], "report")))
    -- a directory with no runs at all is still an error
    local empty = tmpdir()
    text, rc = sh(("%s report %s"):format(CLARA, empty))
    assert.are.equal(1, rc)
    assert.matches("is not a run, CV or battery directory", text, 1, true)
  end)

  it("clara compare shows first which settings differ", function()
    local text, rc = sh(("%s compare %s %s"):format(CLARA, runs[1], runs[2]))
    assert.are.equal(0, rc, text)
    local settings = text:find("## Settings that differ", 1, true)
    local results = text:find("## Results", 1, true)
    assert.truthy(settings, text); assert.truthy(results, text)
    assert.is_true(settings < results)
    local section = text:sub(settings, results - 1)
    assert.matches("| run | hidden | lr |", section, 1, true)
    assert.matches("| 16 | 0.1 |", section, 1, true)
    assert.matches("| 8 | 0.05 |", section, 1, true)
    -- the same settings everywhere: said so
    text, rc = sh(("%s compare %s %s"):format(CLARA, runs[1], runs[1]))
    assert.are.equal(0, rc, text)
    assert.matches("Every run has the same settings.", text, 1, true)
  end)

  it("clara compare --metric limits the metric columns (repeatable, or a comma list)", function()
    local header = function(text) return text:match("\n(| run | kind | [^\n]*)\n") end
    local text, rc = sh(("%s compare %s %s"):format(CLARA, runs[1], runs[2]))
    assert.are.equal(0, rc, text)
    local all = header(text)
    assert.matches("| val_acc |", all, 1, true); assert.matches("| val_loss |", all, 1, true)
    text, rc = sh(("%s compare %s %s --metric val_acc"):format(CLARA, runs[1], runs[2]))
    assert.are.equal(0, rc, text)
    assert.are.equal("| run | kind | epochs | parameters | time / epoch (s) | val_acc |", header(text))
    assert.matches("Paired tests on val_acc", text, 1, true)
    for _, args in ipairs { "--metric val_loss,val_acc", "--metric val_loss --metric val_acc" } do
      text, rc = sh(("%s compare %s %s %s"):format(CLARA, runs[1], runs[2], args))
      assert.are.equal(0, rc, text)
      assert.are.equal("| run | kind | epochs | parameters | time / epoch (s) | val_loss | val_acc |", header(text))
      assert.matches("Paired tests on val_loss", text, 1, true)
    end
    text, rc = sh(("%s compare %s %s --metric val_acc,f1x"):format(CLARA, runs[1], runs[2]))
    assert.are.equal(1, rc)
    assert.matches("no run has the metric 'f1x'", text, 1, true)
  end)
end)

describe("clara battery --only and --list", function()
  local d = tmpdir()
  local b = dofile("spec/helpers/battery_file.lua")(d, { broken = false })

  local function list(args)
    local text, rc = sh(("%s battery %s --list %s"):format(CLARA, b, args))
    return text, rc
  end

  it("--list prints every entry, or those --only selects", function()
    local text, rc = list("")
    assert.are.equal(0, rc, text)
    assert.are.equal("hidden=8,lr=0.1\nhidden=8,lr=0.01\nhidden=3,lr=0.1\nhidden=3,lr=0.01\n", text)
    text, rc = list("--only lr=0.01")
    assert.are.equal(0, rc, text)
    assert.are.equal("hidden=8,lr=0.01\nhidden=3,lr=0.01\n", text)
    text, rc = list("--only 'hidden=3*'")
    assert.are.equal(0, rc, text)
    assert.are.equal("hidden=3,lr=0.1\nhidden=3,lr=0.01\n", text)
    text, rc = list("--only nothing=1")
    assert.are.equal(1, rc)
    assert.matches("no entry matches 'nothing=1'", text, 1, true)
  end)

  it("--only matches settings whatever the order of their keys", function()
    for _, only in ipairs { "lr=0.1,hidden=8", "hidden=8,lr=0.1" } do
      local text, rc = list("--only " .. only)
      assert.are.equal(0, rc, text)
      assert.are.equal("hidden=8,lr=0.1\n", text)
    end
    -- each part a setting: lr=0.1 is not lr=0.01's prefix here
    local text = list("--only lr=0.1,hidden=3")
    assert.are.equal("hidden=3,lr=0.1\n", text)
    -- and runs what it lists
    local rc
    text, rc = sh(("%s battery %s --only lr=0.01,hidden=8 -q"):format(CLARA, b))
    assert.are.equal(0, rc, text)
    assert.is_true(fs.exists(fs.join(d, "runs", "grid", "hidden=8,lr=0.01", "report.json")))
    assert.is_false(fs.exists(fs.join(d, "runs", "grid", "hidden=8,lr=0.1", "report.json")))
  end)
end)
