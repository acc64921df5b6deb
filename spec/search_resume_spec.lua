-- A search continues exactly: a promoted trial continues its own run from
-- its checkpoint (bitwise equal to the same entry trained straight
-- through), and a search killed with SIGKILL at random points, then run
-- again until it ends, gives the same trials, jobs and results as one
-- never stopped.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/search_resume_spec.lua
local fs = require "clara.fs"
local json = require "clara.run.json"
local state = require "clara.battery.search.state"
local search_battery = dofile("spec/helpers/search_battery.lua")
local assert_same_weights = dofile("spec/helpers/same_weights.lua")
local sh = require("spec.helpers.shell").sh
local tmpdir, cleanup = dofile("spec/helpers/tmpdir.lua")
teardown(cleanup)

local CLARA = fs.join(require("lfs").currentdir(), "clara")
local SEARCH = { scheduler = "asha", sampler = "grid", min_epochs = 1, max_epochs = 9, reduction_factor = 3,
  space = { q = { type = "choice", choices = { 5, 3, 8, 1, 9, 2, 7, 4, 6 } },
            lr = { type = "choice", choices = { 0.05 } } } }

-- what a search ends with: its jobs, every trial's settings, state and
-- values, and every trial's history (the trained numbers, not the times)
local function history(dir)
  local rows = clara.run.read(dir).history
  for _, row in ipairs(rows) do row.time = nil end
  return rows
end

local function outcome(b)
  local st = state.read(b)
  local trials = {}
  for i, t in ipairs(st.trials) do
    trials[i] = { params = t.params, state = t.state, values = t.values, epochs = t.epochs,
                  history = history(fs.join(b:dir(), ("trial-%04d"):format(t.id))) }
  end
  return { jobs = st.jobs, epochs = st.epochs, trials = trials }
end

describe("search: exact continuation", function()
  it("a promoted trial's weights at epoch 9 are bitwise those of its entry trained straight to 9", function()
    local b = clara.battery.load(search_battery(tmpdir(), SEARCH))
    b:run { log = function() end }
    local st = state.read(b)
    local t4 = st.trials[4]
    assert.are.equal(9, t4.epochs)
    local dir = fs.join(b:dir(), "trial-0004")
    -- its run: one directory, 9 history rows, each rung recorded in config.json
    local info = clara.run.read(dir)
    assert.are.equal(9, #info.history)
    local cfg = json.decode(fs.read(fs.join(dir, "config.json")))
    assert.are.same({ { epoch = 2, set = "epochs=3" }, { epoch = 4, set = "epochs=9" } }, cfg.changes)
    assert.are.equal("epochs=3", info.history[2].changes)
    -- the same entry, 9 epochs in one go
    local straight = b.base:set(t4.params):set({ epochs = 9 }):with { out_dir = tmpdir() }:run()
    local promoted = torch.load(fs.join(dir, "checkpoint.pt"))
    local model = nn.Linear(3, 1)
    model:load_state_dict(promoted.model)
    assert_same_weights(straight.model, model, "trial-0004")
    for e = 1, 9 do
      assert.are.equal(straight.history[e].val_loss, info.history[e].val_loss, "epoch " .. e)
    end
  end)
end)

describe("search: kill -9", function()
  it("killed at random points and run again, it ends as a search never stopped", function()
    local whole = clara.battery.load(search_battery(tmpdir(), SEARCH))
    whole:run { log = function() end }
    local expected = outcome(whole)
    -- the same search in a child process, SIGKILLed after a random number of
    -- file writes, again and again until it ends
    local path = search_battery(tmpdir(), SEARCH)
    -- the kill points: seed 1 by default (it kills a promotion between its
    -- config.json and its first row); SEARCH_SEED=n tries others
    local seed = tonumber(os.getenv("SEARCH_SEED") or "") or 1
    math.randomseed(seed)
    local kills, rc, text = 0, nil, nil
    for _ = 1, 60 do
      local after = math.random(3, 40)
      text, rc = sh(("SEARCH_KILL_AFTER=%d %s battery %s --quiet"):format(after, CLARA, path))
      if rc == 0 then break end
      assert.are.equal(137, rc, text)
      kills = kills + 1
    end
    assert.are.equal(0, rc, text)
    assert.is_true(kills >= 3, "killed " .. kills .. " times")
    local b = clara.battery.load(path)
    assert.are.same(expected, outcome(b), "SEARCH_SEED=" .. seed)
    -- a finished search run again does nothing more
    text, rc = sh(("%s battery %s --quiet"):format(CLARA, path))
    assert.are.equal(0, rc, text)
    assert.are.same(expected, outcome(b))
  end)
end)
