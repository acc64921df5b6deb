-- clara.postprocess (also clara.transforms.post): what turns a model's
-- output into answers.  Steps chain with clara.transforms.chain and print
-- and describe themselves like the preprocessing steps:
--
--   local P = clara.postprocess
--   local post = P.chain{ P.Softmax(), P.Argmax(), P.LabelNames(classes) }
--   print(post)      -- Softmax(dim=-1) -> Argmax(dim=-1) -> LabelNames(10 names)
--   post(logits)     -- {"Bag", "Coat", ...}
--
-- Dims are 1-based, negative from the end (default -1: the class dim of
-- (N, C) outputs); class ids stay 0-based, as argmax and topk return them.
local torch = require "torch"
local base = require "clara.transforms.base"

local P = {}

local function check_tensor(x, fname)
  if not torch.is_tensor(x) then base.raise(("%s: expected a tensor, got %s"):format(fname, type(x))) end
  return x
end

local function check_dim(dim, fname)
  if math.type(dim) ~= "integer" or dim == 0 then
    base.raise(("%s: dim must be a non-zero integer (1-based, negative from the end), got %s"):format(fname, tostring(dim)))
  end
  return dim
end

local function in_range(x, dim, fname)
  local n = x:dim()
  if (dim > 0 and dim > n) or (dim < 0 and -dim > n) then
    base.raise(("%s: dim %d out of range for a tensor of shape (%s)"):format(fname, dim, table.concat(x:size(), ", ")))
  end
end

-- a step over one dim: Softmax, Argmax (same shape of class)
local DIM = { type = "integer", doc = "1-based, negative from the end" }

local function along(name, op)
  local C = base.class(name)
  P[name] = function(opts)
    opts = base.options(opts, { dim = DIM }, name)
    return setmetatable({ dim = check_dim(opts.dim or -1, name) }, C)
  end
  function C:forward(x)
    check_tensor(x, name)
    in_range(x, self.dim, name)
    return op(x, self.dim)
  end
  function C:label() return ("%s(dim=%d)"):format(name, self.dim) end
  function C:describe() return { name = name, dim = self.dim } end
  base.register(name, function(d) return P[name] { dim = d.dim } end)
end

along("Softmax", function(x, dim) return base.float(x, "Softmax"):softmax(dim) end)
along("LogSoftmax", function(x, dim) return base.float(x, "LogSoftmax"):log_softmax(dim) end)
along("Argmax", function(x, dim) return x:argmax(dim) end)

-- Sigmoid(): probabilities of independent (binary, multi-label) outputs
local Sigmoid = base.class("Sigmoid")
function P.Sigmoid() return setmetatable({}, Sigmoid) end
function Sigmoid:forward(x) return base.float(check_tensor(x, "Sigmoid"), "Sigmoid"):sigmoid() end
base.register("Sigmoid", function() return P.Sigmoid() end)

-- Threshold{value = 0.5}: 1 where x > value, else 0 (int64 labels)
local Threshold = base.class("Threshold")
function P.Threshold(opts)
  opts = base.options(opts, { value = { type = "number", doc = "class 1 above it" } }, "Threshold")
  local v = opts.value or 0.5
  if type(v) ~= "number" then base.raise("Threshold: value must be a number, got " .. type(v)) end
  return setmetatable({ value = v }, Threshold)
end
function Threshold:forward(x) return check_tensor(x, "Threshold"):gt(self.value):long() end
function Threshold:label() return ("Threshold(value=%s)"):format(base.num(self.value)) end
function Threshold:describe() return { name = "Threshold", value = self.value } end
base.register("Threshold", function(d) return P.Threshold { value = d.value } end)

-- TopK{k =, dim = -1}: the indices (0-based) of the k largest, largest first
local TopK = base.class("TopK")
function P.TopK(opts)
  opts = base.options(opts, { k = { type = "integer", min = 1, doc = "how many best" }, dim = DIM }, "TopK")
  local k = opts.k
  if math.type(k) ~= "integer" or k < 1 then base.raise("TopK: k must be a positive integer, got " .. tostring(k)) end
  return setmetatable({ k = k, dim = check_dim(opts.dim or -1, "TopK") }, TopK)
end
function TopK:forward(x)
  check_tensor(x, "TopK")
  in_range(x, self.dim, "TopK")
  if x:size(self.dim) < self.k then
    base.raise(("TopK: k = %d but dim %d has only %d entries (shape (%s))")
      :format(self.k, self.dim, x:size(self.dim), table.concat(x:size(), ", ")))
  end
  local _, idx = x:topk(self.k, self.dim)
  return idx
end
function TopK:label() return ("TopK(k=%d%s)"):format(self.k, self.dim ~= -1 and (", dim=" .. self.dim) or "") end
function TopK:describe() return { name = "TopK", k = self.k, dim = self.dim } end
base.register("TopK", function(d) return P.TopK { k = d.k, dim = d.dim } end)

-- LabelNames{names}: class ids -> their names (a string, or nested lists
-- of strings shaped as the tensor)
local LabelNames = base.class("LabelNames")
function P.LabelNames(names)
  if type(names) == "table" and type(names.names) == "table" then names = names.names end
  if type(names) ~= "table" or #names == 0 then
    base.raise("LabelNames: expected a list of class names, e.g. LabelNames{'cat', 'dog'}")
  end
  for k, v in ipairs(names) do
    if type(v) ~= "string" then base.raise(("LabelNames: name #%d is a %s, expected a string"):format(k, type(v))) end
  end
  return setmetatable({ names = { table.unpack(names) } }, LabelNames)
end
function LabelNames:forward(x)
  check_tensor(x, "LabelNames")
  if x:is_floating_point() then base.raise("LabelNames: expected integer class ids, got a " .. x.dtype .. " tensor") end
  local names = self.names
  local function name(id)
    local s = names[id + 1]
    if not s then base.raise(("LabelNames: class id %d out of range 0..%d"):format(id, #names - 1)) end
    return s
  end
  if x:dim() == 0 then return name(x:item()) end
  local function map(t)
    local out = {}
    for k, v in ipairs(t) do out[k] = type(v) == "table" and map(v) or name(v) end
    return out
  end
  return map(x:totable())
end
function LabelNames:label()
  if #self.names <= 3 then return ("LabelNames(%s)"):format(table.concat(self.names, ", ")) end
  return ("LabelNames(%d names: %s, ...)"):format(#self.names, table.concat(self.names, ", ", 1, 2))
end
function LabelNames:describe() return { name = "LabelNames", names = self.names } end
base.register("LabelNames", function(d) return P.LabelNames(d.names) end)

-- chain and from_description are the transforms' own
function P.chain(steps) return require("clara.transforms").chain(steps) end
function P.from_description(d) return require("clara.transforms").from_description(d) end

-- a misspelt name raises, naming the closest
return require("clara.error").namespace(P, "clara.postprocess")
