-- The checkpoint policy (clara.train.keep): checkpoints = {save_top_k =,
-- save_last =, save_on_error =} keeps per-epoch checkpoints of the best and
-- the last epochs, survives a process killed between any two writes, and
-- resumes from a kept file; save_on_error (clara.train.boundary) leaves the
-- checkpoint of the last step boundary before an error, from which a
-- resume ends bitwise on the weights of a run that never failed.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/checkpoint_policy_spec.lua
local fs = require "clara.fs"
local json = require "clara.run.json"
local keep = require "clara.train.keep"
local F = require "spec.helpers.fault"
local runs = require "spec.helpers.runs"

local tmpdir, cleanup = F.tmpdir, F.cleanup
teardown(function() fs.on_write = nil; cleanup() end)

local function experiment(over)
  local t = dofile("spec/helpers/resume_experiment.lua")
  for k, v in pairs(over or {}) do t[k] = v end
  return clara.experiment(t)
end

local assert_same_weights = dofile("spec/helpers/same_weights.lua")

local function assert_same_history(a, b, what)
  assert.are.equal(#a, #b, what .. ": history length")
  for e = 1, #a do
    for key, v in pairs(a[e]) do
      if key ~= "time" and key ~= "changes" then
        assert.are.equal(v, b[e][key], ("%s: epoch %d %s"):format(what, e, key))
      end
    end
  end
end

local function read_json(path) return json.decode(assert(fs.read(path), path)) end

-- the epochs whose files are in <dir>/checkpoints, sorted; and whether a
-- temporary is left there
local function files(dir)
  local out, temps = {}, 0
  local d = fs.join(dir, "checkpoints")
  if fs.isdir(d) then
    for name in require("lfs").dir(d) do
      local e = name:match("^epoch%-(%d+)%.pt$")
      if e then out[#out + 1] = tonumber(e) elseif name:find(fs.TEMP_MARK, 1, true) then temps = temps + 1 end
    end
  end
  table.sort(out)
  return out, temps
end

local function kept_epochs(list)
  local out = {}
  for i, e in ipairs(list) do out[i] = e.epoch end
  return out
end

describe("the kept set (keep.kept)", function()
  local function kept(values, policy, mode)
    local entries = {}
    for e, v in ipairs(values) do entries[e] = { epoch = e, value = v } end
    return kept_epochs(keep.kept(entries, keep.policy(policy), mode or "min"))
  end
  it("keeps the k best by mode and the k last, earlier epochs winning ties, NaN last", function()
    local v = { 0.5, 0.3, 0.4, 0.3, 0.9, 0 / 0 }
    assert.are.same({ 2, 4 }, kept(v, { save_top_k = 2 }))
    assert.are.same({ 2 }, kept({ 0.5, 0.3, 0.4, 0.3 }, { save_top_k = 1 }))
    assert.are.same({ 2, 5, 6 }, kept(v, { save_top_k = 1, save_last = 2 }))
    assert.are.same({ 1, 5 }, kept(v, { save_top_k = 2 }, "max"))
    assert.are.same({ 1, 2, 3, 4, 5, 6 }, kept(v, { save_top_k = -1 }))
    assert.are.same({}, kept(v, {}))
    assert.are.same({ 4 }, kept({ 0 / 0, 0 / 0, 0 / 0, 1 }, { save_top_k = 1 }))
    assert.are.same({ 1 }, kept({ 0 / 0, 0 / 0 }, { save_top_k = 1 }))
  end)
end)

describe("checkpoints = {save_top_k =, save_last =}", function()
  local reference, ref_dir
  setup(function()
    reference = experiment { out_dir = tmpdir(), epochs = 5 }:run()
  end)

  local function policy_run(policy, out)
    return experiment { out_dir = out or tmpdir(), epochs = 5, checkpoints = policy }:run()
  end

  it("keeps the policy's epochs, each a whole checkpoint, and records them with their values", function()
    local r = policy_run { save_top_k = 2, save_last = 1 }
    ref_dir = r.dir
    assert_same_weights(r.model, reference.model, "a run with a policy")
    -- the expected set, from the history
    local entries = {}
    for i, row in ipairs(r.history) do entries[i] = { epoch = row.epoch, value = row.val_loss } end
    local want = kept_epochs(keep.kept(entries, keep.policy { save_top_k = 2, save_last = 1 }, "min"))
    assert.is_true(#want >= 2)
    local got, temps = files(r.dir)
    assert.are.same(want, got); assert.are.equal(0, temps)
    assert.are.same(want, kept_epochs(r.checkpoints))
    local index = read_json(fs.join(r.dir, "checkpoints.json"))
    assert.are.same(want, kept_epochs(index.kept))
    assert.are.equal("val_loss", index.monitor); assert.are.equal("min", index.mode)
    for _, e in ipairs(index.kept) do
      assert.are.equal(r.history[e.epoch].val_loss, e.value)
      assert.are.equal(("checkpoints/epoch-%04d.pt"):format(e.epoch), e.file)
      local st = torch.load(fs.join(r.dir, e.file))
      assert.are.equal(e.epoch, st.epoch); assert.is_true(st.epoch_done)
    end
    assert.are.same(want, kept_epochs(read_json(fs.join(r.dir, "report.json")).checkpoints))
    local md = fs.read(fs.join(r.dir, "report.md"))
    assert.matches("## Kept checkpoints", md, 1, true)
    for _, e in ipairs(want) do assert.matches(("| %d | "):format(e), md, 1, true) end
    assert.is_true(clara.run.is_done(r.dir))
  end)

  it("follows mode = 'max' and save_top_k = -1", function()
    local r = experiment { out_dir = tmpdir(), epochs = 3, monitor = "val_acc", checkpoints = { save_top_k = 1 } }:run()
    local best, at = -1, nil
    for _, row in ipairs(r.history) do if row.val_acc > best then best, at = row.val_acc, row.epoch end end
    assert.are.same({ at }, (files(r.dir)))
    local all = experiment { out_dir = tmpdir(), epochs = 3, checkpoints = { save_top_k = -1 } }:run()
    assert.are.same({ 1, 2, 3 }, (files(all.dir)))
  end)

  it("writes no per-epoch checkpoints without a policy", function()
    assert.are.same({}, (files(reference.dir)))
    assert.is_false(fs.exists(fs.join(reference.dir, "checkpoints.json")))
    assert.is_nil(reference.checkpoints)
  end)

  it("resumes from a kept checkpoint into a new run, the source untouched, to the same weights", function()
    local r = policy_run({ save_last = 5 })
    local before = F.snapshot(r.dir)
    local from = fs.join(r.dir, "checkpoints", "epoch-0002.pt")
    local r2 = experiment { out_dir = fs.dirname(fs.dirname(r.dir)) }:run { resume = from }
    assert.are_not.equal(r.dir, r2.dir)
    assert_same_weights(r2.model, reference.model, "resumed from epoch 2")
    assert_same_history(reference.history, r2.history, "resumed from epoch 2")
    local after = F.snapshot(r.dir)
    after[".lock"], before[".lock"] = nil, nil
    assert.are.same(before, after)
    local cfg = read_json(fs.join(r2.dir, "config.json"))
    assert.are.equal(from, cfg.resumed_from)
    assert.are.equal(r2.dir:match("[^/]+$"), cfg.run_id)
    assert.are.same({ 1, 2, 3, 4, 5 }, F.epochs(r2.dir))
    -- the new run keeps from the epoch it resumed on
    assert.are.same({ 2, 3, 4, 5 }, (files(r2.dir)))
    -- a kept file resumes from inside its run directory's checkpoints/ too, by a path
    local cli = F.clara(("run spec/helpers/resume_experiment.lua --quiet --out %s --resume=%s")
      :format(tmpdir(), fs.join(r.dir, "checkpoints", "epoch-0004.pt")))
    assert.are.equal("", cli)
  end)

  it("survives an interruption after any write: the listed files always exist, a resume settles the rest", function()
    local policy = { save_top_k = 2, save_last = 1 }
    local want = kept_epochs(policy_run(policy).checkpoints)
    -- the writes of a whole run, counted
    local writes = 0
    fs.on_write = function() writes = writes + 1 end
    policy_run(policy)
    fs.on_write = nil
    assert.is_true(writes > 20)
    for n = 1, writes - 1 do
      local out = tmpdir()
      local count = 0
      fs.on_write = function()
        count = count + 1
        if count == n then error("interrupted after write " .. n, 0) end
      end
      local ok = pcall(policy_run, { save_top_k = 2, save_last = 1, save_on_error = false }, out)
      fs.on_write = nil
      assert.is_false(ok)
      local dir = runs(fs.join(out, "resume_mlp"))[1]
      -- what checkpoints.json lists is on disk at the moment of the interruption
      if fs.exists(fs.join(dir, "checkpoints.json")) then
        for _, e in ipairs(read_json(fs.join(dir, "checkpoints.json")).kept) do
          assert.is_true(fs.exists(fs.join(dir, e.file)), ("write %d: %s listed but missing"):format(n, e.file))
        end
      end
      -- a killed writer's temporary, never taken as a checkpoint
      if fs.isdir(fs.join(dir, "checkpoints")) then
        fs.write_atomic(fs.join(dir, "checkpoints", "epoch-0009.pt.tmp-999999-abcdef"), "partial")
      end
      if fs.exists(fs.join(dir, "checkpoint.pt")) then
        local r = experiment { out_dir = out, epochs = 5, checkpoints = policy }:run { resume = dir }
        assert.are.same(want, kept_epochs(r.checkpoints), "write " .. n)
        local got, temps = files(dir)
        assert.are.same(want, got, "write " .. n); assert.are.equal(0, temps, "write " .. n)
        assert_same_weights(r.model, reference.model, "write " .. n)
      end
    end
  end)

  it("survives kill -9 between a kept file and the deletions (a real process)", function()
    local dir = tmpdir()
    local script = fs.join(dir, "exp.lua")
    fs.write_atomic(script, ([[
local t = dofile("spec/helpers/resume_experiment.lua")
t.out_dir, t.epochs, t.checkpoints = %q, 4, { save_top_k = 1 }
local limit, n = tonumber(os.getenv("KILL_AT_INDEX") or ""), 0
require("clara.fs").on_write = function(path)
  if limit and path:match("checkpoints%%.json$") then
    n = n + 1
    if n == limit then require("clara.process.core").kill(require("clara.signal").getpid(), "KILL") end
  end
end
return t
]]):format(fs.join(dir, "runs")))
    -- the 3rd index write, before the deletions it allows: two files on disk
    local _, rc = F.clara("run --quiet " .. script, { KILL_AT_INDEX = 3 })
    assert.are_not.equal(0, rc)
    local run_dir = runs(fs.join(dir, "runs", "resume_mlp"))[1]
    assert.is_true(#files(run_dir) >= 1)
    local out, rc2 = F.clara("run --quiet " .. script .. " --resume")
    assert.are.equal(0, rc2, out)
    local r = read_json(fs.join(run_dir, "report.json"))
    assert.are.same(kept_epochs(r.checkpoints), (files(run_dir)))
    assert.are.equal(1, #r.checkpoints)
  end)
end)

-- {====================== save on error ======================

-- once(k, fn): a function raising "boom" the k-th time it is called (then never)
local function once(k, msg)
  local n = 0
  return function()
    n = n + 1
    if n == k then error(msg or "boom", 0) end
  end
end

describe("save_on_error", function()
  local reference
  setup(function() reference = experiment { out_dir = tmpdir() }:run() end)

  -- the run with `over` fails; its error.txt says what became of the
  -- checkpoint; a resume with `fixed` ends on the reference's weights
  local function fail_and_resume(over, fixed, ref, note, message)
    local out = tmpdir()
    local spec = { out_dir = out }
    for k, v in pairs(over) do spec[k] = v end
    local ok, err = pcall(function() experiment(spec):run() end)
    assert.is_false(ok)
    assert.matches(message or "boom", tostring(err))
    local dir = runs(fs.join(out, "resume_mlp"))[1]
    local text = fs.read(fs.join(dir, "error.txt"))
    assert.matches(message or "boom", text:match("^[^\n]*"))
    assert.matches(note, text, 1, true)
    local resumed = {}
    for k, v in pairs(spec) do resumed[k] = v end
    for k, v in pairs(fixed or {}) do resumed[k] = v end
    for k in pairs(over) do if fixed == nil or fixed[k] == nil then resumed[k] = nil end end
    local r = experiment(resumed):run { resume = dir }
    assert_same_weights(r.model, (ref or reference).model, note)
    assert_same_history((ref or reference).history, r.history, note)
    assert.are.same((ref or reference).confusion, r.confusion)
    assert.are.same((ref or reference).best, r.best)
    -- the final checkpoints agree on the judgement too (patience's count)
    local a, b = torch.load(fs.join((ref or reference).dir, "checkpoint.pt")), torch.load(fs.join(dir, "checkpoint.pt"))
    assert.are.same({ a.step, a.bad_epochs, a.best }, { b.step, b.bad_epochs, b.best }, note)
    return text
  end

  local SAVED = "the last step boundary before the error"

  it("saves the boundary when a hook raises at a step's end, a batch's start or end (steps 1..36)", function()
    for _, k in ipairs { 1, 5, 12, 13, 36 } do
      fail_and_resume({ hooks = { on_step_end = function(ctx) if ctx.step == k then error("boom", 0) end end } },
        nil, nil, SAVED)
    end
    for _, k in ipairs { 2, 12, 13, 30 } do
      fail_and_resume({ hooks = { on_batch_start = once(k) } }, nil, nil, SAVED)
      fail_and_resume({ hooks = { on_batch_end = once(k) } }, nil, nil, SAVED)
    end
  end)

  it("saves the boundary when the data, the model or the loss fails mid-step", function()
    local pre = once(7)
    fail_and_resume({ preprocess = function(x) pre(); return x end }, nil, nil, SAVED)
    -- a dataset whose get(i) raises once, while a batch is assembled
    local data = dofile("spec/helpers/resume_experiment.lua").data
    local function flaky(raise)
      local ds = data.train
      return setmetatable({ get = function(_, i) if raise then raise() end; return ds:get(i) end },
        { __len = function() return #ds end })
    end
    local ref = experiment { out_dir = tmpdir(), data = { train = flaky(), val = data.val } }:run()
    fail_and_resume({ data = { train = flaky(once(150)), val = data.val } },
      { data = { train = flaky(), val = data.val } }, ref, SAVED)
    -- the model raises after its forward pass (dropout has drawn numbers,
    -- batch normalization and a Lua module's buffer have moved)
    local factory = dofile("spec/helpers/resume_experiment.lua").model
    local Wrap = nn.Module:extend("Wrap")
    function Wrap:init(hp, raise)
      self.net, self.bn, self.raise = factory(hp), nn.BatchNorm1d(2), raise
      self:register_buffer("count", torch.zeros(1))
    end
    function Wrap:forward(x)
      local y = self.bn(self.net(x))
      if self.training then
        torch.no_grad(function() self.count:add_(1) end)
        if self.raise then self.raise() end
      end
      return y
    end
    local ref = experiment { out_dir = tmpdir(), model = function(hp) return Wrap(hp) end }:run()
    local raise = once(17)
    fail_and_resume({ model = function(hp) return Wrap(hp, raise) end },
      { model = function(hp) return Wrap(hp) end }, ref, SAVED)
    -- a module that replaces its buffer: the boundary's copy is not the
    -- model's any more, so nothing is saved (and it says so)
    local Swap = nn.Module:extend("Swap")
    function Swap:init(hp, raise) self.net, self.raise = factory(hp), raise; self:register_buffer("count", torch.zeros(1)) end
    function Swap:forward(x)
      if self.training then self.count = self.count + 1; if self.raise then self.raise() end end
      return self.net(x)
    end
    local swap_ref = experiment { out_dir = tmpdir(), model = function(hp) return Swap(hp) end }:run()
    raise = once(17)
    fail_and_resume({ model = function(hp) return Swap(hp, raise) end },
      { model = function(hp) return Swap(hp) end }, swap_ref, "buffer 'count' was replaced rather than updated in place")
    -- a non-finite loss stops the run
    local n, k = 0, 20
    fail_and_resume({ objective = function(out, y)
      n = n + 1
      local l = clara.losses.cross_entropy(out, y)
      if n == k then return l * (0 / 0) end
      return l
    end }, { objective = clara.losses.cross_entropy }, nil, SAVED, "non%-finite loss")
  end)

  it("saves the last step boundary when an epoch's end fails (validation, its hooks)", function()
    for _, k in ipairs { 1, 2 } do
      fail_and_resume({ hooks = { on_validation_end = once(k) } }, nil, nil, SAVED)
      fail_and_resume({ hooks = { on_epoch_end = once(k) } }, nil, nil, SAVED)
    end
    -- the judgement is redone from the boundary's: not an epoch without
    -- improvement (patience = 1 would stop the resumed run)
    local ref = experiment { out_dir = tmpdir(), patience = 1 }:run()
    assert.are.equal(3, #ref.history)
    fail_and_resume({ patience = 1, hooks = { on_epoch_end = once(1) } }, nil, ref, SAVED)
    fail_and_resume({ hooks = { on_epoch_start = once(3) } }, nil, nil, "checkpoint.pt holds the last step boundary")
  end)

  it("with accumulation: the error after the first micro-batch of a step", function()
    local ref = experiment { out_dir = tmpdir(), accumulate = 2 }:run()
    fail_and_resume({ accumulate = 2, hooks = { on_batch_end = once(9) } }, nil, ref, SAVED)
  end)

  it("the fast twin saves the same boundary", function()
    local ref = experiment { out_dir = tmpdir(), impl = "fast" }:run()
    fail_and_resume({ impl = "fast", hooks = { on_step_end = function(ctx) if ctx.step == 7 then error("boom", 0) end end } },
      nil, ref, SAVED)
    fail_and_resume({ impl = "fast", hooks = { on_batch_start = once(20) } }, nil, ref, SAVED)
  end)

  it("writes nothing when the error comes while the step is applied (the weights half-updated)", function()
    local ref = experiment { out_dir = tmpdir(), scheduler_step = "batch" }:run()
    local fail = once(15)
    local function scheduler(o)
      local s = optim.lr_scheduler.StepLR(o, { step_size = 1, gamma = 0.7 })
      return setmetatable({ step = function(_) fail(); return s:step() end,
        state_dict = function() return s:state_dict() end,
        load_state_dict = function(_, sd) return s:load_state_dict(sd) end }, { __index = s })
    end
    local text = fail_and_resume({ scheduler_step = "batch", scheduler = scheduler },
      { scheduler = function(o) return optim.lr_scheduler.StepLR(o, { step_size = 1, gamma = 0.7 }) end }, ref,
      "while step 15 was applied")
    assert.matches("checkpoint.pt is the last one written (step 12)", text, 1, true)
  end)

  it("is off with save_on_error = false: checkpoint.pt stays the last one written", function()
    local out = tmpdir()
    local exp = experiment { out_dir = out, checkpoints = { save_on_error = false },
      hooks = { on_step_end = function(ctx) if ctx.step == 20 then error("boom", 0) end end } }
    assert.is_false(pcall(function() exp:run() end))
    local dir = runs(fs.join(out, "resume_mlp"))[1]
    assert.are.equal(12, torch.load(fs.join(dir, "checkpoint.pt")).step)
  end)
end)

-- }================================================================

describe("bad calls", function()
  local function fails(over, pattern, opts)
    local ok, err = pcall(function() experiment(over):run(opts) end)
    assert.is_false(ok)
    assert.matches(pattern, tostring(err), 1, true)
    assert.matches("checkpoint_policy_spec.lua:%d+:", tostring(err))
  end
  it("names the option, the key and what it must be", function()
    fails({ checkpoints = { save_top_k = "3" } }, "clara.experiment: checkpoints save_top_k must be an integer")
    fails({ checkpoints = { save_top_k = -2 } }, "checkpoints save_top_k must be >= -1, got -2")
    fails({ checkpoints = { save_last = 1.5 } }, "checkpoints save_last must be an integer")
    fails({ checkpoints = { keep_last = 2 } }, "checkpoints has no key 'keep_last' (keys: save_on_error, save_last, save_top_k)")
    fails({ checkpoints = { save_lats = 2 } }, "checkpoints has no key 'save_lats' (did you mean 'save_last'?)")
    fails({ checkpoints = { save_on_error = "yes" } }, "checkpoints save_on_error must be a boolean")
    fails({ checkpoints = 3 }, "clara.experiment: checkpoints must be a table {save_top_k =, save_last =, save_on_error =}, got 3")
  end)
  it("says what is wrong with a resume from a file", function()
    local dir = tmpdir()
    fs.write_atomic(fs.join(dir, "x.pt"), "not a checkpoint")
    fails({ out_dir = dir }, "is not in a run directory", { resume = fs.join(dir, "x.pt") })
    local r = experiment { out_dir = tmpdir(), epochs = 1 }:run()
    fails({ out_dir = dir }, "not a checkpoint written by clara.train.checkpoint", { resume = fs.join(r.dir, "model.pt") })
    fs.write_atomic(fs.join(r.dir, "bad.pt"), "not a checkpoint")
    fails({ out_dir = dir }, "resume: cannot read the checkpoint", { resume = fs.join(r.dir, "bad.pt") })
  end)
end)
