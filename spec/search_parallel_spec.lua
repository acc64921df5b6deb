-- A search with parallel workers: `clara battery FILE --jobs 2` (two
-- `--worker` processes sharing the search state under its lock) runs
-- every trial of the grid once, gives each job to one worker, and never
-- trains an epoch twice; a SIGTERM stops the workers at their next step
-- and the re-run finishes the search.  `clara script slurm` makes a
-- search an array of workers.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/search_parallel_spec.lua
local fs = require "clara.fs"
local state = require "clara.battery.search.state"
local search_battery = dofile("spec/helpers/search_battery.lua")
local sh = require("spec.helpers.shell").sh
local tmpdir, cleanup = dofile("spec/helpers/tmpdir.lua")
teardown(cleanup)

local CLARA = fs.join(require("lfs").currentdir(), "clara")
local SEARCH = { scheduler = "asha", sampler = "grid", min_epochs = 1, max_epochs = 9, reduction_factor = 3,
  space = { q = { type = "choice", choices = { 5, 3, 8, 1, 9, 2, 7, 4, 6 } } } }

-- every trial's run trained each epoch once: its history holds epochs 1..n
-- in order, n = the epochs the state says it trained
local function check_trials(b, n)
  local st = state.read(b)
  assert.are.equal(n, #st.trials)
  local qs = {}
  for _, t in ipairs(st.trials) do
    assert.is_true(t.state == "paused" or t.state == "done", t.state)
    qs[#qs + 1] = t.params.q
    local rows = clara.run.read(fs.join(b:dir(), ("trial-%04d"):format(t.id))).history
    assert.are.equal(t.epochs, #rows)
    for e, row in ipairs(rows) do assert.are.equal(e, row.epoch) end
    -- and reported at each rung the known value q / rung epochs
    local rungs = require("clara.battery.search.asha").rungs(b.search, t.bracket)
    for k, v in ipairs(t.values) do assert.are.equal(t.params.q / rungs[k], v) end
  end
  table.sort(qs)
  assert.are.same({ 1, 2, 3, 4, 5, 6, 7, 8, 9 }, qs)
  -- every job given once
  local seen = {}
  for _, j in ipairs(st.jobs) do
    local key = j.trial .. "@" .. j.rung
    assert.is_nil(seen[key], key)
    seen[key] = true
  end
  return st
end

describe("search: parallel workers", function()
  it("--jobs 2 runs every trial once, each job by one worker, no epoch twice", function()
    local path = search_battery(tmpdir(), SEARCH)
    local text, rc = sh(("%s battery %s --jobs 2 --quiet"):format(CLARA, path))
    assert.are.equal(0, rc, text)
    local b = clara.battery.load(path)
    local st = check_trials(b, 9)
    -- the best of rung 0 (q = 1) always reaches the top rung
    assert.are.equal(9, st.trials[4].epochs)
    assert.is_true(fs.exists(fs.join(b:dir(), "search.md")))
    for k = 1, 2 do assert.is_true(fs.exists(fs.join(b:dir(), "search", ("worker-%d.log"):format(k)))) end
    -- --list: the trials made; --only does not apply to a search
    text, rc = sh(("%s battery %s --list"):format(CLARA, path))
    assert.are.equal(0, rc, text)
    assert.are.equal(9, select(2, text:gsub("trial%-%d%d%d%d\n", "")), text)
    text, rc = sh(("%s battery %s --list --only q=1"):format(CLARA, path))
    assert.are.equal(2, rc, text)
    assert.matches("a search chooses its own trials", text, 1, true)
  end)

  it("SIGTERM stops the workers at their next step (exit 75); the re-run finishes", function()
    local dir = tmpdir()
    local path = search_battery(dir, SEARCH, { slow = 0.05 })
    local proc = require "clara.process.core"
    local pid = proc.spawn({ CLARA, "battery", path, "--jobs", "2", "--quiet" }, { log = fs.join(dir, "log.txt") })
    local b = clara.battery.load(path)
    -- until some trial has reported
    for _ = 1, 600 do
      local st = state.read(b)
      if st and #st.trials >= 3 then break end
      proc.sleep(0.05)
    end
    proc.kill(pid, "TERM")
    local code
    for _ = 1, 1200 do
      local p, c = proc.wait()
      if p == pid then code = c break end
      proc.sleep(0.05)
    end
    assert.are.equal(75, code, fs.read(fs.join(dir, "log.txt")))
    local text, rc = sh(("%s battery %s --jobs 2 --quiet"):format(CLARA, path))
    assert.are.equal(0, rc, text)
    check_trials(b, 9)
  end)

  it("clara script slurm: an array of --workers N tasks, each `clara battery FILE --worker`", function()
    local path = search_battery(tmpdir(), SEARCH)
    local out = fs.join(tmpdir(), "search.sbatch")
    local text, rc = sh(("%s script slurm %s --workers 3 --out %s"):format(CLARA, path, out))
    assert.are.equal(0, rc, text)
    local script = fs.read(out)
    assert.matches("#SBATCH %-%-array=1%-3\n", script)
    assert.matches('"%$CLARA" battery "%$BATTERY" %-%-worker %-%-threads "%$OMP_NUM_THREADS" &', script)
    assert.matches("search/state%.json", script)
    text, rc = sh("shellcheck " .. out)
    assert.are.equal(0, rc, text)
    -- workers is a search's option only
    local grid = dofile("spec/helpers/battery_file.lua")(tmpdir())
    text, rc = sh(("%s script slurm %s --workers 3"):format(CLARA, grid))
    assert.are_not.equal(0, rc)
    assert.matches("workers is for a search battery", text)
  end)

  it("the CLI: --worker is a search's, --entry and the bash runner are not", function()
    local path = search_battery(tmpdir(), SEARCH)
    local grid = dofile("spec/helpers/battery_file.lua")(tmpdir())
    local text, rc = sh(("%s battery %s --worker"):format(CLARA, grid))
    assert.are.equal(2, rc, text)
    assert.matches("%-%-worker runs a search's jobs: .* has no search", text)
    text, rc = sh(("%s battery %s --worker --jobs 2"):format(CLARA, path))
    assert.are.equal(2, rc, text)
    assert.matches("%-%-worker does not combine with", text)
    text, rc = sh(("%s script bash %s"):format(CLARA, path))
    assert.are_not.equal(0, rc)
    assert.matches("a search battery runs as `clara battery FILE %-%-jobs N`", text)
    -- before the search began it has no entries; --list prints none
    text, rc = sh(("%s battery %s --list"):format(CLARA, path))
    assert.are.equal(0, rc, text)
    assert.are.equal("", text)
  end)
end)
