-- Silent wrong results (issue 11, section 2), checked against PyTorch:
-- bce's gradient at and within 1e-12 of 0 and 1, triplet_margin with eps = 0
-- and anchor == positive (spec/fixtures/losses_edge.lua, written by
-- tests/fixtures/make_losses_edge.py), and the regression metrics on an
-- empty batch, which they accept as the classification metrics do.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/badcalls_clara_results_spec.lua

local torch = require "torch"
local clara = require "clara"

local cases = dofile("spec/fixtures/losses_edge.lua")

local function close(got, want, tol)
  if want ~= want then return got ~= got end
  if want == math.huge or want == -math.huge then return got == want end
  return got == got and math.abs(got - want) <= tol * math.max(1, math.abs(want))
end

local function assert_list(got, want, tol, what)
  assert.equal(#want, #got, what .. ": length")
  for i = 1, #want do
    assert.is_true(close(got[i], want[i], tol),
      ("%s[%d]: clara %s, PyTorch %s"):format(what, i, tostring(got[i]), tostring(want[i])))
  end
end

local function flat(t) return t:reshape(-1):double():totable() end

describe("losses at the edges agree with PyTorch", function()
  for i, c in ipairs(cases) do
    local title = ("#%d %s %s %s"):format(i, c.loss, c.dtype, require("cjson").encode(c.opts))
    it(title, function()
      local args, opts = {}, {}
      for k, a in ipairs(c.args) do
        args[k] = torch.tensor(a.data, { dtype = c.dtype }):reshape(a.shape)
      end
      for k, v in pairs(c.opts) do opts[k] = v end
      local nin = c.loss == "bce" and 1 or 3
      local weight = opts.weight
      if weight then opts.weight = args[weight]; args[weight] = nil end
      local inputs = {}
      for k = 1, nin do args[k] = args[k]:clone():requires_grad_(true); inputs[k] = args[k] end
      local call = { table.unpack(args, 1, c.loss == "bce" and 2 or 3) }
      call[#call + 1] = opts
      local loss = clara.losses[c.loss](table.unpack(call))
      local tol = c.dtype == "float32" and 1e-5 or 1e-10
      assert_list(flat(loss), c.value, tol, "loss")
      if loss:dim() > 0 then
        loss = (loss * torch.linspace(0.5, 1.5, loss:numel(), { dtype = c.dtype })):sum()
      end
      loss:backward()
      for k = 1, nin do assert_list(flat(inputs[k].grad), c.grads[k], tol, "grad " .. k) end
    end)
  end
end)

describe("regression metrics accept an empty batch as the classification metrics do", function()
  local empty = {
    { "(0)", function() return torch.zeros(0), torch.zeros(0) end },
    { "(0, 1) against (0)", function() return torch.zeros(0, 1), torch.zeros(0) end },
    { "(0, 3)", function() return torch.zeros(0, 3), torch.zeros(0, 3) end },
    { "(0, 2, 2) float64", function() return torch.zeros(0, 2, 2, { dtype = "float64" }), torch.zeros(0, 2, 2) end },
  }
  local full = { torch.tensor { 1.0, 2.0, 4.0 }, torch.tensor { 1.5, 2.0, 3.0 } }
  for _, name in ipairs { "mae", "mse", "rmse", "r2" } do
    for _, e in ipairs(empty) do
      it(name .. " " .. e[1] .. " alone: compute gives nil and a message, like accuracy", function()
        local m = clara.metrics[name]()
        m:update(e[2]())
        local v, msg = m:compute()
        local a = clara.metrics.accuracy():update(torch.zeros(0, 3), torch.zeros(0, { dtype = "int64" }))
        local av, amsg = a:compute()
        assert.is_nil(v)
        assert.is_nil(av)
        assert.matches("no samples yet", msg, 1, true)
        assert.matches("no samples yet", amsg, 1, true)
      end)
      if e[1] == "(0)" or e[1] == "(0, 1) against (0)" then
        it(name .. " " .. e[1] .. " between batches changes nothing", function()
          local a = clara.metrics[name]():update(full[1], full[2])
          local b = clara.metrics[name]():update(e[2]()):update(full[1], full[2]):update(e[2]())
          assert.equal(a:compute(), b:compute())
        end)
      end
    end
  end
end)
