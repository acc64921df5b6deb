-- TorchScript models: a model scripted and saved by PyTorch
-- (spec/fixtures/tiny_model.pt) and models compiled here from source text
-- (Module::define), used through the module contract.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/jit_spec.lua
-- Expected values come from PyTorch: tests/fixtures/make_jit.py.

local torch = require "torch"
local optim = require "torch.optim"

local FIX = dofile("spec/fixtures/jit.lua").model
local MODEL = "spec/fixtures/tiny_model.pt"

-- {====================== helpers ======================

local function T(fix)
  if #fix.shape == 0 then return torch.tensor(fix.values[1], { dtype = fix.dtype }) end
  return torch.tensor(fix.values, { dtype = fix.dtype }):reshape(fix.shape)
end

local function assert_close(fix, got, rtol)
  rtol = rtol or 1e-5
  assert.is_true(torch.is_tensor(got), "expected a tensor, got " .. type(got))
  assert.same(fix.shape, got:size())
  local want = T(fix)
  assert.is_true(torch.allclose(got:detach():double(), want:double(), { rtol = rtol, atol = 1e-6 }),
    "expected " .. tostring(want) .. ", got " .. tostring(got))
end

local function load() return torch.jit.load(MODEL) end

local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute("mkdir -p " .. d))
  return d
end

local function ls(dir)
  local p = io.popen("ls -A " .. dir)
  local names = {}
  for n in p:lines() do names[#names + 1] = n end
  p:close()
  return names
end

-- }======================================================

