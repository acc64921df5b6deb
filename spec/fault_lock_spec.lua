-- Run directories are owned: a process holds an exclusive lock on the run
-- it writes; a second one (a concurrent resume, a battery re-run while an
-- orphan still trains) gets "run <dir> is in use by PID n" and changes
-- nothing.  Temporary files carry their writer's pid: no process removes
-- one that a live process is writing.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/fault_lock_spec.lua
local fs = require "clara.fs"
local run = require "clara.run"
local sys = require "clara.sys.core"
local proc = require "clara.process.core"
local F = require "spec.helpers.fault"
local tmpdir, cleanup = F.tmpdir, F.cleanup
teardown(cleanup)

local ME = sys.getpid()

-- holder(dir) -> pid of a clara process that holds dir until it is killed
local function holder(dir)
  local ready = fs.join(tmpdir(), "ready")
  local pid = proc.spawn({ F.CLARA, "-e", ([[
    local r = require("clara.run").at(%q)
    require("clara.fs").write_atomic(%q, "")
    require("clara.process.core").sleep(60)]]):format(dir, ready) })
  assert.is_truthy(F.wait_until(function() return fs.exists(ready) end, 20), "the holder never started")
  return pid
end

local function stop(pid)
  proc.kill(pid, "KILL")
  F.wait_until(function() return proc.wait(pid) ~= nil end, 10)
end

describe("a run directory held by a process", function()
  it("refuses a second process with the holder's pid, and the directory is unchanged", function()
    local dir = fs.join(tmpdir(), "r")
    local r = run.at(dir, "x")
    r:append_history { epoch = 1, loss = 0.5 }
    local before = F.snapshot(dir)
    for _, code in ipairs {
      ("require('clara.run').at(%q)"):format(dir),
      ("require('clara.run').open(%q, %q, {id = %q})"):format(fs.dirname(fs.dirname(dir)), fs.dirname(dir):match("[^/]+$"), "r"),
    } do
      local out, rc = F.clara("-e " .. ("%q"):format(code))
      assert.are.equal(1, rc, out)
      assert.matches(("clara.run: run %s is in use by PID %d"):format(dir, ME), out, 1, true)
      assert.matches("(command line):1:", out, 1, true)   -- the user's line
    end
    assert.are.same(before, F.snapshot(dir))
    -- released: the other process may take it
    r:close()
    local out, rc = F.clara("-e " .. ("%q"):format(("require('clara.run').at(%q)"):format(dir)))
    assert.are.equal(0, rc, out)
  end)

  it("nests in one process: the directory is free when its last holder lets go", function()
    local dir = tmpdir()
    local a = run.at(dir, "x")
    local b = run.at(dir, "x")
    local lock = fs.lock(dir)
    assert.is_true(fs.holds(dir))
    a:close(); b:close()
    assert.is_true(fs.holds(dir))
    a:close()   -- twice: nothing more
    lock:release()
    assert.is_false(fs.holds(dir))
  end)

  it("another process's lock: this one is refused with its pid, then takes it when it ends", function()
    local dir = tmpdir()
    local pid = holder(dir)
    local ok, err = pcall(run.at, dir, "x")
    assert.is_false(ok)
    assert.matches(("run %s is in use by PID %d"):format(dir, pid), err, 1, true)
    assert.matches("fault_lock_spec.lua:%d+:", err)
    local lock, msg, holder_pid = fs.try_lock(dir)
    assert.is_nil(lock)
    assert.are.equal(pid, holder_pid)
    assert.matches("wait until it ends", msg, 1, true)
    stop(pid)
    local r = run.at(dir, "x")
    r:close()
  end)

  it("keeps the temporaries of a live writer, removes those of dead ones and its own", function()
    local dir = tmpdir()
    local pid = holder(fs.join(dir, "sub"))   -- any live process
    local names = {
      live = "checkpoint.pt.tmp-" .. pid .. "-abc123",
      dead = "checkpoint.pt.tmp-999999999-abc123",
      mine = "report.json.tmp-" .. ME .. "-00ff00",
      old = "history.csv.tmp-q1w2e3",   -- a name from before pids: removed
    }
    for _, n in pairs(names) do fs.write_atomic(fs.join(dir, n), "x") end
    local r = run.at(dir, "x")
    assert.is_nil(r:load_checkpoint())
    assert.is_true(fs.exists(fs.join(dir, names.live)))
    for _, k in ipairs { "dead", "mine", "old" } do assert.is_false(fs.exists(fs.join(dir, names[k])), k) end
    r:close()
    stop(pid)
  end)
end)

