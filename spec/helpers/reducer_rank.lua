-- One rank of spec/distributed_reducer_spec.lua (run by clara, not a spec):
-- torch.distributed.Reducer against plain collectives on the same
-- gradients.  DIST_SCENARIO: reduce | disagree | dies | stuck;
-- DIST_TRANSPORT: the reducer's transport.  Results to DIST_OUT.
local torch = require "torch"
local nn = require "torch.nn"
local dist = torch.distributed

local results = {}
local function finish(code)
  local f = assert(io.open(os.getenv("DIST_OUT"), "w"))
  local function ser(v)
    if type(v) == "table" then
      local parts = {}
      for k, x in pairs(v) do parts[#parts + 1] = "[" .. ser(k) .. "]=" .. ser(x) end
      return "{" .. table.concat(parts, ",") .. "}"
    end
    return ("%q"):format(v)
  end
  f:write("return ", ser(results), "\n")
  f:close()
  os.exit(code)
end

local scenario = os.getenv("DIST_SCENARIO")
local transport = os.getenv("DIST_TRANSPORT") or "auto"
dist.init_process_group { timeout = ({ stuck = 3, dies = 6 })[scenario] or 20 }
local rank, world = dist.get_rank(), dist.get_world_size()

-- a model, its inputs differing per rank; unused: a parameter no forward
-- uses; only0: one that rank 0's forward alone uses
local function model(width)
  torch.manual_seed(7)
  local m = { seq = nn.Sequential(nn.Linear(6, width), nn.Tanh(), nn.Linear(width, 3)),
              unused = nn.Linear(2, 2), only0 = nn.Linear(3, 3), params = {} }
  for _, part in ipairs { m.seq, m.unused, m.only0 } do
    for _, p in ipairs(part:parameters()) do m.params[#m.params + 1] = p end
  end
  return m
end

local function forward(m, k)
  torch.manual_seed(100 + 10 * rank + k)
  local y = m.seq:forward(torch.randn(5, 6))
  if rank == 0 then y = m.only0:forward(y) end
  return (y * y):sum()
end

local function grads(m)
  local out = {}
  for i, p in ipairs(m.params) do out[i] = p.grad and p.grad:clone() or false end
  return out
end

local function same(a, b)
  if a == false or b == false then return a == b end
  return torch.equal(a, b)
end

local function maxdiff(a, b)
  if a == false or b == false then return a == b and 0 or math.huge end
  return (a - b):abs():max():item()
end

if scenario == "disagree" then
  local m = model(rank == 0 and 4 or 5)
  local ok, err = pcall(dist.Reducer, m.params, { first_bucket_cap_mb = 1e-4, bucket_cap_mb = 1e-4 })
  results.ok, results.error = ok, tostring(err)
  finish(0)
end

-- the last rank leaves (exits, or sleeps) before its backward; the others
-- wait in finish() for its gradients
if scenario == "dies" or scenario == "stuck" then
  local m = model(8)
  local r = dist.Reducer(m.params, { transport = transport })
  results.transport = r:transport()
  if rank == world - 1 then
    if scenario == "dies" then os.exit(3) end
    os.execute("sleep 8")
    finish(0)
  end
  local t0 = os.time()
  r:arm()
  forward(m, 1):backward()
  local ok, e = pcall(r.finish, r)
  results.ok, results.error, results.seconds = ok, tostring(e), os.time() - t0
  finish(0)
end

-- the reference: plain backward of both micro-batches, then each gradient
-- (zeros where a rank has none) averaged by all_reduce_coalesced; "has
-- one" counted over the ranks
local ref = model(8)
forward(ref, 1):backward()
forward(ref, 2):backward()
local expected, counts = {}, {}
for i, p in ipairs(ref.params) do
  local g = p.grad and p.grad:clone() or torch.zeros_like(p)
  local c = torch.tensor({ p.grad and 1 or 0 }, { dtype = "float64" })
  dist.all_reduce_coalesced({ g }, "avg")
  dist.all_reduce(c)
  expected[i] = c:item() > 0 and g or false
end

-- the reducer: small buckets (several), the first micro-batch not armed
-- (it accumulates), the second armed
local function reduced(first_mb, cap_mb, arm, used_only)
  local m = model(8)
  local r = dist.Reducer(used_only and m.seq:parameters() or m.params,
                         { first_bucket_cap_mb = first_mb, bucket_cap_mb = cap_mb, flags = 2, transport = transport })
  results.transport = r:transport()
  forward(m, 1):backward()
  if arm then r:arm({ rank + 1, rank == 1 and 1 or 0 }) end
  forward(m, 2):backward()
  local sums = r:finish({ 10 * (rank + 1), 0 })
  return grads(m), sums, r:buckets()
end

for _, case in ipairs {
  { name = "small_armed", first = 1e-4, cap = 2e-4, arm = true },
  { name = "one_bucket", first = 25, cap = 25, arm = true },
  { name = "small_unarmed", first = 1e-4, cap = 2e-4, arm = false },
  { name = "used_armed", first = 1e-4, cap = 2e-4, arm = true, used_only = true },
} do
  local got, sums, buckets = reduced(case.first, case.cap, case.arm, case.used_only)
  local r = { buckets = buckets, sums = sums, bitwise = true, maxdiff = 0, nils = {} }
  for i, e in ipairs(expected) do
    if case.used_only and i > 4 then break end
    if not same(got[i], e) then r.bitwise = false end
    r.maxdiff = math.max(r.maxdiff, maxdiff(got[i], e))
    if got[i] == false then r.nils[#r.nils + 1] = i end
  end
  results[case.name] = r
end

-- one reducer over several steps (the shared slots alternate step by
-- step), each step against all_reduce_coalesced of plain gradients
do
  local m, plain = model(8), model(8)
  local r = dist.Reducer(m.seq:parameters(), { first_bucket_cap_mb = 1e-4, bucket_cap_mb = 2e-4,
                                               transport = transport })
  local steps = { bitwise = true, maxdiff = 0 }
  for k = 1, 5 do
    m.seq:zero_grad()
    plain.seq:zero_grad()
    r:arm()
    torch.manual_seed(500 + 10 * rank + k)
    local x = torch.randn(4, 6) * k
    local loss = (m.seq:forward(x) ^ 2):sum()
    loss:backward()
    r:finish()
    local plain_loss = (plain.seq:forward(x) ^ 2):sum()
    plain_loss:backward()
    for i, p in ipairs(plain.seq:parameters()) do
      local g = p.grad:clone()
      dist.all_reduce_coalesced({ g }, "avg")
      local got = m.seq:parameters()[i].grad
      if not torch.equal(got, g) then steps.bitwise = false end
      steps.maxdiff = math.max(steps.maxdiff, (got - g):abs():max():item())
    end
  end
  results.steps = steps
end

-- bad calls
local function err(f, ...) local ok, e = pcall(f, ...) return ok and "no error" or tostring(e) end
results.bad_empty = err(dist.Reducer, {})
results.bad_tensor = err(dist.Reducer, { 1 })
results.bad_option = err(dist.Reducer, ref.params, { bucket_cap = 1 })
results.bad_transport = err(dist.Reducer, ref.params, { transport = "tcp" })
local r = dist.Reducer(ref.params, { flags = 1 })
results.bad_flags = err(r.finish, r, { 1, 2 })
results.bad_method = err(r.arm, 5)
r:finish({ 0 })
finish(0)
