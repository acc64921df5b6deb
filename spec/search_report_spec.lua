-- A search's report: search.md (best settings, a table per rung, the
-- command that compares the best trials) and, in the battery's HTML
-- report, the same tables, every trial's curve coloured by the rung it
-- reached and one scatter plot per searched parameter.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/search_report_spec.lua
local fs = require "clara.fs"
local search_battery = dofile("spec/helpers/search_battery.lua")
local sh = require("spec.helpers.shell").sh
local tmpdir, cleanup = dofile("spec/helpers/tmpdir.lua")
teardown(cleanup)

local CLARA = fs.join(require("lfs").currentdir(), "clara")

describe("search: report", function()
  it("search.md and the HTML report show the best trial, the rungs, the curves and the scatter plots", function()
    local b = clara.battery.load(search_battery(tmpdir(), { scheduler = "asha", sampler = "grid",
      min_epochs = 1, max_epochs = 9, reduction_factor = 3,
      space = { q = { type = "choice", choices = { 5, 3, 8, 1, 9, 2, 7, 4, 6 } },
                lr = { type = "choice", choices = { 0.05 } } } }))
    b:run { log = function() end }
    local md = fs.read(fs.join(b:dir(), "search.md"))
    assert.matches("Best: trial%-0004 %(lr=0%.05,q=1%), val_fake = 0%.111111 at rung 2 %(9 epochs%)", md)
    assert.matches("## Bracket 0, rung 1: 3 epochs\n\n| trial | val_fake | promoted | settings |\n|%-%-%-|%-%-%-|%-%-%-|%-%-%-|\n"
      .. "| trial%-0004 | 0%.333333 | yes | lr=0%.05,q=1 |\n| trial%-0006 | 0%.666667 |  | lr=0%.05,q=2 |", md)
    -- the best of the top rung: only one trial got there
    assert.is_nil(md:find("clara compare", 1, true))
    local text, rc = sh(("%s report %s"):format(CLARA, b:dir()))
    assert.are.equal(0, rc, text)
    local html = fs.read(fs.join(b:dir(), "report", "report.html"))
    assert.truthy(html:find("Best: trial-0004 (lr=0.05,q=1)", 1, true))
    assert.truthy(html:find("Bracket 0, rung 2: 9 epochs (best first)", 1, true))
    for _, chart in ipairs { "search_curves", "search_q", "search_lr" } do
      assert.is_true(fs.exists(fs.join(b:dir(), "report", chart .. ".png")), chart)
    end
    -- the curves: one series per trial, one key entry per rung reached
    local gp = fs.read(fs.join(b:dir(), "report", "search_curves.gp"))
    local series = {}
    for i in gp:gmatch("data index (%d+) using") do series[i] = true end
    assert.are.equal(9, #require("clara.battery.entries").sorted_keys(series))
    for _, key in ipairs { "reached rung 0 (6 trials)", "reached rung 1 (2 trials)", "reached rung 2 (1 trial)" } do
      assert.truthy(gp:find(key, 1, true), key)
    end
  end)

  it("names the best trials of the top rung for clara compare", function()
    -- no early stopping: every trial at max_epochs, one rung
    local b = clara.battery.load(search_battery(tmpdir(), { sampler = "grid", max_epochs = 2,
      space = { q = { type = "choice", choices = { 3, 1, 2, 4 } } } }))
    b:run { log = function() end }
    local md = fs.read(fs.join(b:dir(), "search.md"))
    local line = md:match("clara compare ([^\n]*)")
    assert.are.equal(("%s/trial-0002 %s/trial-0003 %s/trial-0001"):format(b:dir(), b:dir(), b:dir()), line)
    local text, rc = sh(("%s compare %s --no-plots"):format(CLARA, line))
    assert.are.equal(0, rc, text)
    assert.matches("| trial%-0002 | run | 2 |", text)
  end)
end)
