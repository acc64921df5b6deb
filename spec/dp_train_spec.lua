-- Data-parallel experiments with real processes (spec/helpers/dp_rank.lua,
-- ranks spawned directly over env://, killed by PID when done): a world of
-- 1 is bitwise a run without a group; 2 ranks of batch b match 1 process
-- of batch 2b (float32 sums in another order: rtol 1e-5 on weights and
-- losses, metrics and confusion matrices exactly, being counts over the
-- same samples) and end with bitwise equal weights; the fast twin equals
-- the clear loop bitwise; a stop on one rank (a hook, a signal) stops
-- every rank at the same step; a killed rank ends the job with a message,
-- whether gradients travel through shared memory or Gloo.
-- (Resuming: spec/dp_resume_spec.lua.)
local R = require "spec.helpers.dist_ranks"
local proc = require "clara.process.core"

local D = require "spec.helpers.dp_ranks"
local start, finish, ready, run = D.start, D.finish, D.ready, D.run

-- the transport each rank's gradients took, taken out of its results
local function transports(out)
  local t = {}
  for i, res in ipairs(out) do t[i], res.transport = res.transport, nil end
  return t
end

local function near(a, b, what)
  local scale = math.max(math.abs(a), math.abs(b))
  assert(math.abs(a - b) <= 1e-5 * scale + 1e-6, ("%s: %.9g vs %.9g"):format(what, a, b))
end

describe("data-parallel experiments", function()
  teardown(D.cleanup)

  it("world size 1 is bitwise a run without a process group", function()
    local alone = run(0, {})[1]
    local one = run(1, {})[1]
    assert.is_nil(alone.transport)
    assert.are.same({ "gloo" }, transports({ one }))   -- a world of one: nothing to share
    assert.are.same(alone, one)
    -- distributed = true brings the group up from env:// itself
    local own = run(1, { DP_GROUP = "0", DP_DISTRIBUTED = "1" })[1]
    transports({ own })
    assert.are.same(alone, own)
  end)

  -- 2 ranks' results against 1 process's over the same samples per step
  local function equivalent(single, two)
    assert.are.same(two[1], two[2])
    local a, b = single, two[1]
    for k, w in pairs(a.weights) do
      for i, v in ipairs(w) do near(v, b.weights[k][i], k .. "[" .. i .. "]") end
    end
    assert.are.equal(a.steps, b.steps)
    for e, row in ipairs(a.history) do
      for k, v in pairs(row) do
        if k:find("loss") then near(v, b.history[e][k], k) else assert.are.same(v, b.history[e][k], k) end
      end
    end
    for split, t in pairs(a.final) do
      for k, v in pairs(t) do
        if k:find("loss") then near(v, b.final[split][k], k) else assert.are.same(v, b.final[split][k], k) end
      end
    end
    assert.are.same(a.confusion, b.confusion)
  end

  it("2 ranks of batch 8 match 1 process of batch 16; both ranks end bitwise equal", function()
    local two = run(2, { DP_BATCH = 8 })
    equivalent(run(0, { DP_BATCH = 16 })[1], two)
    -- shared memory (the default on one host) and Gloo sum two ranks alike
    local gloo = run(2, { DP_BATCH = 8, DP_TRANSPORT = "gloo" })
    assert.are.same({ "shm", "shm" }, transports(two))
    assert.are.same({ "gloo", "gloo" }, transports(gloo))
    assert.are.same(two, gloo)
  end)

  it("with accumulate: 2 ranks of 2 x 4 match 1 process of 2 x 8", function()
    equivalent(run(0, { DP_BATCH = 8, DP_ACCUMULATE = 2 })[1], run(2, { DP_BATCH = 4, DP_ACCUMULATE = 2 }))
  end)

  it("the fast twin data-parallel equals the clear loop data-parallel, bitwise", function()
    local clear = run(2, { DP_BATCH = 8, DP_DROPOUT = "1", DP_FINAL_TRAIN = "1" })
    local fast = run(2, { DP_BATCH = 8, DP_DROPOUT = "1", DP_FINAL_TRAIN = "1", DP_IMPL = "fast" })
    assert.is_number(clear[1].final.train.acc)
    assert.is_true(fast[1].fused.fused > 0, "the fused step ran")
    fast[1].fused, fast[2].fused = nil, nil
    assert.are.same(clear[1], fast[1])
    assert.are.same(clear[2], fast[2])
    assert.are.same(fast[1], fast[2])
  end)

  it("a hook's ctx.stop on one rank stops every rank at that step; max_steps too", function()
    local out = run(2, { DP_STOP_AT = 3, DP_STOP_RANK = 1 })
    for _, res in ipairs(out) do
      assert.are.equal(3, res.steps)
      assert.are.equal("hook", res.stopped)
    end
    assert.are.same(out[1].weights, out[2].weights)
    -- one rank skipping a non-finite batch still steps with the others
    out = run(2, { DP_MAX_STEPS = 5, DP_NAN = "1" })
    for _, res in ipairs(out) do assert.are.equal(5, res.steps) end
    assert.are.equal(1, out[1].skipped + out[2].skipped)
    assert.are.same(out[1].weights, out[2].weights)
  end)

  it("a signal to one rank stops every rank at the same step", function()
    local flag = D.tmpdir() .. "/ready"
    local group = start(2, { DP_SIGNALS = "1", DP_SLOW = 0.1, DP_EPOCHS = 50, DP_READY = flag })
    ready(flag, 2)
    proc.kill(group.procs[2].pid, "USR1")
    local out = finish(group, 60, 75)
    assert.are.equal("USR1", out[1].interrupted)
    assert.are.equal("USR1", out[2].interrupted)
    assert.are.equal(out[1].steps, out[2].steps)
    assert.are.same(out[1].weights, out[2].weights)
  end)

  for _, transport in ipairs { "shm", "gloo" } do
  it("a killed rank ends the job within the timeout, naming it (" .. transport .. ")", function()
    local flag = D.tmpdir() .. "/ready"
    local group = start(2, { DP_SLOW = 0.1, DP_EPOCHS = 50, DP_READY = flag, DP_TIMEOUT = 8,
                             DP_TRANSPORT = transport })
    ready(flag, 2)
    R.kill(group, 2)
    R.wait(group, 8 + 10)
    local p = group.procs[1]
    R.stop(group)
    assert.is_truthy(p.code and p.code ~= 0 and not p.killed, "rank 0 ended by itself: " .. tostring(p.code))
    assert.is_truthy(p.at < 8 + 2 + 8, "within the timeout")
    assert.is_truthy(R.log(p):find("rank 1 did not take part", 1, true), R.log(p))
  end)
  end
end)
