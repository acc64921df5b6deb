-- clara.transforms: the preprocessing steps, tensor -> tensor.  They act on
-- batches (dim 1 = samples), as the training loop preprocesses each batch;
-- one sample is a batch of one.  Fittable steps (Normalize, Standardize)
-- learn their statistics with :fit(x) from training rows only: they refuse
-- a held-out test partition (see clara.data.partition).
local torch = require "torch"
local base = require "clara.transforms.base"
local E = require "clara.error"

local M = {}

local function refuse_held_out(x, fname)
  local part = package.loaded["clara.data.partition"]
  if part then part.refuse_held_out(x, fname) end
end

local function check_rows(x, fname)
  if not torch.is_tensor(x) then base.raise(("%s: expected a tensor of rows, got %s"):format(fname, type(x))) end
  if x:dim() == 0 or x:size(1) == 0 then
    base.raise(("%s: cannot fit on an empty tensor (shape (%s))"):format(fname, table.concat(x:size(), ", ")))
  end
  refuse_held_out(x, fname)
end

-- 1. Scale(s): x * s
local Scale = base.class("Scale")
function M.Scale(s)
  if type(s) ~= "number" then base.raise("Scale: expected a number factor, e.g. Scale(1/255), got " .. type(s)) end
  return setmetatable({ factor = s }, Scale)
end
function Scale:forward(x) return base.float(x, "Scale") * self.factor end
function Scale:label() return ("Scale(%s)"):format(base.num(self.factor)) end
function Scale:describe() return { name = "Scale", factor = self.factor } end
base.register("Scale", function(d) return M.Scale(d.factor) end)

