-- clara.analyze.trace: one forward pass of an nn.Module that sees every
-- submodule's call: its inputs and its outputs.
--
--   trace.run(model, args, on_call, who) -> outputs (packed) | nil, message
--   on_call(name, module, inputs, outputs)   -- packed lists, every call
-- A failure comes back as a message for the public function to raise at
-- its caller's line.
--
-- Each module's forward is wrapped for the pass (an instance field that
-- shadows the class's method, removed afterwards).  Forward hooks would
-- not do: they see only outputs, while some counts need the inputs (a
-- transposed convolution, a recurrent layer's sequence length), and a
-- failing pass must name the layer it failed in, which only a wrapper
-- around the call knows.
local torch = require "torch"
local common = require "clara.analyze.common"

local M = {}

local function input_text(args)
  local parts = {}
  for i = 1, args.n do
    local v = args[i]
    parts[#parts + 1] = torch.is_tensor(v) and common.shape_text(v:size()) or type(v)
  end
  return table.concat(parts, ", ")
end

-- wraps every module's forward; returns the function that unwraps them
local function instrument(model, on_call, state)
  local undo = {}
  for _, e in ipairs(common.named_modules(model)) do
    local name, m = e[1], e[2]
    local own = rawget(m, "forward") -- a forward set on the instance, kept
    local fwd = own or m.forward
    rawset(m, "forward", function(self, ...)
      local args = table.pack(...)
      local r = table.pack(pcall(fwd, self, ...))
      if not r[1] then
        -- the innermost failing module reports first; outer ones pass it on
        if not state.failed then state.failed = { name = name, module = m, args = args } end
        error(r[2], 0)
      end
      local out = table.pack(table.unpack(r, 2, r.n))
      on_call(name, m, args, out)
      return table.unpack(out, 1, out.n)
    end)
    undo[#undo + 1] = function() rawset(m, "forward", own) end
  end
  return function() for _, f in ipairs(undo) do f() end end
end

-- the pass, with the layer that failed named in the error
function M.run(model, args, on_call, who)
  local state = {}
  local unwrap = instrument(model, on_call, state)
  local r = table.pack(pcall(model._call, model, table.unpack(args, 1, args.n)))
  unwrap()
  if r[1] then return table.pack(table.unpack(r, 2, r.n)) end
  local f = state.failed
  if not f then return nil, ("%s: the forward pass failed: %s"):format(who, common.strip_position(r[2])) end
  local layer = f.name == "" and "the model" or ("layer '" .. f.name .. "'")
  return nil, ("%s: the forward pass failed in %s (%s) on input %s: %s"):format(who, layer,
    common.type_name(f.module), input_text(f.args), common.strip_position(r[2]))
end

-- a TorchScript model runs as one call: no layer to name
function M.run_script(model, args, who)
  local r = table.pack(pcall(function() return model(table.unpack(args, 1, args.n)) end))
  if r[1] then return table.pack(table.unpack(r, 2, r.n)) end
  return nil, ("%s: the forward pass of the TorchScript model failed on input %s: %s")
    :format(who, input_text(args), common.strip_position(r[2]))
end

return M
