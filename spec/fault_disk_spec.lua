-- A full disk is an error, never lost rows: clara.fs.append, write_atomic,
-- torch.save of a checkpoint and a training run's history each raise a
-- message naming the path and the system's reason, and leave the file as
-- it was (old contents) or whole (new contents).  /dev/full for the direct
-- checks; as root, a 64 KB tmpfs filled to the last byte for the rest (a
-- corpus of row widths, so the failing row crosses the disk's end at many
-- offsets), skipped with the reason otherwise.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/fault_disk_spec.lua
local torch = require "torch"
local fs = require "clara.fs"
local run = require "clara.run"
local H = require "clara.run.history"
local F = require "spec.helpers.fault"
local tmpdir, cleanup = dofile("spec/helpers/tmpdir.lua")

local ENOSPC = "No space left on device"

describe("/dev/full", function()
  it("fs.append raises with the path and the reason, at the caller's line", function()
    local ok, err = pcall(fs.append, "/dev/full", "epoch,loss\n1,0.5\n")
    assert.is_false(ok)
    assert.matches("clara.fs.append: cannot append to '/dev/full': " .. ENOSPC, err, 1, true)
    assert.matches("fault_disk_spec.lua:%d+:", err)
  end)

  it("a run's history on /dev/full raises too, and the row is not in the history", function()
    local dir = tmpdir()
    local r = run.at(dir, "x")
    r:append_history { epoch = 1, loss = 0.5 }
    os.remove(r:path("history.csv"))
    assert.is_true(os.execute("ln -s /dev/full " .. r:path("history.csv")))
    local ok, err = pcall(r.append_history, r, { epoch = 2, loss = 0.25 })
    assert.is_false(ok)
    assert.matches("cannot append to '" .. r:path("history.csv") .. "': " .. ENOSPC, err, 1, true)
    assert.are.equal(1, #r.history)
    r:close()
  end)
end)

-- {====================== a tiny file system ======================
local mounted, why
local MNT = tmpdir()
if io.popen("id -u"):read("l") ~= "0" then
  why = "not root: cannot mount a tmpfs"
elseif not os.execute("mount -t tmpfs -o size=64k tmpfs " .. MNT .. " 2>/dev/null") then
  why = "mount -t tmpfs failed (no CAP_SYS_ADMIN in this container?)"
else
  mounted = true
end
teardown(function()
  if mounted then os.execute("umount " .. MNT) end
  cleanup()
end)

-- fill(): the file system's free space, all of it, in a filler file
local function fill()
  local path = fs.join(MNT, "filler")
  for _, size in ipairs { 4096, 512, 64, 1 } do
    local chunk = string.rep("f", size)
    while pcall(fs.append, path, chunk) do end
  end
  return path
end

local function empty()
  os.execute("rm -rf " .. MNT .. "/* " .. MNT .. "/.[!.]*")
end

local function describe_disk(name, fn)
  if mounted then return describe(name, fn) end
  describe(name, function()
    it("is skipped: " .. why, function() print("\nfault_disk_spec: tmpfs cases skipped: " .. why) end)
  end)
end
-- }================================================================

describe_disk("a full disk (64 KB tmpfs)", function()
  after_each(empty)

  it("history.csv: each failing append names the file; the file holds whole rows, all of them (200 row widths)", function()
    local cases, failures = 0, 0
    for width = 1, 200 do
      local r = run.at(fs.join(MNT, "run"), "x")
      r:append_history { epoch = 0, loss = 1.0, note = "first" }
      fill()
      local appended, err = 0, nil
      for epoch = 1, 10000 do
        local ok, e = pcall(r.append_history, r, { epoch = epoch, loss = epoch / 7, note = string.rep("n", width) })
        if not ok then err = e break end
        appended = epoch
      end
      cases = cases + 1
      assert.is_truthy(err, "width " .. width .. ": the disk never filled")
      assert.matches("clara.fs.append: cannot append to '" .. r:path("history.csv") .. "': " .. ENOSPC, err, 1, true)
      local rows = H.decode(fs.read(r:path("history.csv")))
      assert.are.equal(appended + 1, #rows, "width " .. width)
      assert.are.equal(appended + 1, #r.history, "width " .. width)
      for i, row in ipairs(rows) do
        assert.are.equal(i - 1, row.epoch)
        if i > 1 then assert.are.equal(string.rep("n", width), row.note) end
      end
      local text = fs.read(r:path("history.csv"))
      assert.are.equal("\n", text:sub(-1), "width " .. width .. ": a torn last line")
      r:close()
      empty()
      if #rows ~= appended + 1 then failures = failures + 1 end
    end
    print(("\nfull disk, history appends: %d cases, %d failures"):format(cases, failures))
  end)

  it("write_atomic and a checkpoint: an error naming the file; the old file whole; no temporary left", function()
    local r = run.at(fs.join(MNT, "run"), "x")
    fs.write_atomic(r:path("config.json"), '{"lr": 0.1}')
    r:save_checkpoint { step = 1, w = torch.ones(100) }
    fill()
    local ok, err = pcall(fs.write_atomic, r:path("config.json"), string.rep("x", 10000))
    assert.is_false(ok)
    assert.matches("clara.fs.write_atomic: cannot write '" .. r:path("config.json") .. "'", err, 1, true)
    assert.matches(ENOSPC, err, 1, true)
    assert.are.equal('{"lr": 0.1}', fs.read(r:path("config.json")))
    ok, err = pcall(r.save_checkpoint, r, { step = 2, w = torch.ones(5000) })
    assert.is_false(ok)
    assert.matches("clara.run.save_checkpoint", err, 1, true)
    assert.matches(r:path("checkpoint.pt"), err, 1, true)
    local st = r:load_checkpoint()
    assert.are.equal(1, st.step)
    assert.are.same({}, fs.stale_temps(r.dir))
    r:close()
  end)

  it("a training run on a disk that fills stops with the file's name; freed, it resumes, each epoch once", function()
    local dir = tmpdir()
    local exp = dofile(F.experiment(dir, { epochs = 3 }))
    exp.out_dir = MNT
    local filler
    exp.hooks.on_epoch_end = function(ctx) if ctx.epoch == 2 then filler = fill() end end
    local ok, err = pcall(function() return clara.experiment(exp):run() end)
    assert.is_false(ok)
    -- the history row or best.pt, whichever needs the disk first
    assert.matches(ENOSPC, err, 1, true)
    assert.matches("cannot [%w ]+ '" .. MNT:gsub("%p", "%%%0") .. "/fault/[^/]+/[%w.]+': ", err)
    local runs_dir = fs.join(MNT, "fault")
    local id
    for n in require("lfs").dir(runs_dir) do if n:sub(1, 1) ~= "." then id = n end end
    local rdir = fs.join(runs_dir, id)
    local rows = F.epochs(rdir)                -- whole rows: epoch 2's or none of it
    assert.is_true(#rows == 1 or (#rows == 2 and rows[2] == 2), table.concat(rows, ","))
    os.remove(filler)
    exp.hooks.on_epoch_end = nil
    local result = clara.experiment(exp):run { resume = rdir }
    assert.is_nil(result.interrupted)
    assert.is_true(run.is_done(rdir))
    assert.are.same({ 1, 2, 3 }, F.epochs(rdir))
  end)
end)
