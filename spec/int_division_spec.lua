-- Integer division: x / 0 and the smallest int64/int32 divided by -1 trap
-- (SIGFPE) in the CPU's divide instruction, so clara refuses them before
-- libtorch's kernel runs; every other pair gives Lua's own integer answer
-- (// and % floor, math.fmod truncates), which is PyTorch's too.
local torch = require "torch"

local MIN = { int64 = math.mininteger, int32 = -(1 << 31) }
local OPS = {
  floor_divide = { function(a, b) return torch.floor_divide(a, b) end, function(x, y) return x // y end },
  remainder = { function(a, b) return torch.remainder(a, b) end, function(x, y) return x % y end },
  fmod = { function(a, b) return torch.fmod(a, b) end, math.fmod },
  ["//"] = { function(a, b) return a // b end, function(x, y) return x // y end },
  ["%"] = { function(a, b) return a % b end, function(x, y) return x % y end },
  div_floor = { function(a, b) return torch.div(a, b, { rounding_mode = "floor" }) end,
                function(x, y) return x // y end },
  div_trunc = { function(a, b) return torch.div(a, b, { rounding_mode = "trunc" }) end,
                function(x, y) local q = x // y; if q < 0 and q * y ~= x then q = q + 1 end return q end },
}

local function cases()
  local out = {}
  for name, op in pairs(OPS) do
    for _, dtype in ipairs { "int64", "int32", "int16", "int8", "uint8" } do
      local lo = MIN[dtype]
      -- hostile: a zero divisor, as a tensor and as a number, alone or among others
      out[#out + 1] = { name, op, dtype, { 5 }, { 0 }, "division by zero" }
      out[#out + 1] = { name, op, dtype, { 1, 2, 3 }, { 1, 0, 1 }, "division by zero" }
      out[#out + 1] = { name, op, dtype, { 7 }, 0, "division by zero" }
      if lo then
        out[#out + 1] = { name, op, dtype, { lo }, { -1 }, "overflow" }
        out[#out + 1] = { name, op, dtype, { 3, lo }, -1, "overflow" }
        out[#out + 1] = { name, op, dtype, { lo, 4 }, { { -1 }, { 2 } }, "overflow" } -- broadcast
        out[#out + 1] = { name, op, dtype, { lo }, { 2 } } -- fine: no overflow
      end
      for _, pair in ipairs { { 7, 2 }, { -7, 2 }, { 7, -2 }, { -7, -2 }, { 0, 3 }, { 6, 3 } } do
        if dtype ~= "uint8" or (pair[1] >= 0 and pair[2] >= 0) then
          out[#out + 1] = { name, op, dtype, { pair[1] }, { pair[2] } }
        end
      end
    end
  end
  return out
end

describe("integer division", function()
  local all = cases()
  it("covers every op, dtype and hostile pair (" .. #all .. " cases)", function()
    assert.is_true(#all >= 300)
  end)
  for _, c in ipairs(all) do
    local name, op, dtype, a, b, err = table.unpack(c)
    local label = ("%s %s %s by %s"):format(name, dtype, table.concat(a, ","),
      type(b) == "table" and (type(b[1]) == "table" and "column" or table.concat(b, ",")) or tostring(b))
    it(label, function()
      local ta = torch.tensor(a, { dtype = dtype })
      local tb = type(b) == "table" and torch.tensor(b, { dtype = dtype }) or b
      local ok, res = pcall(op[1], ta, tb)
      if err then
        assert.is_false(ok)
        assert.matches(err, res, 1, true)
        assert.matches("int_division_spec.lua:%d+:", res)
      else
        assert.is_true(ok, res)
        local want = op[2](a[1], type(b) == "table" and b[1] or b)
        assert.equal(want, res:item())
      end
    end)
  end
  it("div's rounding_mode option is checked", function()
    local t = torch.tensor { 7 }
    assert.error_matches(function() torch.div(t, 2, { rounding_mode = "round" }) end, "'trunc' or 'floor'")
    assert.error_matches(function() torch.div(t, 2, { roundingmode = "floor" }) end,
      "did you mean 'rounding_mode'")
    assert.equal(3.5, torch.div(t, 2):item())
    assert.equal(3.5, torch.div(t, 2, { rounding_mode = nil }):item())
    assert.equal(-4.0, torch.div(torch.tensor { -7.0 }, 2, { rounding_mode = "floor" }):item())
  end)
  it("binary ops without options refuse an options table", function()
    assert.error_matches(function() torch.mul(torch.ones(2), 2, { alpha = 2 }) end, "takes no options")
  end)
end)
