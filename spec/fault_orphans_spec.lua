-- Children die with their parent: `kill -9` of a battery's parent process
-- (not of its group) leaves no entry process running: each gets SIGTERM
-- (PR_SET_PDEATHSIG), writes its checkpoint and exits.  Running the
-- battery again resumes them, each epoch once.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/fault_orphans_spec.lua
local fs = require "clara.fs"
local run = require "clara.run"
local proc = require "clara.process.core"
local F = require "spec.helpers.fault"
local tmpdir, cleanup = F.tmpdir, F.cleanup
teardown(cleanup)

describe("kill -9 of a battery's parent", function()
  it("leaves no child running; the battery then resumes every entry", function()
    local dir = tmpdir()
    local b = F.battery(dir, { entries = 3, epochs = 3 })
    local log = fs.join(dir, "battery.out")
    -- 1 s a step: left alone, an entry would run for 9 s more, well past the 5 s below
    local parent = proc.spawn({ F.CLARA, "battery", b, "--jobs", "2" }, { log = log, env = { FAULT_SLOW = "1" } })
    -- 1. both children started and training (a checkpoint of each)
    local children = F.wait_until(function()
      local pids = {}
      for pid in (fs.read(log) or ""):gmatch("started %(pid (%d+)") do pids[#pids + 1] = tonumber(pid) end
      return #pids == 2 and pids
    end, 60)
    assert.is_truthy(children, fs.read(log))
    local grid = fs.join(dir, "runs", "grid")
    assert.is_truthy(F.wait_until(function()
      return fs.exists(fs.join(grid, "lr=0.1", "history.csv")) and fs.exists(fs.join(grid, "lr=0.05", "history.csv"))
    end, 60), fs.read(log))
    -- 2. the parent dies at once; the children within seconds
    assert.is_true(proc.kill(parent, "KILL"))
    F.wait_until(function() return proc.wait(parent) ~= nil end, 10)
    local gone = F.wait_until(function()
      for _, pid in ipairs(children) do if F.alive(pid) then return false end end
      return true
    end, 5)
    assert.is_truthy(gone, "children still running 5 s after their parent's death: " .. table.concat(children, ", "))
    -- 3. nothing finished, both interrupted entries resumable
    for _, name in ipairs { "lr=0.1", "lr=0.05" } do
      assert.is_false(run.is_done(fs.join(grid, name)), name)
    end
    local out, rc = F.clara("battery " .. b .. " --jobs 2")
    assert.are.equal(0, rc, out)
    for _, name in ipairs { "lr=0.1", "lr=0.05", "lr=0.0333333" } do
      assert.is_true(run.is_done(fs.join(grid, name)), name)
      assert.are.same({ 1, 2, 3 }, F.epochs(fs.join(grid, name)), name)
    end
  end)

  it("any spawned program gets SIGTERM when its parent ends (it does not finish)", function()
    local dir = tmpdir()
    local marker = fs.join(dir, "ran")
    local out, rc = F.clara("-e " .. ("%q"):format(([[
      local proc = require "clara.process.core"
      local pid = proc.spawn({ "sh", "-c", "sleep 1; touch %s" })
      print(pid)]]):format(marker)))
    assert.are.equal(0, rc, out)
    local pid = tonumber(out:match("%d+"))
    assert.is_truthy(F.wait_until(function() return not F.alive(pid) end, 10), "the child outlived its parent")
    proc.sleep(1.2)
    assert.is_false(fs.exists(marker))
  end)
end)
