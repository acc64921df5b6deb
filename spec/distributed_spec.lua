-- torch.distributed with real processes: every collective against its
-- analytic result (values are small integers, so every sum is exact in
-- any order: compared bitwise), 2 ranks over a FileStore and 3 over a
-- TCPStore, env:// from torchrun's and SLURM's variables, the bad calls;
-- and the SLURM host list parser.
local torch = require "torch"
local dist = torch.distributed
local R = require "spec.helpers.dist_ranks"
local tmpdir, cleanup = dofile("spec/helpers/tmpdir.lua")

local BASE = { { 1, 2, 3 }, { 4, 5, 6 } }

local function map(f)
  local out = {}
  for i, row in ipairs(BASE) do
    out[i] = {}
    for j, v in ipairs(row) do out[i][j] = f(v) end
  end
  return out
end

local function scaled(k) return map(function(v) return v * k end) end

-- run world ranks of a scenario; envs(rank) -> that rank's environment
local function run(world, envs, limit)
  local dir = tmpdir()
  local ranks = {}
  for r = 0, world - 1 do ranks[r + 1] = { env = envs(r, dir) } end
  return R.run_all(dir, ranks, limit)
end

local function check_collectives(out, world)
  local factorial, tri = 1, world * (world + 1) // 2
  for k = 2, world do factorial = factorial * k end
  for r = 0, world - 1 do
    local res = out[r]
    assert.are.equal(r, res.rank)
    assert.are.equal(world, res.world_size)
    for _, dtype in ipairs { "float32", "float64", "int64" } do
      local d = res[dtype]
      assert.are.same(scaled(tri), d.sum, dtype .. " sum")
      assert.are.same(map(function(v) return v ^ world * factorial end), d.product, dtype .. " product")
      assert.are.same(scaled(1), d.min, dtype .. " min")
      assert.are.same(scaled(world), d.max, dtype .. " max")
      if dtype ~= "int64" then assert.are.same(scaled((world + 1) / 2), d.avg, dtype .. " avg") end
      assert.are.same(scaled(2), d.broadcast, dtype .. " broadcast from rank 1")
      for q = 0, world - 1 do assert.are.same(scaled(q + 1), d.all_gather[q + 1]) end
      if r == world - 1 then assert.are.same(scaled(tri), d.reduce, dtype .. " reduce") end
    end
    local a = scaled((world + 1) / 2)
    assert.are.same({ a[1][1], a[1][2], a[1][3] }, res.coalesced[1][1])
    local mean = (world - 1) / 2
    assert.are.same({ mean, mean, mean, mean }, res.coalesced[2])
    local e = res.errors
    assert.matches("all_reduce: op avg needs a floating%-point tensor, got int64", e.avg_int)
    assert.matches("all_reduce: the tensor is not contiguous", e.noncontiguous)
    assert.matches("all_gather: tensor_list needs " .. world .. " tensors %(one per rank%), got 1", e.gather_count)
    assert.matches("all_gather: output 1 must match the tensor's dtype float32 and shape", e.gather_shape)
    assert.matches("all_reduce_coalesced: tensor 2 is float64, tensor 1 float32", e.coalesced_dtypes)
    assert.is_false(res.initialized_after)
  end
end

describe("torch.distributed collectives", function()
  teardown(cleanup)

  it("2 ranks over a FileStore: every op, dtype and collective", function()
    local store
    local out = run(2, function(r, dir)
      store = store or (dir .. "/store")
      return { DIST_INIT = "file://" .. store, DIST_RANK = r, DIST_WORLD = 2 }
    end)
    check_collectives(out, 2)
  end)

  it("3 ranks over a TCPStore from torchrun's variables (env://)", function()
    local port = R.port()
    local out = run(3, function(r)
      return { MASTER_ADDR = "127.0.0.1", MASTER_PORT = port, RANK = r, WORLD_SIZE = 3,
               LOCAL_RANK = r, SLURM_PROCID = "", SLURM_NTASKS = "" }
    end)
    check_collectives(out, 3)
    for r = 0, 2 do assert.are.equal(r, out[r].local_rank) end
  end)

  it("2 ranks from SLURM's variables: rank, size, local rank, the first host of the list", function()
    local port = R.port()
    -- one rank turns the collective checks off: they are off for both
    local out = run(2, function(r)
      return { DIST_SCENARIO = "env", DIST_CHECK = r == 0 and "0" or "1", MASTER_ADDR = "", MASTER_PORT = port, RANK = "", WORLD_SIZE = "",
               LOCAL_RANK = "", SLURM_PROCID = r, SLURM_NTASKS = 2, SLURM_LOCALID = r,
               SLURM_JOB_NODELIST = "localhost,othernode[01-03]" }
    end)
    for r = 0, 1 do
      assert.are.same({ rank = r, world_size = 2, local_rank = r, sum = { 3, 3 } },
        { rank = out[r].rank, world_size = out[r].world_size, local_rank = out[r].local_rank, sum = out[r].sum })
    end
  end)

  it("ranks that disagree on dtype or op are told which rank called what, and the group stays usable", function()
    local store
    local out = run(2, function(r, dir)
      store = store or (dir .. "/store")
      return { DIST_SCENARIO = "disagree", DIST_INIT = "file://" .. store, DIST_RANK = r, DIST_WORLD = 2 }
    end)
    assert.matches("all_reduce: ranks disagree: rank 1 called all_reduce of float64 with 3 elements %(op sum%), "
      .. "rank 0 all_reduce of float32 with 3 elements %(op sum%)", out[0].error)
    assert.matches("ranks disagree: rank 0 called all_reduce of float32", out[1].error)
    assert.matches("ranks disagree: rank 1 called all_reduce of float32 with 2 elements %(op min%), "
      .. "rank 0 all_reduce of float32 with 2 elements %(op max%)", out[0].op)
    assert.are.equal("nil", out[0].again)
  end)
end)

