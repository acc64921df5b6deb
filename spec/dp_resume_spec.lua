-- Resuming data-parallel runs: 2 ranks spawned directly (a SIGTERM to
-- one of them mid-epoch, then a resume: the uninterrupted run's weights,
-- history and final numbers, bitwise, on both ranks), and `clara launch
-- --nproc 2 run exp.lua` as a user types it (one run directory, written by
-- rank 0; a SIGTERM to the launcher checkpoints and exits 75; `--resume`
-- ends with the uninterrupted run's weights, bitwise).  Every process is
-- stopped by its PID.
local R = require "spec.helpers.dist_ranks"
local D = require "spec.helpers.dp_ranks"
local proc = require "clara.process.core"
local fs = require "clara.fs"
local tmpdir, cleanup = D.tmpdir, D.cleanup
local start, finish, ready, run = D.start, D.finish, D.ready, D.run

local EXP = "spec/helpers/dp_exp.lua"

local function launch(out, extra, env)
  local argv = { R.CLARA, "launch", "--nproc", "2", "--threads", "1", "run", EXP, "--quiet" }
  for _, a in ipairs(extra or {}) do argv[#argv + 1] = a end
  local e = { DP_OUT = out }
  for k, v in pairs(env or {}) do e[k] = v end
  return R.start(tmpdir(), { { argv = argv, env = e } })
end

local function ended(group, code)
  R.wait(group, 60)
  R.stop(group)
  local p = group.procs[1]
  assert(p.code == code, ("the launcher ended with %s:\n%s"):format(tostring(p.code), R.log(p)))
end

local function runs(out)
  local list = {}
  for name in require("lfs").dir(fs.join(out, "dp")) do
    if name:sub(1, 1) ~= "." then list[#list + 1] = fs.join(out, "dp", name) end
  end
  return list
end

local function weights(dir)
  local sd, flat = torch.load(fs.join(dir, "model.pt")), {}
  for k, t in pairs(sd) do flat[k] = t:reshape({ -1 }):totable() end
  return flat
end

describe("resuming data-parallel runs", function()
  teardown(cleanup)

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


  it("clara launch --nproc 2 run exp.lua writes one run directory; SIGTERM then --resume equals the uninterrupted run", function()
    local whole = tmpdir()
    ended(launch(whole), 0)
    assert.are.equal(1, #runs(whole))
    local out, flag = tmpdir(), tmpdir() .. "/ready"
    local group = launch(out, nil, { DP_SLOW = 0.3, DP_READY = flag })
    ready(flag, 2)
    proc.kill(group.procs[1].pid, "TERM")
    ended(group, 75)
    ended(launch(out, { "--resume" }), 0)
    local dirs = runs(out)
    assert.are.equal(1, #dirs)
    assert.are.same(weights(runs(whole)[1]), weights(dirs[1]))
  end)
end)
