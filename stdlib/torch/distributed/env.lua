-- torch.distributed.env: where a rank learns who it is from its
-- environment, as torchrun sets it (MASTER_ADDR, MASTER_PORT, RANK,
-- WORLD_SIZE, LOCAL_RANK) or, when those are absent, as SLURM's srun does
-- (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, the first host of
-- SLURM_JOB_NODELIST).
local env = {}

local DEFAULT_PORT = 29500 -- PyTorch's

-- Split at the commas outside brackets: "a[1,3],b" -> {"a[1,3]", "b"}
local function split_top(list)
  local items, depth, start = {}, 0, 1
  for i = 1, #list do
    local c = list:sub(i, i)
    if c == "[" then depth = depth + 1
    elseif c == "]" then depth = depth - 1
      if depth < 0 then return nil, "']' without '['" end
    elseif c == "," and depth == 0 then
      items[#items + 1] = list:sub(start, i - 1)
      start = i + 1
    end
  end
  if depth ~= 0 then return nil, "'[' without ']'" end
  items[#items + 1] = list:sub(start)
  return items
end

-- "01-04,07" -> {"01", "02", "03", "04", "07"}: the width of a range's
-- first number pads every number of it, as SLURM writes them
local function expand_range(body)
  local out = {}
  for part in (body .. ","):gmatch("([^,]*),") do
    local lo, hi = part:match("^(%d+)%-(%d+)$")
    if lo then
      local a, b = tonumber(lo), tonumber(hi)
      if b < a then return nil, ("range %s goes down"):format(part) end
      if b - a >= 100000 then return nil, ("range %s is too long"):format(part) end
      for n = a, b do out[#out + 1] = ("%0" .. #lo .. "d"):format(n) end
    elseif part:match("^%d+$") then
      out[#out + 1] = part
    else
      return nil, ("'%s' is neither a number nor a range"):format(part)
    end
  end
  return out
end

-- One item, its brackets expanded left to right: "r[1-2]n[1-2]" gives
-- r1n1, r1n2, r2n1, r2n2
local function expand_item(item)
  local pre, body, rest = item:match("^([^%[]*)%[([^%]]*)%](.*)$")
  if not pre then return { item } end
  local nums, err = expand_range(body)
  if not nums then return nil, err end
  local tails, terr = expand_item(rest)
  if not tails then return nil, terr end
  local out = {}
  for _, n in ipairs(nums) do
    for _, t in ipairs(tails) do out[#out + 1] = pre .. n .. t end
  end
  return out
end

-- SLURM's compressed host list, "node[01-04,07],gpu5" -> {"node01", ...,
-- "node04", "node07", "gpu5"}; nil and a reason when it cannot be read
function env.expand_nodelist(list)
  if type(list) ~= "string" or list == "" then return nil, "an empty host list" end
  local items, err = split_top(list)
  if not items then return nil, err end
  local hosts = {}
  for _, item in ipairs(items) do
    if item == "" then return nil, "an empty name in the list" end
    local names, ierr = expand_item(item)
    if not names then return nil, ierr end
    for _, h in ipairs(names) do hosts[#hosts + 1] = h end
  end
  return hosts
end

local function integer(getenv, name)
  local v = getenv(name)
  if v == nil or v == "" then return nil end
  local n = math.tointeger(tonumber(v))
  if not n then error(("%s=%q is not an integer"):format(name, v), 0) end
  return n
end

-- What env:// finds: {master_addr, master_port, rank, world_size,
-- local_rank, source = "torchrun" | "slurm"}; a field is nil when it is
-- nowhere.  getenv defaults to os.getenv (tests pass a table's lookup).
-- Raises a plain message (no position) when a variable cannot be read.
function env.read(getenv)
  getenv = getenv or os.getenv
  local out = {
    master_addr = getenv("MASTER_ADDR"),
    master_port = integer(getenv, "MASTER_PORT"),
    rank = integer(getenv, "RANK"),
    world_size = integer(getenv, "WORLD_SIZE"),
    local_rank = integer(getenv, "LOCAL_RANK"),
    source = "torchrun",
  }
  if out.rank == nil and out.world_size == nil then
    local procid = integer(getenv, "SLURM_PROCID")
    if procid ~= nil then
      out.source = "slurm"
      out.rank = procid
      out.world_size = integer(getenv, "SLURM_NTASKS")
      out.local_rank = out.local_rank or integer(getenv, "SLURM_LOCALID")
    end
  end
  if out.master_addr == nil or out.master_addr == "" then
    local list = getenv("SLURM_JOB_NODELIST") or getenv("SLURM_NODELIST")
    if list and list ~= "" then
      local hosts, err = env.expand_nodelist(list)
      if not hosts then error(("SLURM_JOB_NODELIST=%q cannot be read: %s"):format(list, err), 0) end
      out.master_addr = hosts[1]
    else
      out.master_addr = nil
    end
  end
  if out.master_port == nil and out.source == "slurm" then out.master_port = DEFAULT_PORT end
  return out
end

return env
