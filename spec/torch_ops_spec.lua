-- torch.ops.aten: ATen operators by schema name, through the dispatcher
-- (bindings/bridge/dispatch.cpp): defaults, overload choice, several
-- returns, autograd, and errors at the caller's line.
local torch = require "torch"

describe("torch.ops.aten", function()
  it("fills trailing arguments from the schema's defaults", function()
    local x = torch.arange(12, { dtype = "float32" }):view(1, 1, 3, 4)
    local w = torch.ones(1, 1, 2, 2)
    local y = torch.ops.aten.conv2d(x, w)
    assert.are.same({ 1, 1, 2, 3 }, y:size())
    -- the top-left window: 0 + 1 + 4 + 5
    assert.are.equal(10, y[1][1][1][1]:item())
  end)

  it("picks the overload the arguments fit and returns several results", function()
    local x = torch.tensor { { 1, 5, 2 }, { 7, 0, 3 } }
    assert.are.equal(7, torch.ops.aten.max(x):item())
    local values, indices = torch.ops.aten.max(x, 1) -- ATen's dim 1: 0-based
    assert.are.same({ 5, 7 }, { values[1]:item(), values[2]:item() })
    assert.are.same({ 1, 0 }, { indices[1]:item(), indices[2]:item() })
  end)

  it("takes an overload after a dot", function()
    local q = torch.ops.aten["div.Tensor_mode"](torch.tensor { 7, -7 }, torch.tensor { 2, 2 }, "floor")
    assert.are.same({ 3, -4 }, { q[1]:item(), q[2]:item() })
  end)

  it("records autograd through the dispatcher", function()
    local x = torch.tensor({ 1.0, -2.0, 3.0 }, { requires_grad = true })
    torch.ops.aten.relu(x):sum():backward()
    assert.are.same({ 1, 0, 1 }, { x.grad[1]:item(), x.grad[2]:item(), x.grad[3]:item() })
  end)

  it("names the operator and the argument that does not fit, at the caller's line", function()
    local x = torch.randn(1, 1, 3, 3)
    local ok, err = pcall(function() return torch.ops.aten.relu(x, 1, 2) end)
    assert.is_false(ok)
    assert.matches("torch_ops_spec.lua:%d+: aten::relu: takes 1 argument%(s%), got 3", err)
    ok, err = pcall(function() return torch.ops.aten.constant_pad_nd(x, "a") end)
    assert.matches("aten::constant_pad_nd: argument 2 'pad' expects List%[int%], got string", err)
    ok, err = pcall(function() return torch.ops.aten.no_such_op end)
    assert.matches("torch.ops: no operator aten::no_such_op", err)
    ok, err = pcall(torch.ops.aten.max, x, "s")
    assert.matches("fit none of its overloads", err)
  end)

  it("prints a schema", function()
    assert.matches("aten::conv2d%(Tensor input, Tensor weight", torch.ops.schema("conv2d"))
    assert.matches("^aten::div.Tensor_mode%(", torch.ops.schema("aten::div.Tensor_mode"))
  end)
end)
