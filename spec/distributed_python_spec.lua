-- Differential: clara ranks and Debian's PyTorch 1.13 ranks (same Gloo) in
-- ONE process group, doing the same collectives.  Every rank must end with
-- bitwise the same results (Gloo reduces in one order for all of them),
-- and the sums must match the analytic ones to 1e-12 (float64 sines).
-- Skipped, with the reason printed, where python3-torch is missing.
local cjson = require "cjson"
local R = require "spec.helpers.dist_ranks"
local sh = require("spec.helpers.shell").sh
local tmpdir, cleanup = dofile("spec/helpers/tmpdir.lua")

local PYTHON = "/usr/bin/python3"
local probe, rc = sh(PYTHON .. " -c 'import torch.distributed as d; assert d.is_available()'")
local missing = rc ~= 0 and ("python3-torch with torch.distributed is not usable here: " .. probe) or nil

-- langs: "lua" or "py" per rank (0-based order); env(rank) -> environment
local function run(langs, env)
  local dir = tmpdir()
  local ranks = {}
  for i, lang in ipairs(langs) do
    local e = env(i - 1, dir)
    e.DIST_SCENARIO = "mixed"
    ranks[i] = { env = e, argv = lang == "py" and { PYTHON, "spec/helpers/dist_rank.py" } or nil }
  end
  local group = R.start(dir, ranks)
  local ok, err = pcall(R.wait, group, 90)
  R.stop(group)
  assert(ok, err)
  -- a failed rank's message, with every rank's output (the cause may be another's)
  local function logs()
    local parts = {}
    for i, lang in ipairs(langs) do
      local p = group.procs[i]
      local said = ""
      if lang == "lua" then
        local okr, res = pcall(R.results, p)
        said = okr and res and res.error and ("error: " .. tostring(res.error) .. "\n") or ""
      end
      parts[i] = ("-- rank %d (%s), exit %s:\n%s%s"):format(i - 1, lang, tostring(p.code), said, R.log(p))
    end
    return table.concat(parts, "\n")
  end
  local out = {}
  for i, lang in ipairs(langs) do
    local p = group.procs[i]
    assert(p.code == 0, ("rank %d (%s) ended with %s\n%s"):format(i - 1, lang, tostring(p.code), logs()))
    if lang == "py" then
      local f = assert(io.open(p.out)); out[i - 1] = cjson.decode(f:read("a")); f:close()
    else
      out[i - 1] = R.results(p)
    end
  end
  return out
end

local function sines(rank)
  local v = {}
  for k = 1, 8 do v[k] = math.sin(k * (rank + 1)) end
  return v
end

local function check(out, world)
  local sum = {}
  for k = 1, 8 do
    sum[k] = 0
    for r = 0, world - 1 do sum[k] = sum[k] + sines(r)[k] end
  end
  for r = 0, world - 1 do
    local res = out[r]
    assert.are.equal(r, res.rank)
    -- bitwise across languages and ranks
    for _, key in ipairs { "sum", "max", "avg", "broadcast", "all_gather" } do
      assert.are.same(out[0][key], res[key], key .. " on rank " .. r)
    end
    for k = 1, 8 do
      assert.is_true(math.abs(res.sum[k] - sum[k]) <= 1e-12, "sum")
      assert.is_true(math.abs(res.avg[k] - sum[k] / world) <= 1e-12, "avg")
    end
    assert.are.same(sines(1), res.broadcast)
    for q = 0, world - 1 do assert.are.same({ q, 10 * q }, res.all_gather[q + 1]) end
  end
  assert.are.same(out[0].sum, out[0].reduce)
end

describe("torch.distributed with PyTorch ranks in the group", function()
  teardown(cleanup)
  if missing then
    print("distributed_python_spec: skipped: " .. missing)
    pending(missing)
    return
  end

  it("clara, PyTorch, clara over a FileStore", function()
    local store
    local out = run({ "lua", "py", "lua" }, function(r, dir)
      store = store or (dir .. "/store")
      return { DIST_INIT = "file://" .. store, DIST_RANK = r, DIST_WORLD = 3, DIST_TIMEOUT = 20 }
    end)
    check(out, 3)
  end)

  it("PyTorch hosting the TCPStore, clara joining, both from env://", function()
    local port = R.port()
    local out = run({ "py", "lua" }, function(r)
      return { MASTER_ADDR = "127.0.0.1", MASTER_PORT = port, RANK = r, WORLD_SIZE = 2,
               DIST_TIMEOUT = 20, SLURM_PROCID = "" }
    end)
    check(out, 2)
  end)
end)
