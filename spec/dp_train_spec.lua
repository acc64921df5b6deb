-- Data-parallel experiments with real processes (spec/helpers/dp_rank.lua,
-- ranks spawned directly over env://, killed by PID when done): a world of
-- 1 is bitwise a run without a group; 2 ranks of batch b match 1 process
-- of batch 2b (float32 sums in another order: rtol 1e-5 on weights and
-- losses, metrics and confusion matrices exactly, being counts over the
-- same samples) and end with bitwise equal weights; the fast twin equals
-- the clear loop bitwise; a stop on one rank (a hook, a signal) stops
-- every rank at the same step; a killed rank ends the job with a message.
local R = require "spec.helpers.dist_ranks"
local proc = require "clara.process.core"
local tmpdir, cleanup = dofile("spec/helpers/tmpdir.lua")

local RANK = "spec/helpers/dp_rank.lua"

-- start world ranks (world 0: one process without a group); env: extra
-- variables for every rank (a function of the rank, or a table)
local function start(world, env)
  local dir, port, ranks = tmpdir(), R.port(), {}
  for r = 0, math.max(world, 1) - 1 do
    local e = {}
    for k, v in pairs(type(env) == "function" and env(r) or env or {}) do e[k] = v end
    if world > 0 then
      e.DP_GROUP, e.RANK, e.WORLD_SIZE = e.DP_GROUP or "1", r, world
      e.MASTER_ADDR, e.MASTER_PORT, e.LOCAL_RANK = "127.0.0.1", port, r
    end
    e.OMP_NUM_THREADS = 1
    ranks[#ranks + 1] = { env = e, argv = { R.CLARA, RANK } }
  end
  return R.start(dir, ranks)
end

-- every rank's results, after they all ended with `code` (default 0)
local function finish(group, limit, code)
  local ok, err = pcall(R.wait, group, limit or 60)
  R.stop(group)
  assert(ok, err)
  local out = {}
  for i, p in ipairs(group.procs) do
    local res = R.results(p)
    assert(p.code == (code or 0) and res, ("rank %d ended with %s:\n%s"):format(i - 1, tostring(p.code), R.log(p)))
    res.rank = nil
    out[i] = res
  end
  return out
end

-- wait until every rank is in its training loop (dp_rank.lua's DP_READY)
local function ready(path, world)
  local fs = require "clara.fs"
  for _ = 1, 600 do
    local all = true
    for r = 0, world - 1 do all = all and fs.exists(path .. "." .. r) end
    if all then return end
    proc.sleep(0.05)
  end
  error("the ranks never reached their second step")
end

local function run(world, env, limit, code) return finish(start(world, env), limit, code) end

local function near(a, b, what)
  local scale = math.max(math.abs(a), math.abs(b))
  assert(math.abs(a - b) <= 1e-5 * scale + 1e-6, ("%s: %.9g vs %.9g"):format(what, a, b))
end

describe("data-parallel experiments", function()
  teardown(cleanup)

  it("world size 1 is bitwise a run without a process group", function()
    local alone = run(0, {})[1]
    local one = run(1, {})[1]
    assert.are.same(alone, one)
    -- distributed = true brings the group up from env:// itself
    local own = run(1, { DP_GROUP = "0", DP_DISTRIBUTED = "1" })[1]
    assert.are.same(alone, own)
  end)

  it("2 ranks of batch 8 match 1 process of batch 16; both ranks end bitwise equal", function()
    local two = run(2, { DP_BATCH = 8 })
    assert.are.same(two[1], two[2])
    local single = run(0, { DP_BATCH = 16 })[1]
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
  end)

  it("the fast twin data-parallel equals the clear loop data-parallel, bitwise", function()
    local clear = run(2, { DP_BATCH = 8, DP_DROPOUT = "1" })
    local fast = run(2, { DP_BATCH = 8, DP_DROPOUT = "1", DP_IMPL = "fast" })
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
    out = run(2, { DP_MAX_STEPS = 5 })
    for _, res in ipairs(out) do assert.are.equal(5, res.steps) end
  end)

  it("a signal to one rank stops every rank at the same step", function()
    local flag = tmpdir() .. "/ready"
    local group = start(2, { DP_SIGNALS = "1", DP_SLOW = 0.1, DP_EPOCHS = 50, DP_READY = flag })
    ready(flag, 2)
    proc.kill(group.procs[2].pid, "USR1")
    local out = finish(group, 60, 75)
    assert.are.equal("USR1", out[1].interrupted)
    assert.are.equal("USR1", out[2].interrupted)
    assert.are.equal(out[1].steps, out[2].steps)
    assert.are.same(out[1].weights, out[2].weights)
  end)

  it("resumed after SIGTERM to one rank mid-epoch, a 2-rank run equals the uninterrupted one bitwise", function()
    local base = { DP_DROPOUT = "1", DP_EPOCHS = 3, DP_SIGNALS = "1" }
    local function with(t)
      local e = {}
      for k, v in pairs(base) do e[k] = v end
      for k, v in pairs(t) do e[k] = v end
      return e
    end
    local whole = run(2, with { DP_DIR = tmpdir() .. "/run" })
    local dir, flag = tmpdir() .. "/run", tmpdir() .. "/ready"
    local group = start(2, with { DP_DIR = dir, DP_SLOW = 0.3, DP_READY = flag })
    ready(flag, 2)
    proc.kill(group.procs[2].pid, "TERM")
    local cut = finish(group, 60, 75)
    assert.are.equal("TERM", cut[1].interrupted)
    assert.is_true(cut[1].steps < 12 and cut[1].steps % 4 ~= 0, "cut mid-epoch at step " .. cut[1].steps)
    local resumed = run(2, with { DP_DIR = dir, DP_RESUME = "1" })
    for i = 1, 2 do
      assert.are.same(whole[i].weights, resumed[i].weights)
      assert.are.same(whole[i].history, resumed[i].history)
      assert.are.same(whole[i].final, resumed[i].final)
    end
  end)

  it("a killed rank ends the job within the timeout, naming it", function()
    local flag = tmpdir() .. "/ready"
    local group = start(2, { DP_SLOW = 0.1, DP_EPOCHS = 50, DP_READY = flag, DP_TIMEOUT = 8 })
    ready(flag, 2)
    R.kill(group, 2)
    R.wait(group, 8 + 10)
    local p = group.procs[1]
    R.stop(group)
    assert.is_truthy(p.code and p.code ~= 0 and not p.killed, "rank 0 ended by itself: " .. tostring(p.code))
    assert.is_truthy(p.at < 8 + 2 + 8, "within the timeout")
    assert.is_truthy(R.log(p):find("rank 1 did not take part", 1, true), R.log(p))
  end)
end)
