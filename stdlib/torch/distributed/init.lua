-- torch.distributed: PyTorch's process group over c10d's Gloo backend.
-- Ranks are 0-based, as in PyTorch: a rank is an identity, not a position.
-- The group's layout in its store is PyTorch 1.13's, so Python ranks can
-- join a clara group.  A collective that fails or outlives the timeout
-- ends every waiting rank with an error naming the ranks that did not take
-- part; the group cannot be used after that.
local torch = require "torch"
local E = require "clara.error"
local env = require "torch.distributed.env"

local API = "torch.distributed"
local dist = {}

dist.ReduceOp = E.namespace({ SUM = "sum", AVG = "avg", PRODUCT = "product", MIN = "min", MAX = "max" },
  "torch.distributed.ReduceOp")
local OPS = { sum = 0, avg = 1, product = 2, min = 3, max = 4 } -- TH_DIST_*

local state -- {group, rank, world_size, local_rank, init_method} while initialized

local function core() return require "torch.distributed.core" end

-- {====================== init ======================

local INIT_OPTIONS = {
  backend = { type = "string", default = "gloo", doc = "only gloo (CPU) in this build" },
  init_method = { type = "string", default = "env://",
                  doc = "env://, tcp://host:port or file:///path" },
  rank = { type = "integer", min = 0, doc = "this process's rank, 0-based" },
  world_size = { type = "integer", min = 1, doc = "number of ranks" },
  timeout = { type = "number", gt = 0, default = 1800,
              doc = "seconds for the rendezvous and for every collective" },
  check = { type = "boolean", default = true,
            doc = "compare each collective's op, dtype and size across ranks first" },
}

local function name(fn) return API .. "." .. fn end

-- url -> kind, where, port
local function parse_method(api, method, found)
  local host, port = method:match("^tcp://%[?([^%]]-)%]?:(%d+)$")
  if host then return "tcp", host, math.tointeger(tonumber(port)) end
  local path = method:match("^file://(.+)$")
  if path then return "file", path, 0 end
  if method == "env://" then
    if not found.master_addr then
      E.raise(api, "env:// needs MASTER_ADDR (torchrun) or SLURM_JOB_NODELIST (srun) in the environment")
    end
    if not found.master_port then E.raise(api, "env:// needs MASTER_PORT in the environment") end
    return "tcp", found.master_addr, found.master_port
  end
  E.raise(api, "init_method %s is not env://, tcp://host:port or file:///path", E.show(method))
end

local function resolve(api, o)
  local found = { }
  if o.init_method == "env://" then
    local ok, res = pcall(env.read)
    if not ok then E.raise(api, "%s", res) end
    found = res
  end
  local rank = o.rank or found.rank
  local world_size = o.world_size or found.world_size
  if rank == nil then E.raise(api, "rank is not given (option rank, or RANK / SLURM_PROCID in the environment)") end
  if world_size == nil then
    E.raise(api, "world_size is not given (option world_size, or WORLD_SIZE / SLURM_NTASKS in the environment)")
  end
  if rank < 0 or rank >= world_size then
    E.raise(api, "rank %d is out of range for world_size %d (ranks are 0 to %d)", rank, world_size, world_size - 1)
  end
  local kind, where, port = parse_method(api, o.init_method, found)
  if kind == "tcp" and not (port >= 1 and port <= 65535) then
    E.raise(api, "port %s is not in 1..65535", E.show(port))
  end
  return kind, where, port, rank, world_size, found.local_rank
end

function dist.init_process_group(opts)
  local api = name("init_process_group")
  local o = E.options(api, opts, INIT_OPTIONS)
  if o.backend ~= "gloo" then
    E.raise(api, "backend %s is not available: this build has gloo (CPU) only", E.show(o.backend))
  end
  if state then
    E.raise(api, "the default process group is already initialized (destroy_process_group() first)")
  end
  local kind, where, port, rank, world_size, local_rank = resolve(api, o)
  local group, err = core().init(kind, where, port, rank, world_size, o.timeout, o.check)
  if not group then E.raise(api, "%s", err) end
  state = { group = group, rank = rank, world_size = world_size,
            local_rank = local_rank or 0, init_method = o.init_method }
end

function dist.is_available() return true end
function dist.is_initialized() return state ~= nil end

local function current(fn)
  if not state then
    E.raise(name(fn), "the default process group is not initialized (call torch.distributed.init_process_group first)")
  end
  return state
end

function dist.get_rank() return current("get_rank").rank end
function dist.get_world_size() return current("get_world_size").world_size end
-- clara's: LOCAL_RANK or SLURM_LOCALID (0 when neither is set)
function dist.get_local_rank() return current("get_local_rank").local_rank end
function dist.get_backend() current("get_backend") return "gloo" end

function dist.destroy_process_group()
  local s = current("destroy_process_group")
  state = nil
  core().destroy(s.group)
end
-- }================================================================

