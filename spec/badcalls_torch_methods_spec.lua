-- Methods called with '.' instead of ':' on every nn module class (native
-- and Lua), every optimizer (libtorch's and the clear twins) and every
-- scheduler: the message says "called with '.'" and how to call it, and
-- points at the caller's line (this file), never into the stdlib.  The
-- corpus is generated: every class x every public method x three wrong
-- selves (nil, a tensor, a number).
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/badcalls_torch_methods_spec.lua
local torch = require "torch"
local nn = require "torch.nn"
local optim = require "torch.optim"
local S = optim.lr_scheduler

local SELVES = { { "nil", function() return nil end }, { "a tensor", function() return torch.zeros(2) end },
                 { "a number", function() return 5 end } }
local NOT_METHODS = { extend = true, new = true, init = true, _call = true,
  generate_square_subsequent_mask = true } -- PyTorch's @staticmethod of nn.Transformer

-- the public methods a class answers, its own and inherited
local function methods_of(class, stop)
  local names, seen = {}, {}
  local c = class
  while c ~= nil and c ~= stop do
    for k, v in pairs(c) do
      if type(v) == "function" and type(k) == "string" and k:sub(1, 1) ~= "_" and not NOT_METHODS[k]
         and not seen[k] then
        seen[k] = true
        names[#names + 1] = k
      end
    end
    local mt = getmetatable(c)
    c = mt and type(mt.__index) == "table" and mt.__index or nil
  end
  table.sort(names)
  return names
end

local cases = {}
local function add(api, class, stop)
  for _, m in ipairs(methods_of(class, stop)) do
    for _, self in ipairs(SELVES) do
      cases[#cases + 1] = { api .. "." .. m .. " with " .. self[1] .. " as self", class, m, self[2] }
    end
  end
end

-- nn: every class the namespace holds
local nn_classes = {}
for name, v in pairs(nn) do
  if type(v) == "table" and rawget(v, "__instance") then nn_classes[#nn_classes + 1] = name end
end
table.sort(nn_classes)
for _, name in ipairs(nn_classes) do add("nn." .. name, nn[name]) end

-- optimizers: libtorch's and the clear twins
for _, name in ipairs { "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "LBFGS" } do
  add("optim." .. name, optim[name .. "_class"])
end
for _, name in ipairs { "SGD", "Adam", "AdamW" } do add("optim.clear." .. name, optim.clear[name .. "_class"]) end

-- schedulers, each class and the base
local sched_classes = {}
for name, v in pairs(S) do
  if type(v) == "table" and name:sub(-6) == "_class" then sched_classes[#sched_classes + 1] = name end
end
table.sort(sched_classes)
for _, name in ipairs(sched_classes) do add("lr_scheduler." .. name:sub(1, -7), S[name]) end
add("optim.swa_utils.AveragedModel", optim.swa_utils.AveragedModel)
add("optim.swa_utils.SWALR", optim.swa_utils.SWALR_class)

describe("methods called with '.'", function()
  it("are hundreds of cases", function()
    assert.is_true(#cases >= 300, "only " .. #cases)
    assert.is_true(#nn_classes >= 40, "only " .. #nn_classes .. " nn classes")
  end)
  for i, case in ipairs(cases) do
    local desc, class, name, make_self = case[1], case[2], case[3], case[4]
    it(("#%d %s"):format(i, desc), function()
      local self = make_self()
      local ok, err = pcall(function() local _ = class[name](self, torch.zeros(1)) end)
      assert.is_false(ok)
      assert.equal("string", type(err))
      assert.matches("^spec/badcalls_torch_methods_spec%.lua:%d+: ", err)
      assert.matches(name .. " called with '.'", err, 1, true)
      assert.matches("obj:" .. name, err, 1, true)
    end)
  end

  it("right calls still work", function()
    local m = nn.Linear(2, 3)
    assert.equal(2, #m:parameters())
    local opt = optim.SGD(m:parameters(), { lr = 0.1 })
    opt:zero_grad()
    local s = S.StepLR(opt, { step_size = 1 })
    s:step()
    assert.is_true(math.abs(opt:get_lr() - 0.01) < 1e-12)
  end)
end)
