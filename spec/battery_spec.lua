-- clara.battery: entries from grids, lists and random search; a failing
-- entry recorded while the others go on; re-runs skip finished entries and
-- resume interrupted ones (also after kill -9); N processes at a time give
-- the results of one; the summary files; `clara battery` on the command line.
local fs = require "clara.fs"
local tmpdir, cleanup = dofile("spec/helpers/tmpdir.lua")
local battery_file = dofile("spec/helpers/battery_file.lua")
teardown(cleanup)

local CLARA = fs.join(require("lfs").currentdir(), "clara")

local sh = require("spec.helpers.shell").sh

local function base(over)
  local x = torch.randn(40, 4)
  local spec = { name = "b", data = { x, x:sum(2):gt(0):long() }, hparams = { lr = 0.1, hidden = 4 },
    model = function(hp) return nn.Sequential(nn.Linear(4, hp.hidden), nn.Linear(hp.hidden, 2)) end,
    objective = clara.losses.cross_entropy, optimizer = function(m, hp) return optim.SGD(m, { lr = hp.lr }) end,
    epochs = 1, verbose = false }
  for k, v in pairs(over or {}) do spec[k] = v end
  return spec
end

local function quiet() end

describe("clara.battery entries", function()
  it("expands a grid into every combination, named by sorted settings", function()
    local b = clara.battery { base = base(), grid = { lr = { 0.1, 0.01 }, batch_size = { 8, 16, 32 } }, out_dir = "/nonexistent" }
    local names = {}
    for i, e in ipairs(b:entries()) do names[i] = e.name end
    assert.are.same({ "batch_size=8,lr=0.1", "batch_size=8,lr=0.01", "batch_size=16,lr=0.1", "batch_size=16,lr=0.01",
                      "batch_size=32,lr=0.1", "batch_size=32,lr=0.01" }, names)
    assert.are.equal("/nonexistent/b/batch_size=16,lr=0.01", b:entries()[4].dir)
    assert.are.same({ lr = 0.01, hidden = 4 }, b:experiment(4).hparams)
    assert.are.equal(16, b:experiment(4).batch_size)
    assert.is_false(fs.exists("/nonexistent"))
  end)

  it("adds explicit entries and a reproducible random search inside its bounds", function()
    local spec = { base = base(), list = { { lr = 0.5 } },
      random = { n = 20, seed = 4, space = { lr = { log_uniform = { 1e-4, 1e-1 } }, hidden = { choice = { 2, 4, 8 } },
                                               epochs = { int = { 1, 3 } } } } }
    local a, b = clara.battery(spec), clara.battery(spec)
    assert.are.equal(21, #a:entries())
    assert.are.same({ lr = 0.5 }, a:entries()[1].settings)
    local lows, highs, seen = 0, 0, {}
    for i = 2, 21 do
      local s = a:entries()[i].settings
      assert.are.same(s, b:entries()[i].settings)
      assert.is_true(s.lr >= 1e-4 and s.lr < 1e-1)
      if s.lr < 1e-3 then lows = lows + 1 elseif s.lr > 1e-2 then highs = highs + 1 end
      assert.is_true(s.hidden == 2 or s.hidden == 4 or s.hidden == 8)
      assert.is_true(math.type(s.epochs) == "integer" and s.epochs >= 1 and s.epochs <= 3)
      seen[s.epochs] = true
    end
    assert.is_true(lows > 0 and highs > 0)   -- log-uniform reaches both decades' ends
    assert.are.same({ true, true, true }, seen)
    local c = clara.battery { base = base(), random = { n = 3, seed = 5, space = spec.random.space } }
    assert.are_not.same(a:entries()[2].settings, c:entries()[1].settings)
  end)

  it("refuses a setting the experiment does not have, before writing anything", function()
    local out = tmpdir()
    local ok, err = pcall(function()
      local b = clara.battery { base = base(), grid = { lr = { 0.1 }, widht = { 3 } }, out_dir = out }
      return b
    end)
    assert.is_false(ok)
    assert.matches("clara.battery: entry 'lr=0.1,widht=3': clara.experiment: unknown setting 'widht'", err, 1, true)
    assert.matches("battery_spec.lua", err, 1, true)
    assert.are.equal(nil, require("lfs").attributes(fs.join(out, "b")))
    for _, bad in ipairs {
      { { base = base(), grid = { lr = {} } }, "grid.lr must be a non-empty list" },
      { { base = base(), list = { { lr = 0.1 }, { lr = 0.1 } } }, "entries 1 and 2 have the same settings (lr=0.1)" },
      { { base = base(), random = { n = 2, space = { lr = { uniform = { 0, 1 } } } } }, "random.seed must be an integer" },
      { { base = base(), random = { n = 2, seed = 1, space = { lr = { log_uniform = { 0, 1 } } } } }, "random.space.lr must be" },
      { { base = base(), grid = {}, bogus = 1 }, "unknown option 'bogus'" },
      { { base = 3 }, "base must be an experiment" },
    } do
      local ok2, e2 = pcall(clara.battery, bad[1])
      assert.is_false(ok2); assert.matches(bad[2], e2, 1, true)
    end
  end)
end)

describe("clara.battery:run", function()
  it("records a failing entry and goes on; a re-run skips finished entries and retries failed ones", function()
    local dir = tmpdir()
    local b = clara.battery.load(battery_file(dir))
    local counts = b:run { log = quiet }
    assert.are.same({ 2, 2, 0, 0 }, { counts.done, counts.failed, counts.interrupted, counts.skipped })
    assert.are.same({ "done", "done", "failed", "failed" }, { b:status(1), b:status(2), b:status(3), b:status(4) })
    assert.matches("hidden 3 is broken", fs.read(fs.join(b:entries()[3].dir, "error.txt")), 1, true)
    -- the summary: one row per entry with settings, metrics and the error
    local rows = require("clara.run.history").decode(fs.read(fs.join(b:dir(), "summary.csv")))
    assert.are.equal(4, #rows)
    assert.are.equal("hidden=8,lr=0.1", rows[1].name)
    assert.are.equal(clara.run.read(b:entries()[1].dir).report.metrics.val.acc, rows[1].val_acc)
    assert.matches("hidden 3 is broken", rows[3].error, 1, true)
    assert.matches("| hidden=3,lr=0.1 | failed |", fs.read(fs.join(b:dir(), "summary.md")), 1, true)
    local index = require("clara.run.json").decode(fs.read(fs.join(b:dir(), "battery.json")))
    assert.are.equal(4, #index.entries)
    -- again: nothing finished is trained twice
    local mtime = require("lfs").attributes(fs.join(b:entries()[1].dir, "model.pt"), "modification")
    counts = b:run { log = quiet }
    assert.are.same({ 0, 2, 2 }, { counts.done, counts.failed, counts.skipped })
    assert.are.equal(mtime, require("lfs").attributes(fs.join(b:entries()[1].dir, "model.pt"), "modification"))
  end)

  it("runs entries as N processes with the results of one process", function()
    local serial = clara.battery.load(battery_file(tmpdir(), { broken = false }))
    serial:run { log = quiet }
    local parallel = clara.battery.load(battery_file(tmpdir(), { broken = false }))
    local lines = {}
    local counts = parallel:run { jobs = 2, log = function(l) lines[#lines + 1] = l end }
    assert.are.equal(4, counts.done)
    assert.matches("started %(pid %d+, 1 thread%)", table.concat(lines, "\n"))
    for i = 1, 4 do
      local a = clara.run.read(serial:entries()[i].dir)
      local p = clara.run.read(parallel:entries()[i].dir)
      assert.are.equal(a.report.metrics.val.loss, p.report.metrics.val.loss)
      for k, t in pairs(a.state_dict) do assert.is_true(torch.equal(t, p.state_dict[k]), k) end
      assert.is_true(fs.exists(fs.join(parallel:entries()[i].dir, "log.txt")))
    end
    local ok, err = pcall(clara.battery { base = base() }.run, clara.battery { base = base() }, { jobs = 2 })
    assert.is_false(ok); assert.matches("jobs > 1 runs entries as processes", err, 1, true)
  end)

  it("resumes an entry stopped by a signal to the weights of an uninterrupted run", function()
    local ref = clara.battery.load(battery_file(tmpdir(), { broken = false }))
    ref:run_entry(1, {})
    local b = clara.battery.load(battery_file(tmpdir(), { broken = false, checkpoint_every = 1 }))
    local signal = require "clara.signal"
    local exp_with = b.experiment
    b.experiment = function(self, i)
      return exp_with(self, i):with { hooks = { on_step_end = function(ctx) if ctx.step == 7 then signal.raise("USR1") end end } }
    end
    assert.are.equal("interrupted", (b:run_entry(1, { handle_signals = true })))
    assert.are.equal("interrupted", b:status(1))
    b.experiment = exp_with
    assert.are.equal("done", (b:run_entry(1, { handle_signals = true })))
    local a, r = clara.run.read(ref:entries()[1].dir), clara.run.read(b:entries()[1].dir)
    for k, t in pairs(a.state_dict) do assert.is_true(torch.equal(t, r.state_dict[k]), k) end
    assert.are.equal(3, #r.history)
  end)

  it("cross-validates each entry when asked, with fold means and stds in the summary", function()
    local b = clara.battery.load(battery_file(tmpdir(), { cv = 3, broken = false }))
    b:run { only = "hidden=8,*", log = quiet }
    assert.are.same({ "done", "done", "pending", "pending" }, { b:status(1), b:status(2), b:status(3), b:status(4) })
    local rows = b:summary()
    local report = clara.run.read(b:entries()[1].dir).report
    assert.are.equal("cv", report.kind)
    assert.are.equal(report.summary.val.acc.mean, rows[1].val_acc)
    assert.are.equal(report.summary.val.acc.std, rows[1].val_acc_std)
    assert.are.equal(3, rows[1].folds)
    assert.is_true(fs.exists(fs.join(b:entries()[2].dir, "fold-3", "report.json")))
  end)
end)

describe("clara battery (command line)", function()
  it("lists entries, runs one, and explains bad command lines", function()
    local dir = tmpdir()
    local file = battery_file(dir)
    local text, rc = sh(CLARA .. " battery " .. file .. " --list")
    assert.are.equal(0, rc)
    assert.are.equal("hidden=8,lr=0.1\nhidden=8,lr=0.01\nhidden=3,lr=0.1\nhidden=3,lr=0.01\n", text)
    text, rc = sh(CLARA .. " battery " .. file .. " --entry 2 --quiet")
    assert.are.equal(0, rc, text)
    assert.is_true(fs.exists(fs.join(dir, "runs", "grid", "hidden=8,lr=0.01", "report.json")))
    text, rc = sh(CLARA .. " battery " .. file .. " --entry 3 --quiet")
    assert.are.equal(1, rc); assert.matches("entry 3 failed: .*hidden 3 is broken", text)
    for _, case in ipairs {
      { " --entry 9", 2, "--entry 9: the battery has 4 entries" },
      { " --jobs 0", 2, "--jobs expects a positive integer, got '0'" },
      { " --bogus", 2, "unknown option '--bogus'" },
      { " --entry 1 --jobs 2", 2, "does not combine" },
      { " --only nothing-matches", 1, "no entry matches 'nothing-matches'" },
    } do
      text, rc = sh(CLARA .. " battery " .. file .. case[1])
      assert.are.equal(case[2], rc, case[1] .. ": " .. text)
      assert.matches(case[3], text, 1, true)
      assert.is_nil(text:find("traceback"))
    end
    fs.write_atomic(fs.join(dir, "bad.lua"), "return clara.battery{ base = dofile(" .. ("%q"):format(file)
      .. ").base, grid = { nonsense = { 1 } } }")
    text, rc = sh(CLARA .. " battery " .. fs.join(dir, "bad.lua") .. " --list")
    assert.are.equal(1, rc)
    assert.matches("unknown setting 'nonsense'", text, 1, true)
  end)

  it("resumes after the whole battery is killed with kill -9", function()
    local dir = tmpdir()
    local file = battery_file(dir, { broken = false, checkpoint_every = 1, slow = 0.03 })
    -- its own process group, so that kill -9 reaches the children too
    sh(("setsid %s battery %s --jobs 2 --quiet > /dev/null 2>&1 & echo $! > %s/pid"):format(CLARA, file, dir))
    local entry1 = fs.join(dir, "runs", "grid", "hidden=8,lr=0.1")
    for _ = 1, 400 do
      local st = fs.exists(fs.join(entry1, "checkpoint.pt")) and torch.load(fs.join(entry1, "checkpoint.pt"))
      if st and st.step >= 4 then break end
      require("clara.process.core").sleep(0.05)
    end
    local pid = fs.read(fs.join(dir, "pid")):match("%d+")
    -- (dash's kill takes no "--": "kill -9 -- -PID" killed nothing)
    assert.is_true(os.execute("kill -9 -" .. pid))
    require("clara.process.core").sleep(0.2)
    local b = clara.battery.load(file)
    assert.are_not.equal("done", b:status(1))
    local text, rc = sh(CLARA .. " battery " .. file .. " --jobs 2 --quiet")
    assert.are.equal(0, rc, text)
    local ref = clara.battery.load(battery_file(tmpdir(), { broken = false }))
    ref:run_entry(1, {})
    local a, r = clara.run.read(ref:entries()[1].dir), clara.run.read(b:entries()[1].dir)
    for k, t in pairs(a.state_dict) do assert.is_true(torch.equal(t, r.state_dict[k]), k) end
    for i = 1, 4 do assert.are.equal("done", b:status(i)) end
  end)
end)
