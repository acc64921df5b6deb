-- Missing names in torch, nn, nn.functional, nn.init, optim, optim.clear
-- and optim.lr_scheduler, and missing tensor methods: reading one raises
-- "<table>.<name> does not exist (did you mean ...?)" at this file's line,
-- instead of a nil that fails far away.  The corpus is generated from the
-- real names: each one misspelt (a letter dropped, two swapped, a letter
-- doubled, the case changed), and the closest name must be suggested.
-- Lazy names (torch.nn, torch.jit, torch.save) still load; names starting
-- with "_" stay nil; rawget probes optional names.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/badcalls_torch_names_spec.lua
local torch = require "torch"
local nn = require "torch.nn"
local optim = require "torch.optim"

local POS = "^spec/badcalls_torch_names_spec%.lua:%d+: "

local function names_of(tbl)
  local list = {}
  for k in pairs(tbl) do
    if type(k) == "string" and #k >= 4 and k:sub(1, 1) ~= "_" and k:match("^[%a_][%w_]*$") then list[#list + 1] = k end
  end
  table.sort(list)
  return list
end

-- misspellings of name that are not names of tbl themselves
local function typos(name, tbl)
  local out, seen = {}, {}
  local function add(s) if not seen[s] and rawget(tbl, s) == nil and s ~= name then seen[s] = true; out[#out + 1] = s end end
  add(name:sub(1, -2))                                        -- last letter dropped
  add(name:sub(1, 1) .. name:sub(3))                          -- second letter dropped
  local i = #name // 2
  add(name:sub(1, i - 1) .. name:sub(i + 1, i + 1) .. name:sub(i, i) .. name:sub(i + 2)) -- swap
  add(name:sub(1, i) .. name:sub(i, i) .. name:sub(i + 1))    -- doubled
  if name:lower() ~= name then add(name:lower()) else add(name:sub(1, 1):upper() .. name:sub(2)) end
  return out
end

local TABLES = {
  { "torch", torch }, { "nn", nn }, { "nn.functional", nn.functional }, { "nn.init", nn.init },
  { "optim", optim }, { "optim.clear", optim.clear }, { "optim.lr_scheduler", optim.lr_scheduler },
  { "nn.utils", nn.utils }, { "optim.swa_utils", optim.swa_utils },
}

local cases = {}
for _, t in ipairs(TABLES) do
  local api, tbl = t[1], t[2]
  for _, name in ipairs(names_of(tbl)) do
    for _, typo in ipairs(typos(name, tbl)) do cases[#cases + 1] = { api, tbl, typo, name } end
  end
end

describe("missing names", function()
  it("are hundreds of cases", function() assert.is_true(#cases >= 1000, "only " .. #cases) end)

  for i, c in ipairs(cases) do
    local api, tbl, typo, name = c[1], c[2], c[3], c[4]
    it(("#%d %s.%s"):format(i, api, typo), function()
      local ok, err = pcall(function() local _ = tbl[typo] end)
      assert.is_false(ok, "nil returned")
      assert.matches(POS, err)
      assert.matches(api .. "." .. typo .. " does not exist", err, 1, true)
      -- the intended name is among the suggestions, unless an equally close one crowds it out
      if not err:find("'" .. name .. "'", 1, true) then
        assert.matches("did you mean", err, 1, true)
      end
    end)
  end

  it("the examples of the issue", function()
    for _, c in ipairs { { function() return nn.Linaer end, "nn.Linaer does not exist (did you mean 'Linear'?)" },
                         { function() return torch.rnd end, "torch.rnd does not exist (did you mean" },
                         { function() return optim.SDG end, "did you mean 'SGD'" },
                         { function() return torch.nn.Conv2D end, "did you mean 'Conv2d'" },
                         { function() return optim.lr_scheduler.StepRL end, "did you mean 'StepLR'" } } do
      local ok, err = pcall(function() local _ = c[1]() end)
      assert.is_false(ok)
      assert.matches(c[2], err, 1, true)
    end
  end)

  it("lazy names still load, '_' names stay nil, rawget probes", function()
    assert.equal(nn, torch.nn)
    assert.equal(optim, torch.optim)
    assert.is_function(torch.save)
    assert.is_table(torch.jit)
    assert.is_table(optim.lr_scheduler)
    assert.is_nil(torch._private)
    assert.is_nil(nn.__call)
    assert.is_nil(rawget(torch, "distributed_probe"))
  end)

  -- tensor methods and properties
  local t = torch.zeros(2)
  local methods = {}
  for k in pairs(getmetatable(t).__fields) do
    if #k >= 4 and k:sub(1, 1) ~= "_" then methods[#methods + 1] = k end
  end
  table.sort(methods)
  local tcases = {}
  for _, name in ipairs(methods) do
    for _, typo in ipairs(typos(name, getmetatable(t).__fields)) do
      if typo ~= "grad" and typo ~= "data" and typo ~= "shape" and typo ~= "dtype" and typo ~= "ndim" and typo ~= "device"
        and typo ~= "is_leaf" and typo ~= "grad_fn" and typo ~= "requires_grad" then
        tcases[#tcases + 1] = { typo, name }
      end
    end
  end
  it("tensor typos are hundreds of cases", function() assert.is_true(#tcases >= 500, "only " .. #tcases) end)
  for i, c in ipairs(tcases) do
    it(("tensor #%d t:%s()"):format(i, c[1]), function()
      local ok, err = pcall(function() local _ = t[c[1]] end)
      assert.is_false(ok, "nil returned")
      assert.matches(POS, err)
      assert.matches("tensor has no method or property '" .. c[1] .. "'", err, 1, true)
    end)
  end
  it("t:sizee() suggests size", function()
    local ok, err = pcall(function() local _ = t:sizee() end)
    assert.is_false(ok)
    assert.matches("tensor has no method or property 'sizee' (did you mean 'size'", err, 1, true)
    assert.is_nil(t.__something)
  end)
end)