describe("torch.distributed in one process", function()
  local dir
  before_each(function() dir = tmpdir() end)
  after_each(function()
    if dist.is_initialized() then dist.destroy_process_group() end
  end)
  teardown(cleanup)

  it("world size 1 leaves every tensor bitwise as it was", function()
    dist.init_process_group { init_method = "file://" .. dir .. "/s", rank = 0, world_size = 1, timeout = 5 }
    assert.are.equal(0, dist.get_rank())
    assert.are.equal(1, dist.get_world_size())
    assert.is_true(dist.is_initialized())
    torch.manual_seed(1)
    local x = torch.randn(5, 7)
    for _, op in ipairs { "sum", "avg", "max", "min", "product" } do
      local t = x:clone()
      dist.all_reduce(t, { op = op })
      assert.is_true(torch.equal(x, t), op)
    end
    local a, b = x:clone(), x:double()
    dist.all_reduce_coalesced { a, x:clone() }
    assert.is_true(torch.equal(x, a))
    dist.broadcast(b, 0)
    assert.is_true(torch.equal(x:double(), b))
    local outs = { torch.zeros(5, 7) }
    dist.all_gather(outs, x)
    assert.is_true(torch.equal(x, outs[1]))
    dist.barrier()
    -- parameters too (a data-parallel start), outside any graph
    local w = torch.ones(3, { requires_grad = true })
    dist.all_reduce(w, "avg")
    dist.all_reduce_coalesced({ w, torch.ones(2, { requires_grad = true }) }, "avg")
    dist.broadcast(w, 0)
    assert.is_true(torch.equal(torch.ones(3), w:detach()))
    assert.is_true(w.requires_grad)
  end)

  it("bad calls name the function and what is wrong", function()
    local function fails(pattern, f, ...)
      local ok, err = pcall(f, ...)
      assert.is_false(ok)
      assert.matches(pattern, err)
    end
    fails("torch.distributed.all_reduce: the default process group is not initialized %(call "
      .. "torch.distributed.init_process_group first%)", dist.all_reduce, torch.ones(1))
    fails("get_rank: the default process group is not initialized", dist.get_rank)
    fails("barrier: the default process group is not initialized", dist.barrier)
    local init = dist.init_process_group
    local file = "file://" .. dir .. "/s"
    fails("init_process_group: rank 2 is out of range for world_size 2 %(ranks are 0 to 1%)", init,
      { init_method = file, rank = 2, world_size = 2 })
    fails("init_process_group: unknown option 'timout' %(did you mean 'timeout'%?%)", init,
      { init_method = file, rank = 0, world_size = 1, timout = 3 })
    fails("init_process_group: timeout must be > 0, got %-1", init,
      { init_method = file, rank = 0, world_size = 1, timeout = -1 })
    fails("init_process_group: backend 'nccl' is not available: this build has gloo %(CPU%) only", init,
      { backend = "nccl", init_method = file, rank = 0, world_size = 1 })
    fails("init_process_group: init_method 'http://x' is not env://, tcp://host:port or file:///path", init,
      { init_method = "http://x", rank = 0, world_size = 1 })
    fails("init_process_group: rank is not given", init, { init_method = file, world_size = 1 })
    fails("init_process_group: timeout must be a number, got 'x'", init, { timeout = "x" })
    fails("torch.distributed.nope does not exist", function() return dist.nope end)
    fails("torch.distributed.ReduceOp.MEAN does not exist", function() return dist.ReduceOp.MEAN end)

    init { init_method = file, rank = 0, world_size = 1, timeout = 5 }
    fails("init_process_group: the default process group is already initialized", init,
      { init_method = file, rank = 0, world_size = 1 })
    fails("all_reduce: tensor must be a tensor, got 3", dist.all_reduce, 3)
    fails("all_reduce: op must be one of 'sum', 'avg', 'product', 'min', 'max', got 'mean'",
      dist.all_reduce, torch.ones(1), { op = "mean" })
    fails("broadcast: src 1 is not a rank %(ranks are 0 to 0%)", dist.broadcast, torch.ones(1), 1)
    fails("broadcast: src must be an integer rank, got nil", dist.broadcast, torch.ones(1))
    fails("reduce: dst must be an integer rank, got 0.5", dist.reduce, torch.ones(1), 0.5)
    fails("all_gather: tensor_list must be a list of 1 tensors, got", dist.all_gather, torch.ones(1), torch.ones(1))
    fails("all_gather: tensor_list%[1%] must be a tensor, got 'x'", dist.all_gather, { "x" }, torch.ones(1))
    fails("all_reduce_coalesced: tensors must be a non%-empty list of tensors", dist.all_reduce_coalesced, {})
  end)

  it("an unreachable master ends init within the timeout, naming it", function()
    local t0 = require("clara.sys.core").clock()
    local ok, err = pcall(dist.init_process_group,
      { init_method = "tcp://127.0.0.1:" .. R.port(), rank = 1, world_size = 2, timeout = 1 })
    assert.is_false(ok)
    assert.matches("init_process_group: cannot reach rank 0's store at 127.0.0.1:%d+ within 1 s", err)
    assert.is_true(require("clara.sys.core").clock() - t0 < 1 + 5)
    assert.is_false(dist.is_initialized())
  end)

  it("env:// without the variables says which are missing", function()
    local getenv = os.getenv
    os.getenv = function(k) -- luacheck: ignore
      if k:match("^MASTER_") or k:match("^SLURM_") or k == "RANK" or k == "WORLD_SIZE" then return nil end
      return getenv(k)
    end
    local ok, err = pcall(dist.init_process_group, { rank = 0, world_size = 1 })
    os.getenv = getenv -- luacheck: ignore
    assert.is_false(ok)
    assert.matches("env:// needs MASTER_ADDR %(torchrun%) or SLURM_JOB_NODELIST %(srun%)", err)
  end)
end)