describe("two processes resuming one run at once", function()
  it("one trains, the other fails clearly; each epoch once in history.csv", function()
    local dir = tmpdir()
    local exp = F.experiment(dir, { epochs = 4 })
    local out, rc = F.clara("run " .. exp, { FAULT_SIGNAL = "epoch_end:1" })
    assert.are.equal(75, rc, out)
    local r = F.runs(dir)[1]
    -- the second starts once the first holds the run (its PID in .lock,
    -- no epoch taken yet), and the first holds it at its first step until
    -- the second has ended: they overlap however loaded the machine is
    local release = fs.join(dir, "release")
    local cmd = ("FAULT_HOLD=%s %s run %s --resume=%s > %s 2>&1; echo $? > %s")
    local history = fs.read(fs.join(r, "history.csv"))
    for i = 1, 2 do
      local base = fs.join(dir, "p" .. i)
      os.execute(("(" .. cmd .. ") &"):format(release, F.CLARA, exp, r, base .. ".out", base .. ".rc"))
      if i == 1 then
        assert.is_truthy(F.wait_until(function()
          local pid = tonumber((fs.read(fs.join(r, ".lock")) or ""):match("%d+"))
          return pid and F.alive(pid) and fs.read(fs.join(r, "history.csv")) == history
        end, 60), "the first process never took the run")
      end
    end
    F.wait_until(function() return fs.read(fs.join(dir, "p2.rc")) end, 60)
    fs.write_atomic(release, "")
    local texts, codes = {}, {}
    for i = 1, 2 do
      local base = fs.join(dir, "p" .. i)
      codes[i] = F.wait_until(function() return tonumber((fs.read(base .. ".rc") or ""):match("%d+")) end, 120)
      texts[i] = fs.read(base .. ".out")
      assert.is_truthy(codes[i], "process " .. i .. " did not end")
    end
    local loser = codes[1] == 1 and texts[1] or texts[2]
    table.sort(codes)
    assert.are.same({ 0, 1 }, codes, texts[1] .. "\n---\n" .. texts[2])
    assert.matches("clara.run: run " .. r .. " is in use by PID ", loser, 1, true)
    assert.is_true(run.is_done(r))
    assert.are.same({ 1, 2, 3, 4 }, F.epochs(r))
  end)
end)

describe("a battery re-run while an orphan holds an entry", function()
  it("leaves that entry untouched, says which process holds it, runs the others; exit 1", function()
    local dir = tmpdir()
    local b = F.battery(dir, { entries = 2, epochs = 1 })
    local entry1 = fs.join(dir, "runs", "grid", "lr=0.1")
    local pid = holder(entry1)
    local before = F.snapshot(entry1)
    for _, jobs in ipairs { 1, 2 } do
      local out, rc = F.clara(("battery %s --jobs %d"):format(b, jobs))
      assert.are.equal(1, rc, out)
      assert.matches("1 busy (held by another process)", out, 1, true)
      if jobs == 1 then assert.matches(("run %s is in use by PID %d"):format(entry1, pid), out, 1, true) end
      local after = F.snapshot(entry1)
      after["log.txt"] = nil   -- the pool's child logs why it stopped
      assert.are.same(before, after)
      assert.is_true(run.is_done(fs.join(dir, "runs", "grid", "lr=0.05")))
    end
    -- --entry: its own exit code, 73
    local out, rc = F.clara(("battery %s --entry 1"):format(b))
    assert.are.equal(73, rc, out)
    assert.matches(("entry 1: run %s is in use by PID %d"):format(entry1, pid), out, 1, true)
    stop(pid)
    out, rc = F.clara(("battery %s"):format(b))
    assert.are.equal(0, rc, out)
    assert.is_true(run.is_done(entry1))
  end)
end)
