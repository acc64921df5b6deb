-- `clara run exp.lua --resume` continues the run that was started: the
-- settings it recorded in config.json, not the script's, unless this
-- command line changes one with --set, which config.json (`changes`, with
-- the epoch it applies from) and the history (`changes` column) record.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/cli_run_resume_settings_spec.lua
local fs = require "clara.fs"
local json = require "clara.run.json"

local CLARA = fs.join(require("lfs").currentdir(), "clara")
local EXP = fs.join(require("lfs").currentdir(), "spec/helpers/resume_experiment.lua")
local sh = require("spec.helpers.shell").sh
local tmpdir, cleanup = dofile("spec/helpers/tmpdir.lua")
teardown(cleanup)

-- the experiment with 2 epochs in the script; STOP_AT_STEP=n raises SIGTERM's
-- flag at step n (12 steps an epoch), as a scheduler's signal would
local SCRIPT = ([[
local exp = dofile(%q)
exp.epochs = 2
local stop = tonumber(os.getenv("STOP_AT_STEP") or "")
if stop then
  exp.hooks = { on_step_end = function(ctx) if ctx.step == stop then require("clara.signal").raise("TERM") end end }
end
return exp
]]):format(EXP)

local function the_run(out)
  local runs = require("spec.helpers.runs")(fs.join(out, "resume_mlp"))
  assert.are.equal(1, #runs)
  return runs[1]
end

local function config(dir) return json.decode(fs.read(fs.join(dir, "config.json"))) end

describe("clara run --resume", function()
  it("keeps the settings the run started with; a --set on the resume is applied and recorded", function()
    local out = tmpdir()
    local script = fs.join(out, "exp.lua")
    fs.write_atomic(script, SCRIPT)
    -- 1. started with --set epochs=3, interrupted in epoch 1
    local text, rc = sh(("STOP_AT_STEP=5 %s run %s --out %s --set epochs=3 --quiet"):format(CLARA, script, out))
    assert.are.equal(75, rc, text)
    local dir = the_run(out)
    assert.are.equal(3, config(dir).epochs)
    assert.is_false(fs.exists(fs.join(dir, "report.json")))
    -- 2. resumed without --set: 3 epochs (the script says 2), nothing recorded as changed
    text, rc = sh(("%s run %s --out %s --resume --quiet"):format(CLARA, script, out))
    assert.are.equal(0, rc, text)
    assert.are.equal("", text)
    local info = clara.run.read(dir)
    assert.are.equal(3, #info.history)
    assert.are.equal(3, info.report.epochs)
    assert.is_nil(config(dir).changes)
    for _, row in ipairs(info.history) do assert.is_nil(row.changes) end
    -- 3. resumed with --set epochs=4: one more epoch, recorded in config.json and the history
    text, rc = sh(("%s run %s --out %s --resume --set epochs=4 --quiet"):format(CLARA, script, out))
    assert.are.equal(0, rc, text)
    info = clara.run.read(dir)
    assert.are.equal(4, #info.history)
    local cfg = config(dir)
    assert.are.equal(4, cfg.epochs)
    assert.are.same({ { epoch = 4, set = "epochs=4" } }, cfg.changes)
    assert.are.equal("epochs=4", info.history[4].changes)
    assert.is_nil(info.history[3].changes)
    -- 4. a hyperparameter set on the resume is recorded the same way; unchanged values are not
    text, rc = sh(("%s run %s --out %s --resume --set epochs=5 --set hidden=16 --quiet"):format(CLARA, script, out))
    assert.are.equal(0, rc, text)
    cfg = config(dir)
    assert.are.equal(5, #clara.run.read(dir).history)
    assert.are.same({ epoch = 5, set = "epochs=5" }, cfg.changes[2])
    assert.are.same({ lr = 0.1, hidden = 16 }, cfg.hparams)
  end)

  it("a --set in a cut epoch applies from that epoch", function()
    local out = tmpdir()
    local script = fs.join(out, "exp.lua")
    fs.write_atomic(script, SCRIPT)
    local text, rc = sh(("STOP_AT_STEP=15 %s run %s --out %s --quiet"):format(CLARA, script, out))
    assert.are.equal(75, rc, text)
    text, rc = sh(("%s run %s --out %s --resume --set epochs=3 --set patience=5 --quiet"):format(CLARA, script, out))
    assert.are.equal(0, rc, text)
    local dir = the_run(out)
    local cfg = config(dir)
    assert.are.same({ { epoch = 2, set = "epochs=3, patience=5" } }, cfg.changes)
    assert.are.equal(5, cfg.patience)
    local info = clara.run.read(dir)
    assert.are.equal(3, #info.history)
    assert.are.equal("epochs=3 patience=5", info.history[2].changes)
  end)

  it("in Lua: exp:run{resume = dir} keeps the recorded settings, set = {...} changes them", function()
    local out = tmpdir()
    local exp = clara.experiment(dofile(EXP)):with { out_dir = out }
    local first = exp:set({ epochs = 1, batch_size = 16 }):run()
    assert.are.equal(1, #first.history)
    -- the experiment as the script has it (3 epochs, batch 8): the run keeps batch 16
    local r = exp:run { resume = first.dir, set = { epochs = 2 } }
    assert.are.equal(2, #r.history)
    local cfg = config(first.dir)
    assert.are.equal(16, cfg.batch_size)
    assert.are.same({ { epoch = 2, set = "epochs=2" } }, cfg.changes)
    -- recorded settings that are not valid (an edited config.json) are refused, naming the file
    local text = fs.read(fs.join(first.dir, "config.json")):gsub('"batch_size": 16', '"batch_size": -1')
    fs.write_atomic(fs.join(first.dir, "config.json"), text)
    local ok, err = pcall(function() return exp:run { resume = first.dir } end)
    assert.is_false(ok)
    assert.matches("resume_settings_spec%.lua:%d+: clara%.experiment: resume: the settings in '[^']*config%.json' "
      .. "are not valid: batch_size must be an integer >= 1, got %-1", err)
  end)

  it("a resumed cross-validation keeps its recorded settings for every fold", function()
    local out = tmpdir()
    local base = clara.experiment(dofile(EXP))
    base = base:with { data = base:data_parts().train, out_dir = out, handle_signals = true }
    local started = base:set({ epochs = 2 }):with { hooks = { on_step_end = function(ctx)
      if ctx.step == 3 then require("clara.signal").raise("TERM") end
    end } }
    local cv = started:cross_validate { folds = 3 }
    assert.are.equal("TERM", cv.interrupted)
    -- the script now says 1 epoch: every fold still trains the 2 the CV began with
    local again = base:with({ epochs = 1 }):cross_validate { resume = cv.dir }
    for j, f in ipairs(again.folds) do assert.are.equal(2, #f.result.history, "fold " .. j) end
  end)
end)
