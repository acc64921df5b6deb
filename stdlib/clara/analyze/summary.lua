-- clara.analyze.summary(model, input, opts): what a model is made of and
-- what one forward pass costs, layer by layer.
--
--   local s = clara.analyze.summary(net, {1, 28, 28}, {batch = 32})
--   print(s)                       -- a table like Keras' / torchinfo's
--   s.rows[i]   {name = "0" (PyTorch's dotted name; "" the model), type = "Conv2d",
--                depth, leaf, calls, input_shapes, output_shape, output_shapes,
--                own_params, params (with children), trainable, macs, flops}
--   s:row("features.0")
--   s.totals    {params, trainable, non_trainable, param_bytes, buffers, buffer_bytes,
--                macs, flops, activation_bytes, input_bytes}
--
-- input: a shape without the batch dimension ({1, 28, 28}; opts.batch,
-- default 1, is put in front), an example tensor (used as it is), a list
-- of either for a model with several inputs, or nil (parameters only).
-- Generated inputs are random normal (opts.dtype = "int64" gives zeros,
-- e.g. for an Embedding); the global RNG is left as it was.
-- The pass runs once, in eval mode (every module's mode is put back
-- after), without gradients.  MACs and FLOPs follow clara.analyze.flops;
-- activation_bytes adds up the outputs of the leaf layers (those without
-- children) for the whole batch.  A TorchScript model runs as one call:
-- its rows have parameters but no shapes nor MACs.
local torch = require "torch"
local E = require "clara.error"
local common = require "clara.analyze.common"
local trace = require "clara.analyze.trace"
local flops = require "clara.analyze.flops"

local WHO = "clara.analyze.summary"

local Summary = {}
Summary.__index = Summary

-- {{name, value}, ...} tensors -> element count, and of those that train
local function count(list)
  local n, trainable = 0, 0
  for _, p in ipairs(list) do
    n = n + p:numel()
    if p.requires_grad then trainable = trainable + p:numel() end
  end
  return n, trainable
end

-- {{1, 28, 28}} or {tensor, ...} -> packed arguments
local function check_shape(shape, level)
  for _, d in ipairs(shape) do
    if math.type(d) ~= "integer" and not (type(d) == "number" and d == math.floor(d)) or d < 1 then
      local shown = {}
      for i, v in ipairs(shape) do shown[i] = tostring(v) end
      E.raise(nil, ("%s: an input shape must be a list of positive integers (without the batch dimension), got {%s}")
        :format(WHO, table.concat(shown, ", ")))
    end
  end
end

local function make_inputs(input, opts, level)
  if torch.is_tensor(input) then return table.pack(input) end
  if type(input) ~= "table" or #input == 0 then
    E.raise(nil, ("%s: input must be a shape ({1, 28, 28}), an example tensor or a list of them, got %s")
      :format(WHO, type(input) == "table" and "an empty table" or type(input)))
  end
  local list = (type(input[1]) == "table" or torch.is_tensor(input[1])) and input or { input }
  local args = { n = #list }
  for i, v in ipairs(list) do
    if torch.is_tensor(v) then
      args[i] = v
    else
      if type(v) ~= "table" then
        E.raise(nil, ("%s: input %d must be a shape or a tensor, got %s"):format(WHO, i, type(v)))
      end
      check_shape(v, level + 1)
      local shape = { opts.batch }
      for _, d in ipairs(v) do shape[#shape + 1] = math.tointeger(d) end
      local dtype = opts.dtype or "float32"
      if dtype == "float32" or dtype == "float64" or dtype == "float16" or dtype == "bfloat16" then
        args[i] = torch.randn(shape, { dtype = dtype })
      else
        args[i] = torch.zeros(shape, { dtype = dtype })
      end
    end
  end
  return args
end

local function shapes_of(packed)
  local list = {}
  for i, t in ipairs(common.tensors(packed)) do list[i] = t:size() end
  return list
end

-- 1. one row per module, parameters counted
local function new_rows(model)
  local rows, by_module = {}, {}
  for _, e in ipairs(common.named_modules(model)) do
    local name, m = e[1], e[2]
    local own = {}
    for _, p in ipairs(common.own_parameters(m)) do own[#own + 1] = p[2] end
    local params, trainable = count(m:parameters())
    local row = {
      name = name, type = common.type_name(m), depth = name == "" and 0 or select(2, name:gsub("%.", "")) + 1,
      leaf = not common.has_children(m), calls = 0, own_params = (count(own)), params = params,
      trainable = trainable,
    }
    rows[#rows + 1], by_module[m] = row, row
  end
  return rows, by_module
end

-- 2. the pass: shapes, MACs, activation bytes
local function trace_pass(self, model, args, by_module)
  local totals = self.totals
  local out, err = torch.no_grad(function()
    return trace.run(model, args, function(_, m, inputs, outputs)
      local row = by_module[m]
      row.calls = row.calls + 1
      row.input_shapes, row.output_shapes = shapes_of(inputs), shapes_of(outputs)
      row.output_shape = row.output_shapes[1]
      local macs, fl = flops.count(m, row.type, inputs, outputs)
      if macs then row.macs, row.flops = (row.macs or 0) + macs, (row.flops or 0) + fl end
      if row.leaf then
        for _, t in ipairs(common.tensors(outputs)) do totals.activation_bytes = totals.activation_bytes + common.bytes(t) end
      end
    end, WHO)
  end)
  return out, err
end

local function run_pass(self, model, args)
  if self.kind == "script" then
    local out, err = torch.no_grad(function() return trace.run_script(model, args, WHO) end)
    if out then
      local root = self.rows[1]
      root.calls, root.input_shapes, root.output_shapes = 1, shapes_of(args), shapes_of(out)
      root.output_shape = root.output_shapes[1]
    end
    return out, err
  end
  return trace_pass(self, model, args, self.by_module)
end

-- 3. the totals over the model
local function add_totals(self, model)
  local t = self.totals
  t.params, t.trainable = count(model:parameters())
  t.non_trainable = t.params - t.trainable
  t.param_bytes, t.buffer_bytes, t.buffers = 0, 0, 0
  for _, p in ipairs(model:parameters()) do t.param_bytes = t.param_bytes + common.bytes(p) end
  for _, b in ipairs(model:buffers()) do
    t.buffers, t.buffer_bytes = t.buffers + b:numel(), t.buffer_bytes + common.bytes(b)
  end
  if not self.args or self.kind == "script" then return end
  t.macs, t.flops = 0, 0
  for _, row in ipairs(self.rows) do
    if row.macs then t.macs, t.flops = t.macs + row.macs, t.flops + row.flops end
    if row.leaf and row.calls > 0 and not row.macs then self.uncounted[#self.uncounted + 1] = row end
  end
end

local function summary(model, input, opts)
  local kind = common.check_model(WHO, model)
  opts = common.options(WHO, opts, 2, { "batch", "dtype" })
  local batch = common.positive(WHO, opts, "batch", 1, 2)
  local rows, by_module = new_rows(model)
  local self = setmetatable({ kind = kind, model_type = common.type_name(model), rows = rows, by_module = by_module,
    batch = batch, totals = { activation_bytes = 0, input_bytes = 0 }, uncounted = {} }, Summary)
  if input ~= nil then
    -- eval mode, and the user's RNG stream untouched by the random input
    local rng = torch.get_rng_state()
    local args = make_inputs(input, { batch = batch, dtype = opts.dtype }, 2)
    local restore = common.save_modes(model)
    model:eval()
    local out, err = run_pass(self, model, args)
    torch.set_rng_state(rng)
    restore()
    if not out then E.raise(nil, err) end
    self.args, self.batch = args, torch.is_tensor(args[1]) and args[1]:dim() > 0 and args[1]:size(1) or batch
    self.input_shapes, self.output_shapes = shapes_of(args), shapes_of(out)
    for _, x in ipairs(common.tensors(args)) do self.totals.input_bytes = self.totals.input_bytes + common.bytes(x) end
  end
  add_totals(self, model)
  self.by_module, self.args = nil, nil
  return self
end

function Summary:row(name)
  for _, r in ipairs(self.rows) do if r.name == name then return r end end
  return nil
end

-- {======================================================
-- Printing
-- =======================================================

local function name_cell(r)
  local s = r.name == "" and r.type or (string.rep("  ", r.depth - 1) .. r.name .. " (" .. r.type .. ")")
  if r.calls > 1 then s = s .. " x" .. r.calls end
  return s
end

local function shape_cell(r)
  if not r.output_shapes or #r.output_shapes == 0 then return "--" end
  local parts = {}
  for i, s in ipairs(r.output_shapes) do parts[i] = common.shape_text(s) end
  return table.concat(parts, ", ")
end

local function macs_cell(r)
  if r.macs then return common.int_text(r.macs) end
  if r.leaf and r.calls > 0 then return "?" end
  return "--"
end

local function params_cell(r)
  if r.own_params == 0 and not r.leaf then return "--" end
  return common.int_text(r.own_params)
end

local function table_lines(self)
  local head = { "Layer (type)", "Output shape", "Param #", "MACs" }
  local cells, width = {}, { #head[1], #head[2], #head[3], #head[4] }
  for i, r in ipairs(self.rows) do
    cells[i] = { name_cell(r), shape_cell(r), params_cell(r), macs_cell(r) }
    for j, c in ipairs(cells[i]) do width[j] = math.max(width[j], #c) end
  end
  local function line(c)
    return ("%-" .. width[1] .. "s   %-" .. width[2] .. "s   %" .. width[3] .. "s   %" .. width[4] .. "s")
      :format(c[1], c[2], c[3], c[4])
  end
  local rule = string.rep("=", #line(head))
  local lines = { rule, line(head), rule }
  for _, c in ipairs(cells) do lines[#lines + 1] = line(c) end
  lines[#lines + 1] = rule
  return lines, rule
end

local function footer_lines(self, lines)
  local t = self.totals
  local function add(fmt, ...) lines[#lines + 1] = fmt:format(...) end
  add("Total params: %s (%s)", common.int_text(t.params), common.bytes_text(t.param_bytes))
  add("Trainable params: %s", common.int_text(t.trainable))
  add("Non-trainable params: %s", common.int_text(t.non_trainable))
  if t.buffers > 0 then add("Buffers: %s (%s)", common.int_text(t.buffers), common.bytes_text(t.buffer_bytes)) end
  if not self.input_shapes then
    add("(no input given: output shapes and MACs need an input shape)")
    return
  end
  local shapes = {}
  for i, s in ipairs(self.input_shapes) do shapes[i] = common.shape_text(s) end
  add("Input: %s (%s), batch %d", table.concat(shapes, ", "), common.bytes_text(t.input_bytes), self.batch)
  if self.kind == "script" then
    add("(a TorchScript model runs as one call: no per-layer shapes nor MACs)")
    return
  end
  local function both(n) return n < 1000 and common.int_text(n) or common.int_text(n) .. " (" .. common.count_text(n) .. ")" end
  add("MACs: %s   FLOPs: %s", both(t.macs), both(t.flops))
  add("Activations (outputs of leaf layers): %s", common.bytes_text(t.activation_bytes))
  add("Params + activations + input: %s", common.bytes_text(t.param_bytes + t.activation_bytes + t.input_bytes))
  if #self.uncounted > 0 then
    local names = {}
    for i, r in ipairs(self.uncounted) do names[i] = (r.name == "" and "(model)" or r.name) .. " (" .. r.type .. ")" end
    add("MACs not counted (no rule for these layers): %s", table.concat(names, ", "))
  end
end

function Summary:__tostring()
  local lines, rule = table_lines(self)
  footer_lines(self, lines)
  lines[#lines + 1] = rule
  return table.concat(lines, "\n")
end

-- }======================================================

E.methods(Summary, "clara.analyze.summary")

return summary
