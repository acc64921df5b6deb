-- Bad calls into the tensor bindings: every one must raise a Lua error (never
-- crash the process), whose message names the function and says what was
-- wrong, in lauxlib style where the binding checks the argument itself, and
-- never carries a C++ backtrace.  The spec reaching its end proves that the
-- process survived them all.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/badcalls_spec.lua
-- CLARA_SHOW_ERRORS=1 prints every message, for review.

local torch = require "torch"
local badcalls = require "spec.helpers.badcalls"

local function m23() return torch.arange(6, { dtype = "float32" }):view(2, 3) end
local function v3() return torch.tensor { 1.0, 2.0, 3.0 } end
local function leaf() return torch.ones(3, { requires_grad = true }) end
local function freed()
  local t = torch.zeros(3)
  t:free()
  return t
end

-- { description, name the message must contain, what it must also contain
--   (a plain substring, case-insensitive), the bad call }
local cases = {
  -- creation: sizes, options, dtypes, devices
  { "zeros with a string size", "zeros", "size expected", function() return torch.zeros("a") end },
  { "zeros with a string second size", "zeros", "bad argument #2", function() return torch.zeros(2, "x") end },
  { "zeros with a negative size", "zeros", "non-negative", function() return torch.zeros(-2) end },
  { "zeros with a fractional size", "zeros", "integer size expected", function() return torch.zeros(2.5) end },
  { "ones with a string in a size table", "ones", "sizes must be integers", function() return torch.ones({ 2, "a" }) end },
  { "zeros with an unknown dtype", "zeros", "unknown dtype 'float128'", function() return torch.zeros(2, { dtype = "float128" }) end },
  { "zeros with a misspelt option", "zeros", "unknown option 'devcie'", function() return torch.zeros(2, { devcie = "cpu" }) end },
  { "zeros on a cuda device", "zeros", "cuda", function() return torch.zeros(2, { device = "cuda" }) end },
  { "zeros on cuda:0", "zeros", "cuda", function() return torch.zeros(2, { device = "cuda:0" }) end },
  { "zeros on an unknown device", "zeros", "unknown device 'tpu'", function() return torch.zeros(2, { device = "tpu" }) end },
  { "zeros with requires_grad not a boolean", "zeros", "must be a boolean", function() return torch.zeros(2, { requires_grad = "yes" }) end },
  { "zeros with requires_grad on int64", "zeros", "floating point", function() return torch.zeros(2, { dtype = "int64", requires_grad = true }) end },
  { "randn of int64", "randn", "not implemented for 'Long'", function() return torch.randn(2, { dtype = "int64" }) end },
  { "rand with a numeric dtype", "rand", "unknown dtype", function() return torch.rand(2, { dtype = 5 }) end },
  { "empty with a boolean size", "empty", "size expected", function() return torch.empty(true) end },
  { "tensor from ragged rows", "tensor", "ragged", function() return torch.tensor { { 1, 2 }, { 3 } } end },
  { "tensor from a row and a number", "tensor", "expected a list", function() return torch.tensor { { 1, 2 }, 3 } end },
  { "tensor with a string element", "tensor", "expected a number, got string", function() return torch.tensor { 1, "a" } end },
  { "tensor with a nested string element", "tensor", "at data[2][1]", function() return torch.tensor { { 1 }, { "x" } } end },
  { "tensor from a string", "tensor", "table, number or boolean expected", function() return torch.tensor "abc" end },
  { "tensor from nil", "tensor", "table, number or boolean expected", function() return torch.tensor(nil) end },
  { "tensor with an unknown dtype", "tensor", "unknown dtype 'nope'", function() return torch.tensor({ 1, 2 }, { dtype = "nope" }) end },
  { "tensor on cuda", "tensor", "cuda", function() return torch.tensor({ 1, 2 }, { device = "cuda" }) end },
  { "tensor with a non-table option", "tensor", "table expected", function() return torch.tensor({ 1, 2 }, "float64") end },
  { "full with sizes not a table", "full", "table expected", function() return torch.full(2, 1) end },
  { "full with a string value", "full", "number expected", function() return torch.full({ 2 }, "x") end },
  { "arange with step 0", "arange", "step must be nonzero", function() return torch.arange(1, 10, 0) end },
  { "arange with a string end", "arange", "number expected", function() return torch.arange("a") end },
  { "arange with the wrong step sign", "arange", "inconsistent with step sign", function() return torch.arange(10, 1) end },
  { "linspace with negative steps", "linspace", "non-negative", function() return torch.linspace(0, 1, -1) end },
  { "linspace without steps", "linspace", "number expected, got no value", function() return torch.linspace(0, 1) end },
  { "eye of negative size", "eye", "non-negative", function() return torch.eye(-1) end },
  { "eye with an unknown dtype", "eye", "unknown dtype", function() return torch.eye(2, { dtype = "x" }) end },
  { "randint with high <= low", "randint", "high must be greater than low", function() return torch.randint(5, 2, { 3 }) end },
  { "randint with sizes not a table", "randint", "table expected", function() return torch.randint(0, 5, 3) end },
  { "randperm of a negative n", "randperm", "non-negative", function() return torch.randperm(-1) end },
  { "frombytes with a partial value", "frombytes", "not a whole number of float32", function() return torch.frombytes("abc", { dtype = "float32" }) end },
  { "frombytes of nil", "frombytes", "string expected", function() return torch.frombytes(nil) end },
  { "zeros_like of a number", "zeros_like", "tensor expected", function() return torch.zeros_like(3) end },
  { "full_like with a string value", "full_like", "number expected", function() return torch.full_like(v3(), "x") end },

  -- element-wise operations
  { "add with a string", "add", "tensor expected, got string", function() return torch.add(v3(), "x") end },
  { "add with a table", "add", "tensor expected, got table", function() return torch.add({}, v3()) end },
  { "operator + with a table", "add", "tensor expected, got table", function() return v3() + {} end },
  { "operator * with a string", "mul", "tensor expected, got string", function() return v3() * "two" end },
  { "add of unbroadcastable shapes", "add", "must match the size", function() return v3() + torch.zeros(4) end },
  { "mul of unbroadcastable shapes", "mul", "must match the size", function() return v3():mul(torch.zeros(2)) end },
  { "add with a string alpha", "add", "number expected", function() return v3():add(v3(), "x") end },
  { "add_ whose result needs a bigger shape", "add_", "doesn't match the broadcast shape", function() return v3():add_(torch.zeros(2, 3)) end },
  { "add_ of a float into an int64 tensor", "add_", "can't be cast", function() return torch.tensor({ 1, 2 }):add_(0.5) end },
  { "copy_ of an unbroadcastable source", "copy_", "must match the size", function() return v3():copy_(torch.zeros(4)) end },
  { "matmul of 2x3 by 2x3", "matmul", "cannot be multiplied (2x3 and 2x3)", function() return m23():matmul(m23()) end },
  { "matmul with a string", "matmul", "bad argument #2 to 'matmul' (tensor expected, got string)", function() return torch.matmul(m23(), "x") end },
  { "matmul of a freed tensor", "matmul", "tensor already freed", function() return torch.matmul(freed(), m23()) end },
  { "matmul of float32 by float64", "matmul", "expected scalar type Float but found Double", function() return m23():matmul(torch.zeros(3, 2, { dtype = "float64" })) end },
  { "mm of vectors", "mm", "must be a matrix", function() return torch.mm(v3(), v3()) end },
  { "bmm of matrices", "bmm", "3D", function() return torch.bmm(m23(), m23()) end },
  { "dot of different lengths", "dot", "same number of elements", function() return torch.dot(v3(), torch.zeros(4)) end },
  { "dot of float32 by float64", "dot", "dtype", function() return torch.dot(v3(), v3():double()) end },
  { "mv with a wrong vector", "mv", "size mismatch", function() return torch.mv(m23(), torch.zeros(2)) end },
  { "bitwise_and of floats", "bitwise_and", "not implemented for 'Float'", function() return torch.bitwise_and(v3(), v3()) end },
  { "exp of a string", "exp", "tensor expected, got string", function() return torch.exp("x") end },
  { "sqrt of nothing", "sqrt", "tensor expected, got no value", function() return torch.sqrt() end },
  { "clamp without bounds", "clamp", "needs min or max", function() return v3():clamp() end },
  { "clamp with a string bound", "clamp", "number expected", function() return v3():clamp("a") end },
  { "where with a float condition", "where", "condition", function() return torch.where(v3(), v3(), v3()) end },
  { "masked_fill with a float mask", "masked_fill", "mask must be a bool tensor", function() return v3():masked_fill(v3(), 0) end },
  { "masked_fill with an int64 mask", "masked_fill", "mask must be a bool tensor", function() return v3():masked_fill(torch.tensor { 1, 0, 1 }, 0) end },
  { "masked_fill with a string value", "masked_fill", "tensor expected, got string", function() return v3():masked_fill(v3():gt(1), "z") end },
  { "lerp of float32 and float64", "lerp", "dtype", function() return torch.lerp(v3(), v3():double(), 0.5) end },
  { "allclose of different shapes", "allclose", "must match the size", function() return torch.allclose(v3(), torch.zeros(4)) end },
  { "allclose with a string rtol", "allclose", "option 'rtol' must be a number", function() return torch.allclose(v3(), v3(), { rtol = "x" }) end },
  { "equal with a number", "equal", "tensor expected, got number", function() return torch.equal(v3(), 1) end },
  { "fill_ with a string", "fill_", "number expected", function() return v3():fill_("x") end },
  { "fill_ with a 1-d tensor", "fill_", "0-d tensor", function() return v3():fill_(v3()) end },
  { "bernoulli_ with p = 2", "bernoulli_", "probability must be in [0, 1]", function() return v3():bernoulli_(2) end },
  { "uniform_ with a string bound", "uniform_", "number expected", function() return v3():uniform_("a") end },
  { "pow with a table exponent", "pow", "tensor expected, got table", function() return v3():pow({}) end },
  { "integer remainder by zero", "remainder", "integer division by zero", function() return torch.tensor({ 1, 2 }):remainder(0) end },
  { "integer floor division by zero", "floor_divide", "integer division by zero", function() return torch.tensor({ 1, 2 }) // 0 end },
  { "add_ on a leaf that requires grad", "add_", "leaf Variable that requires grad", function() return leaf():add_(1) end },
  { "relu_ on a leaf that requires grad", "relu_", "leaf Variable that requires grad", function() return leaf():relu_() end },
  { "zero_ on a leaf that requires grad", "zero_", "leaf Variable that requires grad", function() return leaf():zero_() end },

  -- reductions
  { "sum over dim 3 of a 2-d tensor", "sum", "dim 3 out of range for a 2-d tensor", function() return m23():sum(3) end },
  { "sum over dim 0", "sum", "dims are 1-based", function() return m23():sum(0) end },
  { "sum over a string dim", "sum", "number expected", function() return m23():sum("a") end },
  { "sum over dims {1, 5}", "sum", "bad argument #1 to 'sum' (dim 5 out of range", function() return m23():sum({ 1, 5 }) end },
  { "sum with keepdim not a boolean", "sum", "option 'keepdim' must be a boolean", function() return m23():sum(1, { keepdim = "yes" }) end },
  { "mean of an int64 tensor", "mean", "dtype", function() return torch.tensor({ 1, 2 }):mean() end },
  { "std of an int64 tensor", "std", "floating point", function() return torch.tensor({ 1, 2 }):std() end },
  { "max over dim 5", "max", "dim 5 out of range", function() return m23():max(5) end },
  { "max with a string dim", "max", "number expected", function() return m23():max("x") end },
  { "argmax over dim 0", "argmax", "dims are 1-based", function() return m23():argmax(0) end },
  { "softmax without a dim", "softmax", "number expected, got no value", function() return m23():softmax() end },
  { "softmax over dim 3", "softmax", "out of range", function() return m23():softmax(3) end },
  { "log_softmax over dim -3", "log_softmax", "out of range", function() return m23():log_softmax(-3) end },
  { "cumsum over dim -3", "cumsum", "out of range", function() return m23():cumsum(-3) end },
  { "topk larger than the tensor", "topk", "out of range", function() return v3():topk(10) end },
  { "topk with a negative k", "topk", "k must be non-negative", function() return v3():topk(-1) end },
  { "sort with descending a string", "sort", "boolean or options table expected", function() return v3():sort(1, "desc") end },

  -- shapes and views
  { "view 6 elements as 4x4", "view", "invalid for input of size 6", function() return m23():view(4, 4) end },
  { "view with two -1", "view", "only one dimension can be inferred", function() return m23():view(-1, -1) end },
  { "view with a size below -1", "view", "non-negative", function() return m23():view(-2, 3) end },
  { "view with a string size", "view", "size expected, got string", function() return m23():view("a") end },
  { "view of a transposed tensor", "view", "reshape", function() return m23():t():view(6) end },
  { "reshape 6 elements to 5", "reshape", "invalid for input of size 6", function() return m23():reshape(5) end },
  { "expand 2x3 to 3x4", "expand", "must match the existing size", function() return m23():expand(3, 4) end },
  { "permute with too few dims", "permute", "number of dimensions", function() return m23():permute(1) end },
  { "permute with a repeated dim", "permute", "duplicate dims", function() return m23():permute(1, 1) end },
  { "permute with dim 3 of a 2-d tensor", "permute", "bad argument #2 to 'permute' (dim 3 out of range", function() return m23():permute(1, 3) end },
  { "transpose with dim 3", "transpose", "dim 3 out of range", function() return m23():transpose(1, 3) end },
  { "squeeze dim 3", "squeeze", "dim 3 out of range", function() return m23():squeeze(3) end },
  { "unsqueeze dim 4 of a 2-d tensor", "unsqueeze", "dim 4 out of range", function() return m23():unsqueeze(4) end },
  { "flatten from dim 3", "flatten", "out of range", function() return m23():flatten(3) end },
  { "flatten with start after end", "flatten", "start_dim", function() return m23():flatten(2, 1) end },
  { "select position 5 of 2", "select", "position 5 out of range for size 2", function() return m23():select(1, 5) end },
  { "select position 0", "select", "positions are 1-based", function() return m23():select(1, 0) end },
  { "select along dim 3", "select", "dim 3 out of range", function() return m23():select(3, 1) end },
  { "select of a 0-d tensor", "select", "0-d", function() return torch.tensor(1.5):select(1, 1) end },
  { "narrow past the end", "narrow", "exceeds size 2", function() return m23():narrow(1, 2, 5) end },
  { "narrow from position 0", "narrow", "positions are 1-based", function() return m23():narrow(1, 0, 1) end },
  { "index_select with a float index", "index_select", "index", function() return m23():index_select(1, torch.tensor { 0.0 }) end },
  { "index_select out of range", "index_select", "index out of range", function() return m23():index_select(1, torch.tensor { 5 }) end },
  { "index_select with a Lua table", "index_select", "tensor expected, got table", function() return m23():index_select(1, { 1, 2 }) end },
  { "masked_select with a float mask", "masked_select", "mask", function() return v3():masked_select(v3()) end },
  { "gather with a float index", "gather", "index", function() return m23():gather(1, torch.zeros(1, 3)) end },
  { "gather out of range", "gather", "out of bounds", function() return m23():gather(1, torch.tensor { { 7, 0, 0 } }) end },
  { "scatter with a string source", "scatter", "tensor expected, got string", function() return m23():scatter(1, torch.tensor { { 0 } }, "x") end },
  { "cat of an empty list", "cat", "non-empty list", function() return torch.cat {} end },
  { "cat with a number in the list", "cat", "element 2 is not a tensor (number)", function() return torch.cat { v3(), 1 } end },
  { "cat with a table in the list", "cat", "element 1 is not a tensor (table)", function() return torch.cat { {}, v3() } end },
  { "cat of mismatched shapes", "cat", "Sizes of tensors must match", function() return torch.cat({ m23(), v3():view(3, 1) }) end },
  { "cat of a tensor, not a list", "cat", "table expected", function() return torch.cat(v3()) end },
  { "cat along dim 5", "cat", "dim 5 out of range", function() return torch.cat({ v3(), v3() }, 5) end },
  { "stack of different sizes", "stack", "equal size", function() return torch.stack { v3(), torch.zeros(4) } end },
  { "split into size 0", "split", "size must be positive", function() return v3():split(0) end },
  { "chunk into -1 pieces", "chunk", "chunks must be positive", function() return v3():chunk(-1) end },
  { "split along dim 5", "split", "dim 5 out of range", function() return v3():split(2, 5) end },
  { "repeat with fewer dims", "repeat", "can not be smaller", function() return m23():repeat_tensor(2) end },
  { "flip dim 3", "flip", "dim 3 out of range", function() return m23():flip(3) end },
  { "flip dims {1, 3}", "flip", "bad argument #1 to 'flip' (dim 3 out of range", function() return m23():flip({ 1, 3 }) end },
  { "permute dims {2, -3}", "permute", "bad argument #1 to 'permute' (dim -3 out of range", function() return m23():permute({ 2, -3 }) end },
  { "permute with no dims", "permute", "number of dimensions", function() return m23():permute() end },
  { "view_as a number", "view_as", "tensor expected, got number", function() return m23():view_as(3) end },
  { "expand_as an incompatible tensor", "expand_as", "must match the existing size", function() return m23():expand_as(torch.zeros(4, 4)) end },

  -- positions and indexing
  { "index 0", "index", "1-based", function() return m23()[0] end },
  { "index 10 of 2", "index", "out of range", function() return m23()[10] end },
  { "index -3 of 2", "index", "out of range", function() return m23()[-3] end },
  { "three indices into a 2-d tensor", "index", "too many indices for a 2-d tensor", function() return m23()[{ 1, 1, 1 }] end },
  { "range with step 0", "index", "step", function() return m23()[{ { 1, 2, 0 } }] end },
  { "range with string bounds", "index", "integers", function() return m23()[{ { "a" } }] end },
  { "a string index entry other than ':'", "index", "':'", function() return m23()[{ "x" }] end },
  { "a boolean index entry", "index", "boolean", function() return m23()[{ true }] end },
  { "a fractional index", "index", "number", function() return m23()[1.5] end },
  { "a boolean index", "index", "boolean", function() return m23()[true] end },
  { "indexing a 0-d tensor", "index", "0-d", function() return torch.tensor(2.0)[1] end },
  { "an index tensor out of range", "index", "out of range", function() return v3()[torch.tensor { 5 }] end },
  { "a mask of the wrong shape", "index", "must match the size", function() return v3()[torch.tensor { true, false }] end },
  { "assigning a string to a row", "newindex", "number expected, got string", function() local t = m23(); t[1] = "x" end },
  { "assigning a wrong-shaped row", "index assignment", "must match the size", function() local t = m23(); t[1] = torch.zeros(5) end },
  { "setting an unknown field", "cannot set field 'foo'", "tensor", function() local t = v3(); t.foo = 1 end },
  { "setting grad to a number", "grad", "expected a tensor or nil, got number", function() local t = leaf(); t.grad = 3 end },
  { "setting grad of the wrong shape", "grad", "different size", function() local t = leaf(); t.grad = torch.zeros(5) end },
  { "setting grad of the wrong dtype", "grad", "different type", function() local t = leaf(); t.grad = torch.zeros(3, { dtype = "float64" }) end },
  { "setting requires_grad to a string", "newindex", "boolean expected, got string", function() local t = v3(); t.requires_grad = "yes" end },
  { "setting requires_grad on int64", "requires_grad", "floating point", function() local t = torch.tensor { 1 }; t.requires_grad = true end },
  { "clearing requires_grad of a non-leaf", "requires_grad", "leaf", function() local t = leaf() * 2; t.requires_grad = false end },
  { "length of a 0-d tensor", "len", "0-d", function() return #torch.tensor(1.0) end },

  -- conversion and data
  { "item of 3 elements", "item", "3 elements", function() return v3():item() end },
  { "item of 0 elements", "item", "0 elements", function() return torch.zeros(0):item() end },
  { "to an unknown dtype", "to", "unknown dtype 'float99'", function() return v3():to("float99") end },
  { "to cuda", "to", "cuda", function() return v3():to("cuda") end },
  { "cuda()", "cuda", "cuda", function() return v3():cuda() end },
  { "to{device = cuda}", "to", "cuda", function() return v3():to({ device = "cuda" }) end },
  { "to{dtype = x}", "to", "unknown dtype 'x'", function() return v3():to({ dtype = "x" }) end },
  { "to a boolean", "to", "string expected, got boolean", function() return v3():to(true) end },
  { "size of dim 3", "size", "dim 3 out of range", function() return m23():size(3) end },
  { "size of a string dim", "size", "number expected", function() return m23():size("a") end },
  { "stride of dim 0", "stride", "1-based", function() return m23():stride(0) end },
  { "totable of a freed tensor", "totable", "tensor already freed", function() return freed():totable() end },
  { "sum of a freed tensor", "sum", "tensor already freed", function() return freed():sum() end },
  { "operator + on a freed tensor", "add", "tensor already freed", function() return freed() + 1 end },
  { "a method called on a number", "numel", "tensor expected, got number", function() return torch.Tensor.numel(3) end },

  -- autograd
  { "backward of a non-scalar without grad", "backward", "only for scalar outputs", function() (leaf() * 2):backward() end },
  { "backward with a string", "backward", "tensor or options table expected", function() leaf():sum():backward("x") end },
  { "backward with a grad of the wrong shape", "backward", "shape", function() (leaf() * 2):backward(torch.ones(4)) end },
  { "backward of a tensor without grad_fn", "backward", "does not require grad", function() v3():sum():backward() end },
  { "backward twice without retain_graph", "backward", "retain_graph", function()
      local loss = (leaf() * leaf()):sum()
      loss:backward()
      loss:backward()
    end },
  { "backward with retain_graph not a boolean", "backward", "option 'retain_graph' must be a boolean", function() leaf():sum():backward({ retain_graph = "yes" }) end },
  { "no_grad of a number", "no_grad", "function expected", function() return torch.no_grad(5) end },
  { "enable_grad of a string", "enable_grad", "function expected", function() return torch.enable_grad("x") end },
  { "set_grad_enabled with a number", "set_grad_enabled", "boolean expected", function() return torch.set_grad_enabled(1) end },
  { "retain_grad on a tensor without grad", "retain_grad", "requires_grad=False", function() return v3():retain_grad() end },
  { "requires_grad_ on int64", "requires_grad_", "floating point", function() return torch.tensor({ 1, 2 }):requires_grad_() end },
  { "requires_grad_(false) on a non-leaf", "requires_grad_", "leaf", function() return (leaf() * 2):requires_grad_(false) end },

  -- global state
  { "manual_seed of a string", "manual_seed", "number expected", function() return torch.manual_seed("x") end },
  { "set_num_threads(0)", "set_num_threads", "1..4096", function() return torch.set_num_threads(0) end },
}

describe("bad calls", function()
  it("are at least 100", function()
    assert.is_true(#cases >= 100, "only " .. #cases .. " cases")
  end)

  badcalls(cases)

  it("leave the process and the grad mode sound", function()
    collectgarbage() -- collects every half-built tensor the errors left behind
    assert.is_true(torch.is_grad_enabled())
    local x = torch.tensor({ 1.0, 2.0 }, { requires_grad = true })
    local y = (x * x):sum()
    y:backward()
    assert.same({ 2.0, 4.0 }, x.grad:totable())
  end)
end)
