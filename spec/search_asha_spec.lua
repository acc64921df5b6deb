-- A battery that searches (clara.battery.search): ASHA's jobs match a
-- schedule computed by hand on a known objective, samplers are
-- reproducible from a seed, bad search options are refused.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/search_asha_spec.lua
local A = require "clara.battery.search.asha"
local S = require "clara.battery.search.sampler"
local state = require "clara.battery.search.state"
local search_battery = dofile("spec/helpers/search_battery.lua")
local tmpdir, cleanup = dofile("spec/helpers/tmpdir.lua")
teardown(cleanup)

local Q = { type = "choice", choices = { 5, 3, 8, 1, 9, 2, 7, 4, 6 } }

local function jobs_of(b)
  local st = state.read(b)
  local s = {}
  for _, j in ipairs(st.jobs) do s[#s + 1] = ("T%d@%d"):format(j.trial, j.rung) end
  return table.concat(s, " "), st
end

local function searched(search, opts)
  local b = clara.battery.load(search_battery(tmpdir(), search, opts))
  b:run { log = function() end }
  return b
end

describe("search: ASHA", function()
  it("has rungs at min_epochs * eta^k, then max_epochs", function()
    local cfg = { scheduler = "asha", min_epochs = 1, max_epochs = 9, reduction_factor = 3 }
    assert.are.same({ 1, 3, 9 }, A.rungs(cfg, 0))
    assert.are.same({ 3, 9 }, A.rungs(cfg, 1))
    cfg.max_epochs = 10
    assert.are.same({ 1, 3, 9, 10 }, A.rungs(cfg, 0))
    assert.are.same({ 10 }, A.rungs({ max_epochs = 10, reduction_factor = 3 }, 0))
  end)

  it("promotes the top 1/eta of what each rung has reported, as computed by hand", function()
    -- val_fake = q / epoch; the grid proposes q = 5 3 8 1 9 2 7 4 6 in that order.
    -- T3 makes rung 0 hold 3 results: its best (T2, q = 3) goes up; T4 (q = 1)
    -- then leads rung 0 of 4 and goes up; T6 (q = 2) is second of 6 at rung 0
    -- (top 2) and goes up, which makes rung 1 hold 3 results: T4 to rung 2 (9
    -- epochs).  T7..T9 find nobody new in rung 0's top 3.
    local b = searched { scheduler = "asha", sampler = "grid", space = { q = Q }, min_epochs = 1, max_epochs = 9,
                         reduction_factor = 3 }
    local jobs, st = jobs_of(b)
    assert.are.equal("T1@0 T2@0 T3@0 T2@1 T4@0 T4@1 T5@0 T6@0 T6@1 T4@2 T7@0 T8@0 T9@0", jobs)
    assert.are.equal(9 + 3 * 2 + 6, st.epochs)
    local t4 = st.trials[4]
    assert.are.equal("done", t4.state)
    assert.are.same({ 1.0, 1 / 3, 1 / 9 }, t4.values)
    assert.are.equal("paused", st.trials[2].state)
    assert.are.equal(1, st.trials[2].rung)
    -- the report: the best trial, a table per rung
    local r = require("clara.battery.search.summary").rows(b)
    assert.are.equal("trial-0004", r.best.trial)
    assert.are.equal(2, r.best.rung)
    assert.are.equal(3, #r.rungs)
    assert.are.equal(9, #r.rungs[1].trials)
    assert.are.same({ "trial-0004", "trial-0006", "trial-0002" },
      { r.rungs[1].trials[1].trial, r.rungs[1].trials[2].trial, r.rungs[1].trials[3].trial })
    assert.is_true(r.rungs[1].trials[3].promoted)
    assert.is_falsy(r.rungs[1].trials[4].promoted)
    -- every trial is an entry of the battery's summary
    local rows = b:summary()
    assert.are.equal(9, #rows)
    assert.are.equal("done", rows[4].search_state)
  end)

  it("ranks the other way for mode = \"max\", and stops at the epoch budget", function()
    -- max: the largest q leads.  q = 5 3 8: T3 (8) goes up (2 epochs: 5 in all),
    -- then a new trial (1 epoch) would pass budget.epochs = 5: the search ends
    local b = searched({ scheduler = "asha", sampler = "grid", space = { q = Q }, min_epochs = 1, max_epochs = 9,
                         reduction_factor = 3, budget = { epochs = 5 } }, { mode = "max" })
    local jobs, st = jobs_of(b)
    assert.are.equal("T1@0 T2@0 T3@0 T3@1", jobs)
    assert.are.equal(5, st.epochs)
  end)

  it("hyperband: new trials go to the brackets in turn, each bracket its own ASHA", function()
    -- brackets 0 (rungs 1 3 9) and 1 (rungs 3 9), budget 6 trials:
    -- b0 gets T1 T3 T5 (q = 5 8 9), b1 gets T2 T4 T6 (q = 3 1 2); after T5,
    -- b0's rung 0 holds 3: T1 (5) goes up; after T6, b1's rung 0 (3 epochs)
    -- holds 3: T4 (1) goes to 9 epochs
    local b = searched { scheduler = "hyperband", sampler = "grid", space = { q = Q }, min_epochs = 1, max_epochs = 9,
                         reduction_factor = 3, brackets = 2, budget = { trials = 6 } }
    local jobs, st = jobs_of(b)
    assert.are.equal("T1@0 T2@0 T3@0 T4@0 T5@0 T1@1 T6@0 T4@1", jobs)
    assert.are.same({ 0, 1, 0, 1, 0, 1 }, { st.trials[1].bracket, st.trials[2].bracket, st.trials[3].bracket,
      st.trials[4].bracket, st.trials[5].bracket, st.trials[6].bracket })
    assert.are.equal(9, st.trials[4].epochs)
  end)
end)

describe("search: the budget", function()
  local cfg = { scheduler = "asha", min_epochs = 1, max_epochs = 9, reduction_factor = 3, brackets = 1, sign = 1 }
  local function st(n, running)
    local s = { started = 100, epochs = n, trials = {} }
    for i = 1, n do
      s.trials[i] = { id = i, bracket = 0, values = { i }, rung = 0, epochs = 1, state = "paused" }
    end
    if running then s.trials[n].state = "running" end
    return s
  end

  it("time: no job after budget.time seconds; the running ones are waited for, then the search ends", function()
    cfg.budget = { time = 60 }
    assert.are.same({ new = true, bracket = 0, rung = 0, epochs = 1 }, A.next(st(0), cfg, 159))
    assert.are.same({ nil, "end", "time" }, { A.next(st(0), cfg, 160) })
    assert.are.same({ nil, "wait", "time" }, { A.next(st(1, true), cfg, 160) })
  end)

  it("trials: no new trial past budget.trials, promotions still", function()
    cfg.budget = { trials = 3 }
    local job = A.next(st(3), cfg, 0)
    assert.are.equal(1, job.trial.id)
    assert.are.same({ 1, 3 }, { job.rung, job.epochs })
    local s = st(3)
    s.trials[1].rung, s.trials[1].values[2] = 1, 0.5
    assert.are.same({ nil, "end", "trials" }, { A.next(s, cfg, 0) })
  end)
end)

describe("search: samplers", function()
  local space = S.check_space("t", {
    lr = { type = "float", low = 1e-4, high = 0.1, log = true }, h = { type = "int", low = 2, high = 40 },
    d = { type = "float", low = 0, high = 0.5 }, act = { type = "choice", choices = { "relu", "tanh" } } })

  local function draws(s, n)
    local out = {}
    for i = 1, n do out[i] = s:propose({}) end
    return out
  end

  it("random: the same seed proposes the same trials, another seed others; the state resumes exactly", function()
    local a, b = draws(S.new("random", space, 7), 20), draws(S.new("random", space, 7), 20)
    assert.are.same(a, b)
    assert.are_not.same(a, draws(S.new("random", space, 8), 20))
    for _, p in ipairs(a) do
      assert.is_true(p.lr >= 1e-4 and p.lr <= 0.1 and p.d >= 0 and p.d < 0.5)
      assert.are.equal("integer", math.type(p.h))
      assert.is_true(p.h >= 2 and p.h <= 40)
    end
    -- the state through JSON (as the search saves it), then the rest
    local s = S.new("random", space, 7)
    draws(s, 5)
    local json = require "clara.run.json"
    local t = S.new("random", space, 7)
    t:set_state(json.decode(json.encode(s:state())))
    assert.are.same({ table.unpack(a, 6, 20) }, draws(t, 15))
  end)

  it("grid: every combination once, the last name fastest, then nothing", function()
    local g = S.new("grid", S.check_space("t", { a = { type = "choice", choices = { "x", "y" } },
      b = { type = "int", low = 1, high = 3 } }), 0)
    local got = {}
    for _ = 1, 7 do local p = g:propose({}); got[#got + 1] = p and (p.a .. p.b) or "nil" end
    assert.are.equal("x1 x2 x3 y1 y2 y3 nil", table.concat(got, " "))
  end)
end)

describe("search: bad options", function()
  local base = { name = "b", data = { train = { torch.zeros(4, 2), torch.zeros(4, 1) } }, hparams = { lr = 0.1 },
    model = function() return nn.Linear(2, 1) end, objective = clara.losses.mse, epochs = 3,
    optimizer = function(m, hp) return optim.SGD(m, { lr = hp.lr }) end, out_dir = false }
  local function refused(search, pattern, extra)
    local spec = { base = base, search = search }
    for k, v in pairs(extra or {}) do spec[k] = v end
    local ok, err = pcall(clara.battery, spec)
    assert.is_false(ok, pattern)
    assert.matches(pattern, tostring(err))
  end
  local LR = { lr = { type = "float", low = 0.01, high = 1 } }

  it("are refused when the battery is made, naming the option and the fix", function()
    refused({ schedular = "asha", space = LR, budget = { trials = 2 } },
      "search_asha_spec%.lua:%d+: clara%.battery: unknown search key 'schedular' %(did you mean 'scheduler'%?%)")
    refused({ scheduler = "sha", space = LR, budget = { trials = 2 } }, "scheduler must be one of 'asha', 'hyperband', got 'sha'")
    refused({ space = LR }, "a random search needs a budget")
    refused({ space = LR, budget = { trails = 2 } }, "unknown search%.budget key 'trails' %(did you mean 'trials'%?%)")
    refused({ sampler = "grid", space = LR }, "search%.space%.lr: the grid sampler needs choices or ints")
    refused({ space = { lr = { type = "float", low = 0, high = 1, log = true } }, budget = { trials = 2 } },
      "search%.space%.lr: log = true needs low > 0")
    refused({ space = { lr = { type = "float", low = 1, high = 0.1 } }, budget = { trials = 2 } }, "needs low <= high")
    refused({ space = { widht = { type = "int", low = 1, high = 4 } }, budget = { trials = 2 } }, "search%.space: .*widht")
    refused({ scheduler = "asha", space = LR, budget = { trials = 2 }, min_epochs = 5 },
      "search%.min_epochs %(5%) must be <= max_epochs %(3%)")
    refused({ scheduler = "hyperband", space = LR, budget = { trials = 2 }, brackets = 4 }, "allow 2")
    refused({ space = LR, budget = { trials = 2 } }, "does not combine with grid", { grid = { lr = { 0.1 } } })
    refused({ space = {}, budget = { trials = 2 } }, "search%.space must be a non%-empty table")
  end)
end)
