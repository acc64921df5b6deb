-- Module:clone(): a deep copy of a model, as Python's copy.deepcopy makes
-- one.  Parameters become new parameters (same values and requires_grad,
-- no grad), buffers new tensors; a tensor or module reached twice (tied
-- weights, shared children) is copied once and stays shared.  A native
-- module is rebuilt from its constructor's arguments (a libtorch module
-- cannot be copied from Lua), then given the original's values.  Functions
-- and other userdata are shared, as deepcopy shares functions.
local torch = require "torch"
local E = require "clara.error"

-- the instance's own bookkeeping, rebuilt rather than copied field by field
local OWN = { _parameters = true, _param_order = true, _buffers = true, _buffer_order = true,
              _modules = true, _module_order = true, _handle = true, _args = true }

return function(Parameter, is_module)
  local copy_value

  local function copy_tensor(t, memo)
    local c = t:detach():clone()
    if t.requires_grad then c:requires_grad_(true) end
    memo[t] = c
    return c
  end

  local function copy_table(t, memo)
    local c = {}
    memo[t] = c
    for k, v in pairs(t) do c[copy_value(k, memo)] = copy_value(v, memo) end
    return setmetatable(c, getmetatable(t))
  end

  local function copy_list(t)
    local c = {}
    for i, v in ipairs(t) do c[i] = v end
    return c
  end

  -- the fields a constructor does not set: the user's own
  local function copy_fields(m, c, memo)
    for k, v in pairs(m) do
      if not OWN[k] and rawget(c, k) == nil then rawset(c, k, copy_value(v, memo)) end
    end
  end

  local function clone_native(m, memo)
    local class, args = getmetatable(m).__class, rawget(m, "_args")
    if args == nil then
      E.raise("nn.Module:clone", "cannot copy %s: it was not made by its constructor", m:_get_name())
    end
    local c = class(table.unpack(args, 1, args.n))
    memo[m] = c
    local params = rawget(c, "_parameters")
    torch.no_grad(function()
      for name, p in pairs(rawget(m, "_parameters")) do
        if memo[p] ~= nil then
          c[name] = memo[p] -- tied to a parameter copied before
        else
          -- .data, not copy_: the copy keeps a placed model's dtype and device
          params[name].data = p:detach():clone()
          params[name]:requires_grad_(p.requires_grad)
          memo[p] = params[name]
        end
      end
      for name, b in pairs(rawget(m, "_buffers")) do
        rawget(c, "_buffers")[name].data = b:detach():clone()
        memo[b] = rawget(c, "_buffers")[name]
      end
    end)
    c:train(rawget(m, "training"))
    copy_fields(m, c, memo)
    return c
  end

  local function clone_lua(m, memo)
    local c = setmetatable({}, getmetatable(m))
    memo[m] = c
    local params, buffers, mods = {}, {}, {}
    for name, p in pairs(rawget(m, "_parameters")) do
      params[name] = memo[p] or Parameter(copy_tensor(p, memo), p.requires_grad)
    end
    for name, b in pairs(rawget(m, "_buffers")) do buffers[name] = copy_value(b, memo) end
    for name, child in pairs(rawget(m, "_modules")) do mods[name] = copy_value(child, memo) end
    rawset(c, "_parameters", params)
    rawset(c, "_buffers", buffers)
    rawset(c, "_modules", mods)
    for _, order in ipairs { "_param_order", "_buffer_order", "_module_order" } do
      rawset(c, order, copy_list(rawget(m, order)))
    end
    copy_fields(m, c, memo)
    return c
  end

  function copy_value(v, memo)
    if memo[v] ~= nil then return memo[v] end
    if torch.is_tensor(v) then return copy_tensor(v, memo) end
    if is_module(v) then
      if rawget(v, "_handle") ~= nil then return clone_native(v, memo) end
      return clone_lua(v, memo)
    end
    if type(v) == "table" then return copy_table(v, memo) end
    return v
  end

  return function(self) return copy_value(self, {}) end
end
