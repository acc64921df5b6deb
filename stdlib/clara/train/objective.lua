-- clara.train.objective: the one loss training optimizes, built from the
-- user's losses.
--
--   objective = L.cross_entropy                  -- one loss on output 1, target 1
--   objective = {                                -- several terms
--     terms = {
--       { name = "cls", loss = L.cross_entropy, output = 1, target = 1, weight = 1 },
--       { name = "box", loss = L.mse,           output = 2, target = 2, weight = 0.5 },
--       { name = "feat", loss = fn, intermediate = "body.1", target = false, weight = 0.1 },
--     },
--     combine = function(weighted, raw) return weighted.cls + weighted.box end, -- default: sum
--     regularizer = R.l2{}, reg_weight = 1e-4, regularize = true,  -- optional, switchable
--     reg_on = 1,           -- what the regularizer sees as output (default output 1)
--   }
--
-- A term reads one model output (`output`, 1-based) or one intermediate
-- result (`intermediate`, the name of a submodule, captured with
-- model:capture) and, unless `target = false`, target number `target`
-- (default 1) of the batch.  The loss is called loss(value, target) (clara's
-- losses take options third), or with `extras = true` in the term
-- loss(value, target, {model =, outputs =, captured =, targets =}).
-- The regularizer is called reg(output, {model =, target =, loss =}), loss
-- being the combined loss, so conditional regularizers (clara.regularizers.
-- conditional, below_loss =) see it; it may decline (nil): nothing is added.
--
-- evaluate returns the total (a 0-d tensor with its graph) and a table of
-- the terms as Lua numbers: raw["cls"], weighted["cls"], raw["reg"],
-- weighted["reg"], which the history logs separately.
local torch = require "torch"
local E = require "clara.error"
local pick = require("clara.train.select").pick

local M = {}

local Objective = {}
Objective.__index = Objective

local API = "clara.objective"

local TERM_KEYS = { extras = true, name = true, loss = true, output = true, intermediate = true, target = true, weight = true }
local OBJ_KEYS = { terms = true, combine = true, regularizer = true, reg_weight = true, regularize = true, reg_on = true }

