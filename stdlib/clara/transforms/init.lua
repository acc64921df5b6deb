-- clara.transforms (T): preprocessing pipelines.
--
--   local T = clara.transforms
--   local pre = T.chain{ T.Scale(1/255), T.Normalize(), T.Flatten() }
--   pre:fit(train_x)        -- fittable steps learn from training rows only
--   print(pre)              -- Scale(1/255) -> Normalize(mean=0.286, std=0.353) -> Flatten()
--   local xb = pre(xb)
--   local d = pre:describe()            -- plain table, JSON-able, saved with a model
--   local again = T.from_description(d)
--
-- Steps: basic.lua (Scale, Normalize, Standardize, Flatten, Reshape,
-- Lambda), augment.lua and images.lua (T.augment: generators of augmented
-- samples), batch.lua (T.batch: their fast twins on whole batches, in C),
-- clara.postprocess (T.post: Softmax, Argmax, Threshold, TopK, LabelNames).
local torch = require "torch"
local base = require "clara.transforms.base"

local T = {}
for k, v in pairs(require "clara.transforms.basic") do T[k] = v end
T.augment = require "clara.transforms.augment"
-- the image augmentations join T.augment; T.batch holds their batch twins
for _, k in ipairs { "resize", "center_crop", "random_resized_crop", "rotation", "color_jitter", "random_erasing" } do
  T.augment[k] = require("clara.transforms.images")[k]
end
T.batch = require "clara.transforms.batch"
T.post = require "clara.postprocess"

-- T.chain{step, ...}: steps applied in order; plain functions become Lambdas;
-- nested chains are flattened so the line reads as one pipeline
local Chain = base.class("Chain")

function T.chain(steps)
  if type(steps) ~= "table" or getmetatable(steps) ~= nil then
    base.raise("T.chain: expected a list of steps, e.g. T.chain{T.Scale(1/255), T.Flatten()}")
  end
  local flat = {}
  for k = 1, #steps do
    local s = steps[k]
    if type(s) == "function" then s = T.Lambda(s, "fn") end
    local mt = type(s) == "table" and getmetatable(s)
    if not (mt and mt.__call and type(s.label) == "function") then
      base.raise(("T.chain: step #%d is not a transform (a T.* step or a function), got %s"):format(k, type(s)))
    end
    if mt == Chain then
      for _, inner in ipairs(s.steps) do flat[#flat + 1] = inner end
    else
      flat[#flat + 1] = s
    end
  end
  return setmetatable({ steps = flat }, Chain)
end

Chain.__len = function(self) return #self.steps end

function Chain:forward(x, ...)
  for _, s in ipairs(self.steps) do x = s(x, ...) end
  return x
end

-- each fittable step fits on what the steps before it make of x
function Chain:fit(x)
  local part = package.loaded["clara.data.partition"]
  if part then part.refuse_held_out(x, "Chain:fit") end
  for _, s in ipairs(self.steps) do
    if type(s.fit) == "function" then s:fit(x) end
    x = s(x)
  end
  return self
end

function Chain:label()
  if #self.steps == 0 then return "Identity()" end
  local parts = {}
  for k, s in ipairs(self.steps) do parts[k] = s:label() end
  return table.concat(parts, " -> ")
end

function Chain:describe()
  local steps = {}
  for k, s in ipairs(self.steps) do steps[k] = s:describe() end
  return { name = "chain", steps = steps }
end

-- T.from_description(d): the step or chain that d describes (d from
-- :describe(), or its JSON text)
-- JSON has one number type: cjson gives 2.0 for 2; sizes and dims want integers
local function integers(v)
  if type(v) == "number" then return math.tointeger(v) or v end
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = integers(x) end
  return out
end

function T.from_description(d)
  if type(d) == "string" then
    local ok, decoded = pcall(require("cjson").decode, d)
    if not ok then base.raise("T.from_description: not a JSON description: " .. tostring(decoded)) end
    d = integers(decoded)
  end
  if type(d) ~= "table" or type(d.name) ~= "string" then
    base.raise("T.from_description: expected a table from :describe() (with a name), got " .. type(d))
  end
  if d.name == "chain" then
    local steps = {}
    for k, sd in ipairs(d.steps or {}) do steps[k] = T.from_description(sd) end
    return T.chain(steps)
  end
  local rebuild = base.registry[d.name]
  if not rebuild then base.raise(("T.from_description: unknown step '%s'"):format(d.name)) end
  local ok, step = pcall(rebuild, d)
  if not ok then base.raise("T.from_description: " .. tostring(step):gsub("^[^\n]-:%d+: ", "")) end
  return step
end

-- is x a transform step (or chain)?
function T.is_step(x)
  local mt = type(x) == "table" and getmetatable(x)
  return mt and mt.__call ~= nil and type(x.describe) == "function" or false
end

T.Chain = Chain
-- a misspelt name raises, naming the closest
return require("clara.error").namespace(T, "clara.transforms")
