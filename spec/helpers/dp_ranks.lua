-- Ranks of a data-parallel experiment for the dp specs (not a spec): each
-- is `clara spec/helpers/dp_rank.lua` with its environment (env://), its
-- results read back; every process killed by its PID when done.
--   local D = require "spec.helpers.dp_ranks"
--   local out = D.run(2, {DP_BATCH = 8})     -- every rank's results
--   local g = D.start(2, env); D.ready(flag, 2); ...; D.finish(g, 60, 75)
local R = require "spec.helpers.dist_ranks"
local proc = require "clara.process.core"
local tmpdir, cleanup = dofile("spec/helpers/tmpdir.lua")

local M = { tmpdir = tmpdir, cleanup = cleanup }

local RANK = "spec/helpers/dp_rank.lua"

-- start world ranks (world 0: one process without a group); env: extra
-- variables for every rank (a function of the rank, or a table)
function M.start(world, env)
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
function M.finish(group, limit, code)
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
function M.ready(path, world)
  local fs = require "clara.fs"
  for _ = 1, 600 do
    local all = true
    for r = 0, world - 1 do all = all and fs.exists(path .. "." .. r) end
    if all then return end
    proc.sleep(0.05)
  end
  error("the ranks never reached their second step")
end

function M.run(world, env, limit, code) return M.finish(M.start(world, env), limit, code) end

return M