-- build from a function, a callable table, or the table form above
function M.new(spec)
  if spec == nil then E.raise(API, "an objective is required (a loss function, or {terms = ...})") end
  local callable = type(spec) == "function" or (type(spec) == "table" and getmetatable(spec)
    and getmetatable(spec).__call ~= nil and spec.terms == nil)
  if callable then spec = { terms = { { name = "loss", loss = spec } } } end
  if type(spec) ~= "table" then E.raise(API, "expected a loss function or a table, got " .. type(spec)) end
  for k in pairs(spec) do
    if not OBJ_KEYS[k] then E.raise(API, ("unknown key '%s' (terms, combine, regularizer, reg_weight, regularize, reg_on)"):format(tostring(k))) end
  end
  if type(spec.terms) ~= "table" or #spec.terms == 0 then E.raise(API, "terms must be a non-empty list") end
  local self = setmetatable({ terms = {}, intermediates = {}, combine = spec.combine,
    regularizer = spec.regularizer, reg_weight = spec.reg_weight or 1,
    regularize = spec.regularize ~= false and spec.regularizer ~= nil, reg_on = spec.reg_on or 1 }, Objective)
  if self.combine ~= nil and type(self.combine) ~= "function" then E.raise(API, "combine must be a function") end
  if type(self.reg_weight) ~= "number" or self.reg_weight ~= self.reg_weight then
    E.raise(API, "reg_weight must be a number, got %s", E.show(self.reg_weight))
  end
  local seen = {}
  for i, t in ipairs(spec.terms) do
    if type(t) ~= "table" then E.raise(API, ("term %d must be a table"):format(i)) end
    for k in pairs(t) do
      if not TERM_KEYS[k] then E.raise(API, ("term %d: unknown key '%s'"):format(i, tostring(k))) end
    end
    local name = t.name or (#spec.terms == 1 and "loss" or ("term" .. i))
    if name == "reg" or name == "loss" and #spec.terms > 1 then E.raise(API, ("term %d: the name '%s' is reserved"):format(i, name)) end
    if seen[name] then E.raise(API, ("two terms are named '%s'"):format(name)) end
    seen[name] = true
    if t.loss == nil then E.raise(API, ("term '%s' has no loss"):format(name)) end
    if t.output ~= nil and t.intermediate ~= nil then E.raise(API, ("term '%s': give output or intermediate, not both"):format(name)) end
    local term = { name = name, loss = t.loss, output = t.output or (t.intermediate == nil and 1 or nil),
      intermediate = t.intermediate, extras = t.extras, target = t.target == nil and 1 or t.target, weight = t.weight or 1 }
    if type(term.weight) ~= "number" or term.weight ~= term.weight then
      E.raise(API, "term '%s': weight must be a number, got %s", name, E.show(term.weight))
    end
    self.terms[i] = term
    if term.intermediate then self.intermediates[#self.intermediates + 1] = term.intermediate end
  end
  return self
end

-- names of the intermediate results the objective needs (for capture)
function Objective:captures() return self.intermediates end

function Objective:switch_regularizer(on) self.regularize = on and self.regularizer ~= nil end

local function finite(v) return v == v and v ~= math.huge and v ~= -math.huge end
M.finite = finite

-- 1. each term: raw value, weighted value; 2. combine; 3. regularizer.
-- Raises, naming the term, when a term is not finite (the caller adds the
-- epoch and batch).
function Objective:evaluate(model, outputs, captured, targets)
  local raw, weighted, tensors = {}, {}, {}
  local extras = { model = model, outputs = outputs, captured = captured, targets = targets }
  -- 1. every term, raw and weighted
  for _, t in ipairs(self.terms) do
    local value = t.intermediate and pick("intermediate", t.intermediate, outputs, captured)
      or pick("output", t.output, outputs, captured)
    local target = t.target and targets[t.target] or nil
    if t.target and target == nil then
      E.raise(API, "term '%s' wants target %d, the batch has %d", t.name, t.target, #targets)
    end
    local l
    if t.extras then l = t.loss(value, target, extras) else l = t.loss(value, target) end
    if not torch.is_tensor(l) then
      E.raise(API, "the loss of term '%s' returned %s, not a tensor", t.name, type(l))
    end
    raw[t.name] = l:item()
    if not finite(raw[t.name]) then error({ nonfinite = t.name, value = raw[t.name] }, 0) end
    tensors[t.name] = l * t.weight
    weighted[t.name] = raw[t.name] * t.weight
  end
  -- 2. the one loss: the sum of the weighted terms, or the user's combine
  local total
  if self.combine then
    total = self.combine(tensors, raw)
    if not torch.is_tensor(total) then E.raise(API, "combine must return a tensor") end
  else
    for _, t in ipairs(self.terms) do
      total = total and total + tensors[t.name] or tensors[t.name]
    end
  end
  -- 3. the regularizer, weighted, unless switched off or it declines
  if self.regularize then
    local out = outputs[self.reg_on]
    local pen = self.regularizer(out, { model = model, target = targets[1], loss = total:detach() })
    if pen ~= nil then
      raw.reg = pen:item()
      if not finite(raw.reg) then error({ nonfinite = "reg", value = raw.reg }, 0) end
      weighted.reg = raw.reg * self.reg_weight
      total = total + pen * self.reg_weight
    else
      raw.reg, weighted.reg = 0, 0
    end
  end
  local v = total:item()
  if not finite(v) then error({ nonfinite = "loss", value = v }, 0) end
  return total, { raw = raw, weighted = weighted, loss = v }
end

-- the names the history uses, in order: loss, then per term raw and weighted
function Objective:columns()
  local cols = {}
  if #self.terms > 1 or self.regularizer then
    for _, t in ipairs(self.terms) do
      cols[#cols + 1] = { t.name, "raw" }
      cols[#cols + 1] = { t.name, "weighted" }
    end
    if self.regularizer then
      cols[#cols + 1] = { "reg", "raw" }
      cols[#cols + 1] = { "reg", "weighted" }
    end
  end
  return cols
end

function Objective:__tostring()
  local parts = {}
  for _, t in ipairs(self.terms) do
    local from = t.intermediate and ("intermediate '" .. t.intermediate .. "'") or ("output " .. t.output)
    parts[#parts + 1] = ("%s: %g * loss(%s)"):format(t.name, t.weight, from)
  end
  local s = table.concat(parts, "; ") .. (self.combine and " combined by a function" or "")
  if self.regularizer then
    s = s .. ("; reg: %g * %s%s"):format(self.reg_weight, tostring(self.regularizer), self.regularize and "" or " (off)")
  end
  return s
end

return M
