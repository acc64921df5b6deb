-- One rank of spec/distributed_spec.lua (run by clara, not a spec).  The
-- environment says what to do; the results go to DIST_OUT as a Lua table:
--   DIST_INIT      env:// (the default) or a tcp:// or file:// url
--   DIST_RANK, DIST_WORLD   rank and world_size options (absent: env://'s)
--   DIST_TIMEOUT   seconds
--   DIST_CHECK     0: the option check = false
--   DIST_SCENARIO  collectives | env | loop | hang | disagree | mixed
--   DIST_READY     loop: a file written once the loop runs
--   DIST_HANG      hang: the rank that never calls the collective
local torch = require "torch"
local dist = torch.distributed
local proc = require "clara.process.core"

local function num(name) return tonumber(os.getenv(name) or "") end

local function serialize(v)
  if type(v) == "table" then
    local parts = {}
    for k, x in pairs(v) do parts[#parts + 1] = "[" .. serialize(k) .. "]=" .. serialize(x) end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  return ("%q"):format(v)
end

local results = {}
local function finish(code)
  local f = assert(io.open(os.getenv("DIST_OUT"), "w"))
  f:write("return ", serialize(results), "\n")
  f:close()
  os.exit(code)
end

local clock = require("clara.sys.core").clock -- one clock for the whole machine
local started = clock()
local ok, err = pcall(dist.init_process_group, {
  init_method = os.getenv("DIST_INIT") or "env://", rank = num("DIST_RANK"),
  world_size = num("DIST_WORLD"), timeout = num("DIST_TIMEOUT") or 10, check = os.getenv("DIST_CHECK") ~= "0" })
results.init_seconds = clock() - started
if not ok then
  results.error = err
  finish(1)
end
local rank, world = dist.get_rank(), dist.get_world_size()
results.rank, results.world_size, results.local_rank = rank, world, dist.get_local_rank()
local scenario = os.getenv("DIST_SCENARIO") or "collectives"

-- a tensor whose values depend on the rank: base * (rank + 1)
local function mine(dtype)
  return (torch.tensor({ 1, 2, 3, 4, 5, 6 }, { dtype = dtype }) * (rank + 1)):reshape(2, 3)
end

local function collectives()
  for _, dtype in ipairs { "float32", "float64", "int64" } do
    local r = {}
    results[dtype] = r
    for _, op in ipairs { "sum", "product", "min", "max", "avg" } do
      if op ~= "avg" or dtype ~= "int64" then
        local t = mine(dtype)
        dist.all_reduce(t, { op = op })
        r[op] = t:totable()
      end
    end
    local t = mine(dtype)
    dist.reduce(t, world - 1, { op = dist.ReduceOp.SUM })
    if rank == world - 1 then r.reduce = t:totable() end
    local b = rank == 1 and mine(dtype) or torch.zeros(2, 3, { dtype = dtype })
    dist.broadcast(b, 1)
    r.broadcast = b:totable()
    local outs = {}
    for i = 1, world do outs[i] = torch.zeros(2, 3, { dtype = dtype }) end
    dist.all_gather(outs, mine(dtype))
    r.all_gather = {}
    for i, o in ipairs(outs) do r.all_gather[i] = o:totable() end
  end
  local a, b = mine("float32"), torch.ones(4, { dtype = "float32" }) * rank
  dist.all_reduce_coalesced({ a, b }, dist.ReduceOp.AVG)
  results.coalesced = { a:totable(), b:totable() }
  dist.barrier()
  -- the errors a rank sees alone (nothing reaches the peers)
  local errs = {}
  local function try(name, f) local _, e = pcall(f); errs[name] = tostring(e) end
  try("avg_int", function() dist.all_reduce(torch.ones(2, { dtype = "int64" }), "avg") end)
  try("noncontiguous", function() dist.all_reduce(torch.ones(3, 4):t()) end)
  try("gather_count", function() dist.all_gather({ torch.ones(1) }, torch.ones(1)) end)
  try("gather_shape", function()
    local outs = {}
    for i = 1, world do outs[i] = torch.ones(2) end
    dist.all_gather(outs, torch.ones(3))
  end)
  try("coalesced_dtypes", function()
    dist.all_reduce_coalesced({ torch.ones(1), torch.ones(1, { dtype = "float64" }) })
  end)
  results.errors = errs
  dist.barrier()
  dist.destroy_process_group()
  results.initialized_after = dist.is_initialized()
end

local function disagree()
  local t = rank == 1 and torch.ones(3, { dtype = "float64" }) or torch.ones(3)
  local _, e = pcall(dist.all_reduce, t)
  results.error = tostring(e)
  local _, op = pcall(dist.all_reduce, torch.ones(2), { op = rank == 0 and "max" or "min" })
  results.op = tostring(op)
  local _, again = pcall(dist.barrier)
  results.again = tostring(again)
end

-- The same steps as spec/helpers/dist_rank.py, in a group mixing both
local function mixed()
  local vals = {}
  for k = 1, 8 do vals[k] = math.sin(k * (rank + 1)) end
  local x = torch.tensor(vals, { dtype = "float64" })
  local s = x:clone(); dist.all_reduce(s); results.sum = s:totable()
  local m = x:float(); dist.all_reduce(m, { op = "max" }); results.max = m:totable()
  local a = x:clone(); dist.all_reduce(a, { op = "avg" }); results.avg = a:totable()
  local b = rank == 1 and x:clone() or torch.zeros(8, { dtype = "float64" })
  dist.broadcast(b, 1); results.broadcast = b:totable()
  local outs = {}
  for i = 1, world do outs[i] = torch.zeros(2, { dtype = "int64" }) end
  dist.all_gather(outs, torch.tensor({ rank, 10 * rank }, { dtype = "int64" }))
  results.all_gather = {}
  for i, o in ipairs(outs) do results.all_gather[i] = o:totable() end
  local r = x:clone(); dist.reduce(r, 0); if rank == 0 then results.reduce = r:totable() end
  dist.barrier()
  dist.destroy_process_group()
end

-- all_reduce until the group fails (a peer killed or hanging)
local function loop()
  local hang = num("DIST_HANG")
  local steps = 0
  local okl, e = pcall(function()
    while true do
      if rank == hang and steps == 3 then proc.sleep(3600) end
      dist.all_reduce(torch.ones(1000))
      steps = steps + 1
      if steps == 3 and os.getenv("DIST_READY") then
        local f = io.open(os.getenv("DIST_READY") .. "." .. rank, "w"); f:close()
      end
      proc.sleep(0.01)
    end
  end)
  results.steps = steps
  results.error = not okl and tostring(e) or nil
  results.failed_at = clock()
  finish(1)
end

if scenario == "collectives" then collectives()
elseif scenario == "env" then
  local t = torch.ones(2) * (rank + 1)
  dist.all_reduce(t)
  results.sum = t:totable()
  dist.destroy_process_group()
elseif scenario == "disagree" then disagree()
elseif scenario == "mixed" then mixed()
elseif scenario == "loop" or scenario == "hang" then loop()
end
finish(0)
