-- clara.losses: losses as plain functions loss(output, target[, opts]) of
-- tensors, written from tensor operations so autograd differentiates them,
-- with PyTorch's semantics (and its functional names as aliases:
-- clara.losses.nll == clara.losses.nll_loss == torch.nn.functional.nll_loss).
-- opts.reduction is 'mean' (default), 'sum' or 'none'.
--
-- They are grouped by the kind of input they take (losses.kinds, in order;
-- losses.by_kind[kind] lists the names); losses.describe(name) says what a
-- loss expects.  A user loss is any Lua function of tensors returning a
-- tensor: losses.resolve accepts it as it accepts a name.
local E = require "clara.error"

local losses = {}

losses.kinds = { "classification", "binary", "regression", "distribution", "embedding" }
losses.by_kind = {} -- kind -> list of loss names
losses.info = {}    -- loss name -> { kind, output, target, formula, options, fn, spec }

local about = {}    -- kind -> one line

for _, kind in ipairs(losses.kinds) do
  local mod = require("clara.losses." .. kind)
  about[kind] = mod.about
  local names = {}
  for _, entry in ipairs(mod.losses) do
    entry.kind = kind
    losses[entry.name] = entry.fn
    if entry.torch_name then losses[entry.torch_name] = entry.fn end
    losses.info[entry.name] = entry
    names[#names + 1] = entry.name
  end
  losses.by_kind[kind] = names
end

-- the entry of a loss given by name, PyTorch name, function or loss
-- module (nn.CrossEntropyLoss() names its loss in _loss)
local function entry_of(x)
  if type(x) == "table" and type(rawget(x, "_loss")) == "string" then x = rawget(x, "_loss") end
  for _, e in pairs(losses.info) do
    if e.name == x or e.torch_name == x or e.fn == x then return e end
  end
end

local function describe_entry(e)
  local alias = e.torch_name and (" (torch.nn.functional." .. e.torch_name .. ")") or ""
  return table.concat({
    ("%s%s, %s loss: %s"):format(e.name, alias, e.kind, e.formula),
    "  output:  " .. e.output,
    "  target:  " .. e.target,
    "  options: " .. e.options,
  }, "\n")
end

local function describe_kind(kind)
  local lines = { ("%s: %s"):format(kind, about[kind]) }
  local width = 18
  for _, name in ipairs(losses.by_kind[kind]) do width = math.max(width, #name) end
  for _, name in ipairs(losses.by_kind[kind]) do
    local e = losses.info[name]
    lines[#lines + 1] = ("  %-" .. width .. "s %s"):format(name, e.formula)
  end
  return table.concat(lines, "\n")
end

-- describe() the catalogue by kind; describe(kind) one kind;
-- describe(name or function) one loss
function losses.describe(x)
  if x == nil then
    local parts = {}
    for _, kind in ipairs(losses.kinds) do parts[#parts + 1] = describe_kind(kind) end
    return table.concat(parts, "\n")
  end
  if about[x] then return describe_kind(x) end
  local e = entry_of(x)
  if e then return describe_entry(e) end
  if type(x) == "function" then return "a user loss (a Lua function)" end
  E.raise("clara.losses.describe", "unknown loss or kind %s%s", E.show(x), losses.near(x))
end

-- the kind of a loss given by name or function; nil for a user loss
function losses.kind_of(x)
  local e = entry_of(x)
  return e and e.kind
end

-- a loss given by name (or PyTorch name), or a user's function as it is
function losses.resolve(x)
  if type(x) == "function" then return x end
  local mt = getmetatable(x)
  if type(x) == "table" and mt and mt.__call then return x end
  local e = type(x) == "string" and entry_of(x)
  if e then return e.fn end
  E.raise("clara.losses.resolve", "unknown loss %s%s; give a function, or one of: %s", E.show(x), losses.near(x),
    table.concat(E.sorted(losses.by_kind_names()), ", "))
end

-- every loss name, PyTorch's included
function losses.names()
  local names = {}
  for name, e in pairs(losses.info) do
    names[#names + 1] = name
    if e.torch_name then names[#names + 1] = e.torch_name end
  end
  return names
end

-- the clara names only (the catalogue, without PyTorch's aliases)
function losses.by_kind_names()
  local names = {}
  for name in pairs(losses.info) do names[#names + 1] = name end
  return names
end

-- " (did you mean 'x'?)" for a misspelt loss name, or ""
function losses.near(x)
  local near = type(x) == "string" and E.closest(x, losses.names())
  return near and (" (did you mean '" .. near .. "'?)") or ""
end

-- clara.losses.crossentropy raises, naming cross_entropy
return E.namespace(losses, "clara.losses")
