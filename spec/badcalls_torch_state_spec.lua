-- load_state_dict that fails leaves the object exactly as it was.  For
-- every optimizer (libtorch's and the clear twins) and several schedulers,
-- a good state dict is corrupted one piece at a time in each of many ways
-- (generated: every group option, every state entry, the group and
-- parameter counts); each load must raise at this file's line and
-- state_dict() afterwards must equal the one before, bitwise, and the
-- object must still step.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/badcalls_torch_state_spec.lua
local torch = require "torch"
local optim = require "torch.optim"
local S = optim.lr_scheduler

local NAN = 0 / 0
local POS = "^spec/badcalls_torch_state_spec%.lua:%d+: "

local function copy(v)
  if torch.is_tensor(v) then return v:clone() end
  if type(v) ~= "table" then return v end
  local c = {}
  for k, x in pairs(v) do c[k] = copy(x) end
  return c
end

-- bitwise equality of two state dicts (tensors by dtype, shape and bytes)
local function same(a, b, path)
  path = path or "sd"
  if torch.is_tensor(a) or torch.is_tensor(b) then
    assert(torch.is_tensor(a) and torch.is_tensor(b), path .. ": tensor vs not")
    assert(a.dtype == b.dtype and table.concat(a:size(), ",") == table.concat(b:size(), ","), path .. ": shape/dtype")
    assert(a:numel() == 0 or torch.equal(a, b), path .. ": values differ")
    return
  end
  assert(type(a) == type(b), path .. ": " .. type(a) .. " vs " .. type(b))
  if type(a) ~= "table" then
    assert(a == b or (a ~= a and b ~= b), path .. ": " .. tostring(a) .. " vs " .. tostring(b))
    return
  end
  for k, v in pairs(a) do same(v, b[k], path .. "." .. tostring(k)) end
  for k in pairs(b) do assert(a[k] ~= nil, path .. "." .. tostring(k) .. " appeared") end
end

-- {======================= optimizers =======================
local function model()
  torch.manual_seed(7)
  return torch.randn(3, 2, { requires_grad = true }), torch.randn(2, { requires_grad = true })
end

local OPTIMIZERS = {
  { "SGD", function(W, b) return optim.SGD({ { params = { W } }, { params = { b }, lr = 0.05 } }, { lr = 0.1, momentum = 0.9 }) end },
  { "Adam", function(W, b) return optim.Adam({ { params = { W } }, { params = { b } } }, { lr = 0.01, amsgrad = true }) end },
  { "AdamW", function(W, b) return optim.AdamW({ W, b }, { lr = 0.01 }) end },
  { "RMSprop", function(W, b) return optim.RMSprop({ W, b }, { lr = 0.01, momentum = 0.5, centered = true }) end },
  { "Adagrad", function(W, b) return optim.Adagrad({ W, b }, { lr = 0.1 }) end },
  { "LBFGS", function(W, b) return optim.LBFGS({ W, b }, { lr = 0.5, history_size = 3, max_iter = 3 }) end },
  { "clear.SGD", function(W, b) return optim.clear.SGD({ { params = { W } }, { params = { b } } }, { lr = 0.1, momentum = 0.9 }) end },
  { "clear.Adam", function(W, b) return optim.clear.Adam({ W, b }, { lr = 0.01 }) end },
  { "clear.AdamW", function(W, b) return optim.clear.AdamW({ W, b }, { lr = 0.01, amsgrad = true }) end },
}

local function stepped(make)
  local W, b = model()
  local opt = make(W, b)
  local function closure()
    opt:zero_grad()
    local loss = (torch.ones(4, 3):matmul(W) + b):pow(2):sum()
    loss:backward()
    return loss
  end
  for _ = 1, 2 do opt:step(closure) end
  return opt, closure
end

-- the corruptions of a good state dict sd (a list of {name, mutate(sd)})
local function corruptions(sd, clear)
  local list = {
    { "nil", function() return nil end }, { "a string", function() return "state.pt" end },
    { "no param_groups", function(d) d.param_groups = nil return d end },
    { "no state", function(d) d.state = nil return d end },
    { "an extra group", function(d) d.param_groups[#d.param_groups + 1] = copy(d.param_groups[1]) return d end },
    { "no groups", function(d) d.param_groups = {} return d end },
    { "state of parameter 99", function(d) d.state[99] = copy(d.state[1]) return d end },
    { "state under a string key", function(d) d.state.x = copy(d.state[1]) return d end },
    { "state of parameter 1 a string", function(d) d.state[1] = "x" return d end },
  }
  for g, group in ipairs(sd.param_groups) do
    list[#list + 1] = { ("group %d with a parameter too many"):format(g), function(d)
      d.param_groups[g].params[#group.params + 1] = 99 return d end }
    list[#list + 1] = { ("group %d with no params"):format(g), function(d) d.param_groups[g].params = nil return d end }
    list[#list + 1] = { ("group %d with an unknown option"):format(g), function(d) d.param_groups[g].lrr = 0.1 return d end }
    local keys = {}
    for k in pairs(group) do if k ~= "params" then keys[#keys + 1] = k end end
    table.sort(keys)
    for _, k in ipairs(keys) do
      local v = group[k]
      list[#list + 1] = { ("group %d %s of another type"):format(g, k), function(d)
        d.param_groups[g][k] = type(v) == "string" and 5 or "x" return d end }
      if type(v) == "number" then
        list[#list + 1] = { ("group %d %s = nan"):format(g, k), function(d) d.param_groups[g][k] = NAN return d end }
        list[#list + 1] = { ("group %d %s negative"):format(g, k), function(d) d.param_groups[g][k] = -1 return d end }
      end
      if type(v) ~= "boolean" and k ~= "max_eval" and k ~= "line_search_fn" then
        list[#list + 1] = { ("group %d without %s"):format(g, k), function(d) d.param_groups[g][k] = nil return d end }
      end
    end
  end
  -- the last parameter's state: the earlier ones would load first
  local last = 0
  for k in pairs(sd.state) do if math.type(k) == "integer" and k > last then last = k end end
  local entries = {}
  for k in pairs(sd.state[last] or {}) do entries[#entries + 1] = k end
  table.sort(entries)
  for _, e in ipairs(entries) do
    local v = sd.state[last][e]
    list[#list + 1] = { ("state %d.%s a string"):format(last, e), function(d) d.state[last][e] = "x" return d end }
    list[#list + 1] = { ("state %d.%s nan"):format(last, e), function(d) d.state[last][e] = NAN return d end }
    if torch.is_tensor(v) and v:dim() > 0 then
      list[#list + 1] = { ("state %d.%s of another shape"):format(last, e), function(d)
        d.state[last][e] = torch.zeros(v:numel() + 1) return d end }
    end
    if torch.is_tensor(v) and v:dim() >= 2 then
      list[#list + 1] = { ("state %d.%s 0-d"):format(last, e), function(d)
        d.state[last][e] = torch.tensor(1.0) return d end }
    end
  end
  if not clear and entries[1] then
    -- libtorch knows its state names: an unknown one fails inside the load
    list[#list + 1] = { ("state %d with an unknown entry"):format(last), function(d)
      d.state[last].foo = 1.5 return d end }
  end
  return list
end

describe("optimizer load_state_dict that fails", function()
  local count = 0
  for _, o in ipairs(OPTIMIZERS) do
    local name, make = o[1], o[2]
    local opt0 = stepped(make)
    for _, c in ipairs(corruptions(opt0:state_dict(), name:find("clear") ~= nil)) do
      count = count + 1
      it(("%s: %s"):format(name, c[1]), function()
        local opt, closure = stepped(make)
        local before = opt:state_dict()
        local bad = c[2](copy(before))
        local ok, err = pcall(function() local _ = opt:load_state_dict(bad) end)
        assert.is_false(ok, "accepted")
        assert.matches(POS, err)
        assert.matches("load_state_dict", err, 1, true)
        same(before, opt:state_dict())
        opt:step(closure) -- still usable
      end)
    end
  end
  it("are hundreds of cases", function() assert.is_true(count >= 200, "only " .. count) end)

  it("a good state dict still loads, bitwise", function()
    for _, o in ipairs(OPTIMIZERS) do
      local a = stepped(o[2])
      local b = o[2](model())
      b:load_state_dict(a:state_dict())
      same(a:state_dict(), b:state_dict())
    end
  end)
end)
-- }=================================================================

-- {======================= schedulers =======================
local function opt() return optim.SGD({ torch.zeros(2, { requires_grad = true }) }, { lr = 0.1, momentum = 0.9 }) end
local SCHEDULERS = {
  { "StepLR", function(o) return S.StepLR(o, { step_size = 2 }) end },
  { "ExponentialLR", function(o) return S.ExponentialLR(o, { gamma = 0.9 }) end },
  { "CosineAnnealingLR", function(o) return S.CosineAnnealingLR(o, { T_max = 5 }) end },
  { "OneCycleLR", function(o) return S.OneCycleLR(o, { max_lr = 1, total_steps = 20 }) end },
  { "ReduceLROnPlateau", function(o) return S.ReduceLROnPlateau(o, { patience = 1 }) end },
  { "MultiStepLR", function(o) return S.MultiStepLR(o, { milestones = { 2, 4 } }) end },
}

local function stepped_sched(make)
  local o = opt()
  local s = make(o)
  for i = 1, 3 do if getmetatable(s) == S.ReduceLROnPlateau_class then s:step(1.0 / i) else s:step() end end
  return s
end

describe("scheduler load_state_dict that fails", function()
  local count = 0
  for _, sc in ipairs(SCHEDULERS) do
    local name, make = sc[1], sc[2]
    local sd = stepped_sched(make):state_dict()
    local list = { { "a string", function() return "x" end }, { "another scheduler's", function(d) d.name = "Other" return d end },
                   { "an unknown key", function(d) d.last_epcoh = 3 return d end } }
    local keys = {}
    for k in pairs(sd) do keys[#keys + 1] = k end
    table.sort(keys)
    for _, k in ipairs(keys) do
      local v = sd[k]
      if k ~= "name" then
        list[#list + 1] = { k .. " of another type", function(d) d[k] = type(v) == "string" and 5 or "x" return d end }
      end
      if type(v) == "number" then
        list[#list + 1] = { k .. " nan", function(d) d[k] = NAN return d end }
        if math.type(v) == "integer" then list[#list + 1] = { k .. " fractional", function(d) d[k] = 1.5 return d end } end
      elseif type(v) == "table" and #v > 0 then
        list[#list + 1] = { k .. " with an entry of another type", function(d) d[k][1] = "x" return d end }
        if k == "base_lrs" or k == "_last_lr" or k == "min_lrs" then
          list[#list + 1] = { k .. " with an entry too many", function(d) d[k][#v + 1] = 0.1 return d end }
        end
      end
    end
    for _, c in ipairs(list) do
      count = count + 1
      it(("%s: %s"):format(name, c[1]), function()
        local s = stepped_sched(make)
        local before = s:state_dict()
        local ok, err = pcall(function() local _ = s:load_state_dict(c[2](copy(before))) end)
        assert.is_false(ok, "accepted")
        assert.matches(POS, err)
        same(before, s:state_dict())
      end)
    end
  end

  it("ChainedScheduler: a bad second state changes neither", function()
    local o = opt()
    local a, b = S.StepLR(o, { step_size = 2 }), S.ExponentialLR(o, { gamma = 0.9 })
    local ch = S.ChainedScheduler { a, b }
    ch:step()
    local before = ch:state_dict()
    local bad = copy(before)
    bad.schedulers[2].gamma = "x"
    local ok, err = pcall(function() local _ = ch:load_state_dict(bad) end)
    assert.is_false(ok)
    assert.matches(POS, err)
    same(before, ch:state_dict())
    count = count + 1
  end)
  it("are many cases", function() assert.is_true(count >= 60, "only " .. count) end)
end)
-- }=================================================================
