-- clara.train.select: what a loss term or a metric reads from a batch's
-- results: output k of the model, an intermediate result captured by
-- name, and target k of the batch.  The objective's terms and the
-- experiment's metrics both read through here.
local E = require "clara.error"

local M = {}

local API = "clara.objective"

-- an output (kind "output", key k) or an intermediate result (kind
-- "intermediate", key its submodule's name)
function M.pick(kind, key, outputs, captured)
  if kind == "intermediate" then
    local v = captured[key]
    if v == nil then E.raise(API, "no intermediate result '%s' was captured", tostring(key)) end
    return v
  end
  local v = outputs[key]
  if v == nil then
    E.raise(API, "the model returned %d output(s), output %s was asked for", #outputs, tostring(key))
  end
  return v
end

-- a metric entry's reader: read(outputs, captured, targets) -> value, target
-- (the user's select when given, else its output or intermediate and its
-- target, none when target = false)
function M.reader(entry)
  if entry.select then return entry.select end
  local kind = entry.intermediate and "intermediate" or "output"
  local key = entry.intermediate or entry.output
  local t = entry.target
  return function(outputs, captured, targets)
    return M.pick(kind, key, outputs, captured), t and targets[t] or nil
  end
end

return M