describe("a TorchScript model saved by PyTorch", function()
  local X = T(FIX.x)

  it("loads with torch.jit.load and nn.load, and prints as PyTorch does", function()
    local m = load()
    assert.equal(FIX.tostring, tostring(m))
    assert.equal(FIX.original_name, m.original_name)
    assert.is_true(torch.jit.is_script_module(nn.load(MODEL)))
  end)

  it("lists parameters, buffers and children in PyTorch's order", function()
    local m = load()
    local names = {}
    for n, p in m:named_parameters() do
      names[#names + 1] = n
      assert.is_true(p.requires_grad)
    end
    assert.same(FIX.parameter_names, names)
    assert.equal(#FIX.parameter_names, #m:parameters())
    names = {}
    for n in m:named_buffers() do names[#names + 1] = n end
    assert.same(FIX.buffer_names, names)
    names = {}
    for n in m:named_children() do names[#names + 1] = n end
    assert.same(FIX.child_names, names)
    names = {}
    for n in m:named_modules() do names[#names + 1] = n end
    assert.same({ "", "fc1", "bn", "fc2" }, names)
    assert.equal(4, #m:modules())
  end)

  it("forward returns a Lua list for a tuple, with PyTorch's values", function()
    local m = load():eval()
    local out = m(X)
    assert.equal(2, #out)
    assert_close(FIX.eval_logits, out[1])
    assert_close(FIX.eval_hidden, out[2])
    assert_close(FIX.eval_logits, m:forward(X)[1])
  end)

  it("calls exported methods: call(name, ...) and m:name(...)", function()
    local m = load():eval()
    assert_close(FIX.features, m:call("features", X))
    assert_close(FIX.features, m:features(X))
    assert.is_true(m:has_method("features"))
    assert.is_false(m:has_method("nope"))
    local methods = m:methods()
    table.sort(methods)
    assert.same({ "features", "forward", "stats" }, methods)
  end)

  it("returns dicts as tables", function()
    local stats = load():call("stats", X)
    assert_close(FIX.stats.mean, stats.mean)
    assert_close(FIX.stats.max, stats.max)
  end)

  it("behaves differently in train() and eval() (BatchNorm)", function()
    local m = load()
    m:train()
    assert.is_true(m.training)
    assert.is_true(m.bn.training) -- recursive
    assert_close(FIX.train_logits, m(X)[1])
    assert_close(FIX.train_running_mean, m.bn.running_mean)
    m:eval()
    assert.is_false(m.training)
    assert.is_false(m.bn.training)
    local fresh = load():eval()
    assert.is_false(torch.allclose(m(X)[1], torch.tensor(FIX.train_logits.values):view(4, 2)))
    assert.is_false(torch.equal(m(X)[1], fresh(X)[1])) -- the running stats moved
  end)

  it("gives PyTorch's gradients into its own parameters", function()
    local m = load():eval()
    m(X)[1]:sum():backward()
    assert_close(FIX.grad_fc1_weight, m.fc1.weight.grad)
    assert_close(FIX.grad_fc2_bias, m:parameters()[6].grad)
    m:zero_grad()
    assert.is_nil(m.fc1.weight.grad)
  end)

  it("parameters alias the model's tensors", function()
    local m = load():eval()
    local before = m(X)[1]
    local params = m:parameters()
    torch.no_grad(function() params[6]:add_(1) end) -- fc2.bias
    assert.is_true(torch.allclose(m(X)[1], before + 1))
    assert.is_true(torch.equal(m.fc2.bias, params[6]))
  end)

  it("trains from Lua with optim.SGD: PyTorch's losses, and they fall", function()
    local m = load():eval()
    local opt = optim.SGD(m:parameters(), { lr = FIX.sgd_lr })
    local losses = {}
    for i = 1, #FIX.sgd_losses do
      opt:zero_grad()
      local loss = (m(X)[1] ^ 2):mean()
      loss:backward()
      opt:step()
      losses[i] = loss:item()
      assert.is_true(math.abs(losses[i] - FIX.sgd_losses[i]) <= 1e-5 * math.abs(FIX.sgd_losses[i]),
        ("step %d: loss %.9g, PyTorch %.9g"):format(i, losses[i], FIX.sgd_losses[i]))
    end
    assert.is_true(losses[#losses] < losses[1])
    assert_close(FIX.sgd_fc2_weight, m.fc2.weight)
  end)

  it("state_dict and load_state_dict carry the weights to another copy", function()
    local a, b = load():eval(), load():eval()
    torch.no_grad(function()
      for _, p in ipairs(b:parameters()) do p:mul_(0.5) end
    end)
    assert.is_false(torch.equal(a(X)[1], b(X)[1]))
    local sd = a:state_dict()
    assert.is_true(torch.is_tensor(sd["bn.running_var"]))
    assert.is_false(sd["fc1.weight"].requires_grad)
    local r = b:load_state_dict(sd)
    assert.same({}, r.missing_keys)
    assert.same({}, r.unexpected_keys)
    assert.is_true(torch.equal(a(X)[1], b(X)[1]))
  end)

  it("load_state_dict with strict = false reports what did not match", function()
    local m = load()
    local sd = m:state_dict()
    sd["fc1.weight"] = nil
    sd.extra = torch.zeros(1)
    local r = m:load_state_dict(sd, { strict = false })
    assert.same({ "fc1.weight" }, r.missing_keys)
    assert.same({ "extra" }, r.unexpected_keys)
  end)

  it("saves atomically and reloads the same model", function()
    local dir = tmpdir()
    local m = load():eval()
    torch.no_grad(function() m.fc2.bias:fill_(0.25) end)
    m:save(dir .. "/m.pt")
    assert.same({ "m.pt" }, ls(dir)) -- no temporary left behind
    local back = torch.jit.load(dir .. "/m.pt")
    assert.is_true(torch.equal(m(X)[1], back(X)[1]))
    assert.equal(tostring(m), tostring(back))
    os.execute("rm -rf " .. dir)
  end)

  it("apply visits every module, children first", function()
    local seen = {}
    load():apply(function(mod) seen[#seen + 1] = mod.original_name end)
    assert.same({ "Linear", "BatchNorm1d", "Linear", "Tiny" }, seen)
  end)

  it("shows its code", function()
    local code = load():code("features")
    assert.is_truthy(code:find("def features", 1, true))
    assert.is_truthy(code:find("relu", 1, true))
  end)
end)

describe("script modules compiled from source (Module::define)", function()
  local W = function() return torch.tensor({ { 1.0, -1.0 }, { 0.5, 2.0 }, { -1.5, 0.25 } }) end
  local x = torch.tensor({ { 1.0, 2.0, 3.0 } })

  it("run a single-output forward with the given parameters", function()
    local w = W()
    local m = torch.jit.compile([[
def forward(self, x):
    return x @ self.w + self.b
]], { name = "Affine", parameters = { w = w, b = torch.tensor({ 0.5, -0.5 }) } })
    assert.equal("RecursiveScriptModule(original_name=Affine)", tostring(m))
    assert.same({ { -2.5 + 0.5, 3.75 - 0.5 } }, m(x):totable())
    assert.is_true(w.requires_grad) -- registered as a parameter: a leaf that learns
    local names = {}
    for n in m:named_parameters() do names[#names + 1] = n end
    assert.same({ "b", "w" }, names) -- a {name = t} table: sorted
  end)

  it("keep the order of parameters given as {name, tensor} pairs", function()
    local m = torch.jit.compile("def forward(self, x):\n    return x * self.w + self.b\n",
      { parameters = { { "w", torch.ones(1) }, { "b", torch.zeros(1) } } })
    local names = {}
    for n in m:named_parameters() do names[#names + 1] = n end
    assert.same({ "w", "b" }, names)
  end)

  it("return tuples as lists and dicts as tables", function()
    local m = torch.jit.compile([[
def forward(self, x):
    return x + 1, x * 2
def named(self, x) -> Dict[str, Tensor]:
    return {"double": x * 2, "neg": -x}
def many(self, x) -> List[Tensor]:
    return [x, x + 1, x + 2]
def scalar(self, x) -> float:
    return float(x.sum())
]])
    local out = m(torch.tensor({ 1.0 }))
    assert.same({ 2.0 }, out[1]:totable())
    assert.same({ 2.0 }, out[2]:totable())
    local d = m:named(torch.tensor({ 3.0 }))
    assert.same({ 6.0 }, d.double:totable())
    assert.same({ -3.0 }, d.neg:totable())
    local l = m:many(torch.tensor({ 0.0 }))
    assert.equal(3, #l)
    assert.same({ 2.0 }, l[3]:totable())
    assert.equal(6.0, m:scalar(torch.tensor({ 1.0, 2.0, 3.0 })))
  end)

  it("take numbers, strings, lists, dicts and tuples", function()
    local m = torch.jit.compile([[
def scale(self, x, k: float, n: int):
    return x * k + n
def pick(self, d: Dict[str, Tensor], key: str):
    return d[key]
def total(self, xs: List[Tensor]):
    return torch.stack(xs).sum(0)
def swap(self, t: Tuple[Tensor, Tensor]):
    return t[1], t[0]
def maybe(self, x: Optional[Tensor]) -> bool:
    return x is None
]])
    assert.same({ 7.0 }, m:scale(torch.tensor({ 2.0 }), 2.5, 2):totable())
    assert.same({ 9.0 }, m:pick({ a = torch.tensor({ 1.0 }), b = torch.tensor({ 9.0 }) }, "b"):totable())
    assert.same({ 4.0, 6.0 }, m:total({ torch.tensor({ 1.0, 2.0 }), torch.tensor({ 3.0, 4.0 }) }):totable())
    local s = m:swap(torch.jit.tuple { torch.tensor({ 1.0 }), torch.tensor({ 2.0 }) })
    assert.same({ 2.0 }, s[1]:totable())
    assert.is_true(m:maybe(nil))
    assert.is_false(m:maybe(torch.zeros(1)))
  end)

  it("use self.training: train() and eval() change what forward does", function()
    local m = torch.jit.compile([[
def forward(self, x):
    if self.training:
        return x * 0.0
    return x
]])
    assert.is_true(m.training)
    assert.same({ 0.0 }, m(torch.tensor({ 5.0 })):totable())
    m:eval()
    assert.same({ 5.0 }, m(torch.tensor({ 5.0 })):totable())
  end)

  it("hold buffers, attributes and submodules", function()
    local inner = torch.jit.compile("def forward(self, x):\n    return x * self.k\n",
      { name = "Scale", buffers = { k = torch.tensor({ 3.0 }) } })
    local outer = torch.jit.compile([[
def forward(self, x):
    return self.inner.forward(x) + self.offset
]], { name = "Outer", modules = { inner = inner }, attributes = { offset = 1.5 } })
    assert.same({ 7.5 }, outer(torch.tensor({ 2.0 })):totable())
    assert.equal(0, #outer:parameters())
    assert.equal(1, #outer:buffers())
    assert.equal("RecursiveScriptModule(\n  original_name=Outer\n  (inner): RecursiveScriptModule(original_name=Scale)\n)",
      tostring(outer))
    assert.is_true(torch.jit.is_script_module(outer.inner))
  end)

  it("train a few SGD steps from Lua: the loss falls", function()
    local m = torch.jit.compile([[
def forward(self, x):
    return torch.tanh(x @ self.w1) @ self.w2
]], { parameters = { w1 = torch.tensor({ { 0.5, -0.3 }, { 0.2, 0.8 } }), w2 = torch.tensor({ { 0.1 }, { -0.4 } }) } })
    local X = torch.tensor({ { 1.0, 0.0 }, { 0.0, 1.0 }, { 1.0, 1.0 } })
    local Y = torch.tensor({ { 1.0 }, { -1.0 }, { 0.0 } })
    local opt = optim.SGD(m:parameters(), { lr = 0.2 })
    local first, last
    for step = 1, 20 do
      opt:zero_grad()
      local loss = ((m(X) - Y) ^ 2):mean()
      loss:backward()
      opt:step()
      if step == 1 then first = loss:item() end
      last = loss:item()
    end
    assert.is_true(last < first * 0.5, ("loss %g -> %g"):format(first, last))
  end)

  it("save to a file that torch.jit.load reads back", function()
    local dir = tmpdir()
    local m = torch.jit.compile("def forward(self, x):\n    return x * self.w\n",
      { name = "Mul", parameters = { w = torch.tensor({ 2.0, 3.0 }) } })
    m:save(dir .. "/mul.pt")
    local back = torch.jit.load(dir .. "/mul.pt")
    assert.same({ 2.0, 3.0 }, back(torch.ones(2)):totable())
    assert.equal("Mul", back.original_name)
    os.execute("rm -rf " .. dir)
  end)
end)