-- {====================== collectives ======================

local function check_tensor(api, t, what)
  if not torch.is_tensor(t) then E.raise(api, "%s must be a tensor, got %s", what, E.show(t)) end
end

local function check_rank(api, r, what, world_size)
  if math.tointeger(r) == nil then E.raise(api, "%s must be an integer rank, got %s", what, E.show(r)) end
  if r < 0 or r >= world_size then
    E.raise(api, "%s %d is not a rank (ranks are 0 to %d)", what, r, world_size - 1)
  end
end

-- op from {op = ...} or a bare ReduceOp value
local OP_SCHEMA = { op = { type = "string", default = "sum", enum = { "sum", "avg", "product", "min", "max" } } }
local function reduce_op(api, opts)
  if type(opts) == "string" then opts = { op = opts } end
  return OPS[E.options(api, opts, OP_SCHEMA).op]
end

local function done(api, ok, err)
  if not ok then E.raise(api, "%s", err) end
end

-- all_reduce(t, {op = dist.ReduceOp.SUM}): every rank ends with the reduction
function dist.all_reduce(t, opts)
  local api = name("all_reduce")
  local s = current("all_reduce")
  check_tensor(api, t, "tensor")
  done(api, core().all_reduce(s.group, t, reduce_op(api, opts)))
end

-- Many tensors (of one dtype) in one collective: the gradients of a step
function dist.all_reduce_coalesced(tensors, opts)
  local api = name("all_reduce_coalesced")
  local s = current("all_reduce_coalesced")
  if type(tensors) ~= "table" or torch.is_tensor(tensors) or #tensors == 0 then
    E.raise(api, "tensors must be a non-empty list of tensors, got %s", E.show(tensors))
  end
  for i, t in ipairs(tensors) do check_tensor(api, t, "tensors[" .. i .. "]") end
  done(api, core().all_reduce_coalesced(s.group, tensors, reduce_op(api, opts)))
end

-- reduce(t, dst, {op}): the result on rank dst only
function dist.reduce(t, dst, opts)
  local api = name("reduce")
  local s = current("reduce")
  check_tensor(api, t, "tensor")
  check_rank(api, dst, "dst", s.world_size)
  done(api, core().reduce(s.group, t, dst, reduce_op(api, opts)))
end

-- broadcast(t, src): every rank ends with rank src's values
function dist.broadcast(t, src)
  local api = name("broadcast")
  local s = current("broadcast")
  check_tensor(api, t, "tensor")
  check_rank(api, src, "src", s.world_size)
  done(api, core().broadcast(s.group, t, src))
end

-- all_gather(outputs, t): outputs[r + 1] receives rank r's tensor
function dist.all_gather(outputs, t)
  local api = name("all_gather")
  local s = current("all_gather")
  if type(outputs) ~= "table" or torch.is_tensor(outputs) then
    E.raise(api, "tensor_list must be a list of %d tensors, got %s", s.world_size, E.show(outputs))
  end
  if #outputs ~= s.world_size then
    E.raise(api, "tensor_list needs %d tensors (one per rank), got %d", s.world_size, #outputs)
  end
  for i, o in ipairs(outputs) do check_tensor(api, o, "tensor_list[" .. i .. "]") end
  check_tensor(api, t, "tensor")
  done(api, core().all_gather(s.group, outputs, t))
end

function dist.barrier()
  local s = current("barrier")
  done(name("barrier"), core().barrier(s.group))
end
-- }================================================================

-- {====================== the gradient reducer ======================
-- Reducer(params, {bucket_cap_mb = 25, first_bucket_cap_mb = 1, flags = 0,
-- transport = "auto"}) averages the parameters' gradients over the ranks
-- while backward runs (DDP's reducer): r:arm(flags) before the backward
-- that ends a step (the last micro-batch's), r:finish(flags) after it;
-- finish() returns the flags summed over the ranks (arm()'s, or finish()'s
-- when no armed backward reached the last bucket).  A backward that was not
-- armed leaves the gradients to accumulate.  When every rank runs on this
-- host the buckets are summed through shared memory (transport "auto" or
-- "shm"; r:transport() says which was taken), else by Gloo's all_reduce.
local REDUCER_SCHEMA = {
  bucket_cap_mb = { type = "number", min = 1e-6, default = 25, doc = "size of a bucket after the first (MB)" },
  first_bucket_cap_mb = { type = "number", min = 1e-6, default = 1,
                          doc = "size of the first bucket (MB): its reduction begins earliest" },
  flags = { type = "integer", min = 0, max = 64, default = 0, doc = "numbers summed over the ranks with the gradients" },
  transport = { type = "string", enum = { "auto", "gloo", "shm" }, default = "auto",
                doc = "how the buckets travel: shared memory when every rank is on this host (auto), "
                  .. "always Gloo's all_reduce (gloo), or shared memory or an error (shm)" },
}

local Reducer = {}
Reducer.__index = Reducer

local function flag_list(api, self, v)
  if type(v) ~= "table" or #v ~= self.nflags then
    E.raise(api, "flags must be a list of %d numbers, got %s", self.nflags, E.show(v))
  end
  return v
end

function dist.Reducer(params, opts)
  local api = name("Reducer")
  local s = current("Reducer")
  if type(params) ~= "table" or torch.is_tensor(params) or #params == 0 then
    E.raise(api, "params must be a non-empty list of tensors, got %s", E.show(params))
  end
  for i, p in ipairs(params) do check_tensor(api, p, "params[" .. i .. "]") end
  local o = E.options(api, opts, REDUCER_SCHEMA)
  local r, err = core().reducer(s.group, params, o.first_bucket_cap_mb, o.bucket_cap_mb, o.flags,
                                o.transport)
  done(api, r, err)
  return setmetatable({ core = r, nflags = o.flags }, Reducer)
end

function Reducer:arm(flags)
  local api = name("Reducer:arm")
  done(api, self.core:arm(flag_list(api, self, flags or {})))
end

function Reducer:finish(flags)
  local api = name("Reducer:finish")
  local sums, err = self.core:finish(flag_list(api, self, flags or {}))
  done(api, sums, err)
  return sums
end

function Reducer:buckets() return self.core:buckets() end
function Reducer:transport() return self.core:transport() end
E.methods(Reducer, name("Reducer"))
-- }================================================================

dist.env = env
return E.namespace(dist, API)