-- 2. Normalize{mean =, std =}: (x - mean) / std, with numbers or per-feature
-- lists/tensors broadcast over the trailing dims; or fitted:
-- T.Normalize.fit(x) / T.Normalize():fit(x) -> one mean and std over all
-- elements (torch's x:mean(), x:std(): unbiased)
local Normalize = base.class("Normalize")

local function as_stat(v, what)
  if v == nil or type(v) == "number" then return v end
  local t
  if torch.is_tensor(v) then t = base.float(v, "Normalize") end
  if type(v) == "table" then
    for k, x in ipairs(v) do
      if type(x) ~= "number" then base.raise(("Normalize: %s[%d] must be a number, got %s"):format(what, k, E.show(x))) end
    end
    t = torch.tensor(v, { dtype = "float32" })
  end
  if not t then base.raise(("Normalize: %s must be a number, a list or a tensor, got %s"):format(what, E.show(v))) end
  if t:ne(t):any():item() then base.raise(("Normalize: %s holds NaN"):format(what)) end
  return t
end

local STAT = { type = "number|table|tensor", doc = "a number, a list or a tensor (broadcast over the trailing dims)" }
local NORMALIZE_OPTS = { mean = STAT, std = STAT }
local function new_normalize(opts)
  opts = base.options(opts, NORMALIZE_OPTS, "Normalize")
  if (opts.mean == nil) ~= (opts.std == nil) then
    base.raise("Normalize: give both mean and std, or neither (then fit it)")
  end
  local self = setmetatable({ mean = as_stat(opts.mean, "mean"), std = as_stat(opts.std, "std") }, Normalize)
  if type(self.std) == "number" and self.std <= 0 then
    base.raise(("Normalize: std must be positive, got %g"):format(self.std))
  end
  if torch.is_tensor(self.std) and not self.std:gt(0):all():item() then
    base.raise("Normalize: std must be positive everywhere, got a value <= 0")
  end
  return self
end

function Normalize:fit(x)
  check_rows(x, "Normalize.fit")
  x = base.float(x, "Normalize.fit")
  local mean, std = x:mean():item(), x:std():item()
  if not (std > 0) then std = 1 end -- a constant input: leave its scale alone
  self.mean, self.std, self.rows = mean, std, x:size(1)
  return self
end

-- T.Normalize{...} builds one; T.Normalize.fit(x) builds and fits one
M.Normalize = setmetatable({ fit = function(x) return new_normalize():fit(x) end },
  { __call = function(_, opts) return new_normalize(opts) end })

function Normalize:forward(x)
  if self.mean == nil then base.raise("Normalize: not fitted (give mean and std, or call :fit(train_x))") end
  return (base.float(x, "Normalize") - self.mean) / self.std
end
function Normalize:label()
  if self.mean == nil then return "Normalize(unfitted)" end
  return ("Normalize(mean=%s, std=%s)"):format(base.value(self.mean), base.value(self.std))
end
function Normalize:describe()
  return { name = "Normalize", mean = base.plain(self.mean), std = base.plain(self.std), rows = self.rows }
end
base.register("Normalize", function(d)
  local n = M.Normalize { mean = base.unplain(d.mean), std = base.unplain(d.std) }
  n.rows = d.rows
  return n
end)

-- 3. Standardize(): per feature (each position after dim 1), fitted:
-- mean and population std over the rows (ddof = 0, as scikit-learn's
-- StandardScaler); a constant feature keeps std 1
local Standardize = base.class("Standardize")
local function new_standardize(opts)
  opts = base.options(opts, NORMALIZE_OPTS, "Standardize")
  local self = setmetatable({}, Standardize)
  if opts.mean ~= nil or opts.std ~= nil then
    self.mean, self.std = as_stat(opts.mean, "mean"), as_stat(opts.std, "std")
  end
  return self
end

function Standardize:fit(x)
  check_rows(x, "Standardize:fit")
  x = base.float(x, "Standardize:fit")
  local mean = x:mean(1)
  local std = x:std(1, { unbiased = false })
  std = torch.where(std:gt(0), std, torch.ones_like(std))
  self.mean, self.std, self.rows = mean, std, x:size(1)
  return self
end

M.Standardize = setmetatable({ fit = function(x) return new_standardize():fit(x) end },
  { __call = function(_, opts) return new_standardize(opts) end })

function Standardize:forward(x)
  if self.mean == nil then base.raise("Standardize: not fitted (call :fit(train_x) first)") end
  x = base.float(x, "Standardize")
  local feat = table.concat(self.mean:size(), ", ")
  local got = x:dim() > 1 and table.concat(x:size(), ", ", 2) or ""
  if got ~= feat then
    base.raise(("Standardize: fitted on rows of shape (%s), got a batch of shape (%s)")
      :format(feat, table.concat(x:size(), ", ")))
  end
  return (x - self.mean) / self.std
end
function Standardize:label()
  if self.mean == nil then return "Standardize(unfitted)" end
  return ("Standardize(%d features, fitted on %s rows)"):format(self.mean:numel(), tostring(self.rows or "?"))
end
function Standardize:describe()
  return { name = "Standardize", mean = base.plain(self.mean), std = base.plain(self.std), rows = self.rows }
end
base.register("Standardize", function(d)
  local s = M.Standardize { mean = base.unplain(d.mean), std = base.unplain(d.std) }
  s.rows = d.rows
  return s
end)

-- 4. Flatten{start_dim = 2}: as nn.Flatten, the batch dim stays
local Flatten = base.class("Flatten")
function M.Flatten(opts)
  opts = base.options(opts, { start_dim = { type = "integer", doc = "the first dim flattened" } }, "Flatten")
  local sd = opts.start_dim or 2
  if math.type(sd) ~= "integer" then base.raise("Flatten: start_dim must be an integer, got " .. tostring(sd)) end
  return setmetatable({ start_dim = sd }, Flatten)
end
function Flatten:forward(x)
  if not torch.is_tensor(x) then base.raise("Flatten: expected a tensor, got " .. type(x)) end
  if x:dim() < self.start_dim then return x end
  return x:flatten(self.start_dim)
end
function Flatten:label()
  return self.start_dim == 2 and "Flatten()" or ("Flatten(start_dim=%d)"):format(self.start_dim)
end
function Flatten:describe() return { name = "Flatten", start_dim = self.start_dim } end
base.register("Flatten", function(d) return M.Flatten { start_dim = d.start_dim } end)

-- 5. Reshape{1, 28, 28}: each sample to this shape, the batch dim stays
local Reshape = base.class("Reshape")
function M.Reshape(shape)
  if type(shape) ~= "table" or #shape == 0 then
    base.raise("Reshape: expected the shape of one sample, e.g. Reshape{1, 28, 28}")
  end
  for k, s in ipairs(shape) do
    if math.type(s) ~= "integer" or (s < 1 and s ~= -1) then
      base.raise(("Reshape: size #%d must be a positive integer or -1, got %s"):format(k, tostring(s)))
    end
  end
  return setmetatable({ shape = { table.unpack(shape) } }, Reshape)
end
function Reshape:forward(x)
  if not torch.is_tensor(x) then base.raise("Reshape: expected a tensor, got " .. type(x)) end
  local ok, r = pcall(x.reshape, x, { x:size(1), table.unpack(self.shape) })
  if not ok then
    base.raise(("Reshape: cannot reshape a batch of shape (%s) to (N, %s)")
      :format(table.concat(x:size(), ", "), table.concat(self.shape, ", ")))
  end
  return r
end
function Reshape:label() return ("Reshape(%s)"):format(table.concat(self.shape, ", ")) end
function Reshape:describe() return { name = "Reshape", shape = self.shape } end
base.register("Reshape", function(d) return M.Reshape(d.shape) end)

-- 6. Lambda(fn, "name"): any function; described by its name only, so it
-- cannot be rebuilt from a description
local Lambda = base.class("Lambda")
function M.Lambda(fn, name)
  if type(fn) ~= "function" and not (getmetatable(fn) or {}).__call then
    base.raise("Lambda: expected a function, got " .. type(fn))
  end
  return setmetatable({ fn = fn, label_text = name or "fn" }, Lambda)
end
function Lambda:forward(...) return self.fn(...) end
function Lambda:label() return ("Lambda(%s)"):format(self.label_text) end
function Lambda:describe() return { name = "Lambda", label = self.label_text } end
base.register("Lambda", function(d)
  base.raise(("Lambda(%s) is a Lua function and cannot be rebuilt from a description; "
    .. "rebuild the pipeline in code"):format(tostring(d.label)))
end)

return M
