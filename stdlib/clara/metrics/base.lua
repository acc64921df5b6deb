-- clara.metrics.base: what every streaming metric shares: the object
-- protocol (update / compute / reset / name / tostring) and the checks on
-- what update receives.  Metrics read tensors and never train: update runs
-- under torch.no_grad and keeps its running sums in Lua numbers (doubles)
-- or exact Lua integers, so many batches add up without float32 drift.
local torch = require "torch"
local E = require "clara.error"

local base = {}

-- raise msg (which starts with the metric's name) at the user's line
function base.fail(msg)
  E.raise(nil, msg)
end
local fail = base.fail

-- {====================== the metric protocol ======================

-- A metric class is a table of methods with `init(self)` (clear the running
-- state), `check(self, output, target, ...)` (validate one batch, raise
-- clear errors, return what accumulate needs), `accumulate(self, output,
-- target, checked)` (add the batch to the running state) and `result(self)`
-- (the value; only called after a sample).  `describe(self)` gives the text
-- inside "Kind(...)" for tostring.
local Metric = {}
Metric.__index = Metric

local function update(self, output, target, ...)
  local checked = self:check(output, target, ...)
  self:accumulate(output, target, checked)
end

function Metric:update(output, target, ...)
  torch.no_grad(update, self, output, target, ...)
  return self
end

-- nil plus a message before any sample: an empty validation set is a
-- condition a report shows, not a crash
function Metric:compute()
  if self.count == 0 then
    return nil, ("%s: no samples yet (call update before compute)"):format(self.name)
  end
  return self:result()
end

function Metric:reset()
  self.count = 0
  self:init()
  return self
end

-- the default check: output and target are tensors with one sample per row
function Metric:check(output, target)
  base.check_pair(self.name, output, target)
end

function Metric:init() end

-- state() / set_state(s): the running sums as a plain table (numbers,
-- tensors, nested lists) that torch.save keeps, so that a checkpoint taken
-- mid-epoch resumes the epoch's training metrics exactly.  The settings a
-- constructor made (kind, name, opts) are not state.
local SETTINGS = { kind = true, name = true, opts = true }

local function copy_plain(v)
  if torch.is_tensor(v) then return v:clone() end
  if type(v) ~= "table" then return v end
  local t = {}
  for k, x in pairs(v) do t[k] = copy_plain(x) end
  return t
end

local function is_plain(v, depth)
  local t = type(v)
  if t == "number" or t == "string" or t == "boolean" or torch.is_tensor(v) then return true end
  if t ~= "table" or getmetatable(v) ~= nil or depth > 8 then return false end
  for k, x in pairs(v) do
    if (type(k) ~= "string" and math.type(k) ~= "integer") or not is_plain(x, depth + 1) then return false end
  end
  return true
end

function Metric:state()
  local s = {}
  for k, v in pairs(self) do
    if not SETTINGS[k] and is_plain(v, 0) then s[k] = copy_plain(v) end
  end
  return s
end

function Metric:set_state(s)
  if type(s) ~= "table" then fail(("%s: set_state expects a table from state(), got %s"):format(self.name, type(s))) end
  self:reset()
  for k, v in pairs(s) do self[k] = copy_plain(v) end
  return self
end

-- merge(s): another metric's state (state(), e.g. another rank's, over
-- other samples) added in, so that compute() gives the value over both:
-- counts add (numbers, tensors, lists of numbers element-wise), kept
-- lists of tensors (scores) concatenate, and what fixes the problem
-- (MERGE_SAME: the classes, the problem's kind) must agree.  A metric
-- whose state is not additive (R2's running mean) has its own merge.
local MERGE_SAME = { classes = true, problem = true }

local function add_into(mine, other, api, key)
  if mine == nil then return copy_plain(other) end
  if other == nil then return mine end
  if type(mine) == "number" then return mine + other end
  if torch.is_tensor(mine) then return mine + other end
  if type(mine) ~= "table" then
    if mine ~= other then fail(("%s: merge: '%s' differs (%s, %s)"):format(api, key, E.show(mine), E.show(other))) end
    return mine
  end
  if torch.is_tensor(mine[1]) or torch.is_tensor(other[1]) then
    for _, t in ipairs(other) do mine[#mine + 1] = t:clone() end
    return mine
  end
  for k, v in pairs(other) do mine[k] = add_into(mine[k], v, api, key .. "." .. tostring(k)) end
  return mine
end

function Metric:merge(s)
  if type(s) ~= "table" then fail(("%s: merge expects a table from state(), got %s"):format(self.name, type(s))) end
  if (s.count or 0) == 0 then return self end
  local empty = self.count == 0
  for k, v in pairs(s) do
    if MERGE_SAME[k] then
      if self[k] ~= nil and v ~= nil and self[k] ~= v and not empty then
        fail(("%s: merge: the states disagree on %s (%s, %s)"):format(self.name, k, E.show(self[k]), E.show(v)))
      end
      if self[k] == nil or empty then self[k] = v end
    else
      self[k] = add_into(self[k], v, self.name, k)
    end
  end
  return self
end

Metric.__tostring = function(self)
  return ("%s(%s)"):format(self.kind, self:describe())
end

function Metric:describe() return "" end

-- every metric's option: the name its column gets
local NAME = { type = "string", doc = "the metric's name (its column in the history)" }

-- base.class(kind, methods, setup, api, schema) -> constructor(opts): a
-- metric class whose objects print as "kind(...)"; opts are checked against
-- schema (plus `name`) and raise as `api` ("clara.metrics.f1"); then
-- `setup(self, opts)` reads them.  Methods called with '.' say so.
function base.class(kind, methods, setup, api, schema)
  local cls = setmetatable({}, { __index = Metric })
  for k, v in pairs(methods) do cls[k] = v end
  cls.__index = cls
  cls.__tostring = Metric.__tostring
  E.methods(cls, kind)
  local full = { name = NAME }
  for k, v in pairs(schema or {}) do full[k] = v end
  return function(opts)
    opts = E.options(api or ("clara.metrics." .. kind), opts, full)
    local self = setmetatable({ kind = kind, count = 0 }, cls)
    if setup then setup(self, opts) end
    self.name = opts.name or self.name
    self:init()
    return self
  end
end

E.methods(Metric, "clara.metrics.Metric")

-- }=================================================================

-- {====================== checks ======================


local function shape_str(t)
  return "(" .. table.concat(t.shape, ", ") .. ")"
end
base.shape_str = shape_str

function base.check_tensor(fname, what, t)
  if not torch.is_tensor(t) then
    fail(("%s: %s must be a tensor, got %s"):format(fname, what, type(t)))
  end
  if t:dim() == 0 then
    fail(("%s: %s must have a batch dimension, got a 0-d tensor"):format(fname, what))
  end
end

-- output and target are tensors holding the same number of samples
function base.check_pair(fname, output, target)
  base.check_tensor(fname, "output", output)
  base.check_tensor(fname, "target", target)
  if output:size(1) ~= target:size(1) then
    fail(("%s: output has %d samples but target has %d (shapes %s and %s)")
      :format(fname, output:size(1), target:size(1), shape_str(output), shape_str(target)))
  end
end

-- }=====================================================

return base