describe("torch.distributed.env", function()
  local env = dist.env
  local function reader(t) return function(k) return t[k] end end

  it("expands SLURM's host lists", function()
    assert.are.same({ "node01", "node02", "node03", "node04", "node07" }, env.expand_nodelist("node[01-04,07]"))
    assert.are.same({ "a", "b1", "b2", "c" }, env.expand_nodelist("a,b[1-2],c"))
    assert.are.same({ "r1n08", "r1n09", "r1n10", "r2n08", "r2n09", "r2n10" }, env.expand_nodelist("r[1-2]n[08-10]"))
    assert.are.same({ "gpu-9", "gpu-10" }, env.expand_nodelist("gpu-[9-10]"))
    assert.are.same({ "host.example.org" }, env.expand_nodelist("host.example.org"))
    for _, bad in ipairs { "", "a[1-2", "a]", "n[3-1]", "n[a-b]", "a,,b", "n[]" } do
      local hosts, why = env.expand_nodelist(bad)
      assert.is_nil(hosts, bad)
      assert.is_string(why, bad)
    end
  end)

  it("reads torchrun's variables first, SLURM's otherwise", function()
    local t = env.read(reader { MASTER_ADDR = "m", MASTER_PORT = "1234", RANK = "2", WORLD_SIZE = "4",
                                LOCAL_RANK = "0", SLURM_PROCID = "9", SLURM_NTASKS = "16",
                                SLURM_JOB_NODELIST = "n[1-2]" })
    assert.are.same({ master_addr = "m", master_port = 1234, rank = 2, world_size = 4, local_rank = 0,
                      source = "torchrun" }, t)
    t = env.read(reader { SLURM_PROCID = "3", SLURM_NTASKS = "4", SLURM_LOCALID = "1",
                          SLURM_JOB_NODELIST = "gpu[07-08,11],cpu1" })
    assert.are.same({ master_addr = "gpu07", master_port = 29500, rank = 3, world_size = 4, local_rank = 1,
                      source = "slurm" }, t)
    t = env.read(reader { SLURM_PROCID = "1", SLURM_NTASKS = "2", MASTER_PORT = "4000", SLURM_NODELIST = "z" })
    assert.are.same({ "z", 4000 }, { t.master_addr, t.master_port })
    assert.has_error(function() env.read(reader { RANK = "one" }) end, 'RANK="one" is not an integer')
    assert.has_error(function() env.read(reader { SLURM_PROCID = "0", SLURM_JOB_NODELIST = "n[2-1]" }) end,
      'SLURM_JOB_NODELIST="n[2-1]" cannot be read: range 2-1 goes down')
  end)
end)
