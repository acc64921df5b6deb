-- Device and dtype placement: tensor:to, module:to / float / double / half /
-- bfloat16 / cpu / cuda for Lua, native and TorchScript modules, torch.load
-- and nn.load map_location, the experiment options device and dtype.
-- Checked against PyTorch 1.13 (spec/fixtures/placement.lua and
-- placement_cuda0.pt, written by tests/fixtures/make_placement.py): the
-- state_dict dtypes after each conversion, and three SGD steps of a model
-- moved to float64 after its optimizer was made.  This libtorch has no
-- CUDA: every "cuda" path must end in the clear error, never an abort.
-- Run from the repository root:
--   ./clara /usr/bin/busted -o plainTerminal spec/placement_spec.lua
local torch = require "torch"
local nn, optim = torch.nn, torch.optim
local clara = require "clara"

local fixture = dofile("spec/fixtures/placement.lua")
local NO_CUDA = "clara was built with a libtorch without CUDA: device '%s' is not available "
  .. "(LIBTORCH=<dir> builds against a CUDA libtorch)"

-- {====================== helpers ======================

local function T(spec)
  return torch.tensor(spec.data, { dtype = spec.dtype }):view(table.unpack(spec.shape))
end

local function raises(pattern, f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok, "expected an error matching " .. pattern)
  assert.truthy(tostring(err):find(pattern, 1, true), "got: " .. tostring(err))
end

local function dtypes(m)
  local out = {}
  for k, v in pairs(m:state_dict()) do out[k] = v.dtype end
  return out
end

local function model()
  return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
end

-- the fixture's seeded float32 model
local function fixture_model()
  local m, sd = model(), {}
  for _, entry in ipairs(fixture.double.initial) do sd[entry[1]] = T(entry[2]) end
  m:load_state_dict(sd)
  return m
end

-- }=====================================================================

describe("tensor placement", function()
  local t = torch.randn(2, 3)

  it("to takes a dtype, a device, a tensor or {dtype =, device =}", function()
    assert.are.equal("float64", t:to("float64").dtype)
    assert.are.equal("float64", t:to(torch.double).dtype)
    assert.are.equal("float32", t:to("cpu").dtype)
    assert.are.equal("cpu", t:to("cpu").device)
    assert.are.equal("int64", t:to(torch.zeros(1, { dtype = "int64" })).dtype)
    assert.are.equal("float16", t:to { dtype = "float16", device = "cpu" }.dtype)
    assert.are.equal("bfloat16", t:bfloat16().dtype)
    assert.are.equal("cpu", t:cpu().device)
  end)

  it("'cuda' is the clear error on this build, in every form", function()
    for _, d in ipairs { "cuda", "cuda:0", "cuda:1" } do
      raises(NO_CUDA:format(d), function() return t:to(d) end)
      raises(NO_CUDA:format(d), function() return t:to { device = d } end)
      raises(NO_CUDA:format(d), function() return torch.zeros(2, { device = d }) end)
    end
    raises(NO_CUDA:format("cuda"), function() return t:cuda() end)
    raises(NO_CUDA:format("cuda:2"), function() return t:cuda(2) end)
    assert.is_false(torch.cuda.is_available())
  end)

  it("an unknown device or dtype says so", function()
    raises("unknown device 'cpu:x' (expected 'cpu', 'cuda' or 'cuda:<index>')", function() return t:to("cpu:x") end)
    raises("unknown dtype 'gpu'", function() return t:to("gpu") end)
    raises("unknown device 'cuda:x'", function() return t:to("cuda:x") end)
    raises("unknown dtype 'float128'", function() return t:to { dtype = "float128" } end)
  end)

  it("t.data = v replaces the data and keeps the tensor, as PyTorch's", function()
    local p = torch.ones(3, { requires_grad = true })
    local before = p
    p.data = torch.tensor({ 1, 2, 3 }, { dtype = "float64" })
    assert.is_true(rawequal(before, p))
    assert.are.equal("float64", p.dtype)
    assert.is_true(p.requires_grad and p.is_leaf)
    assert.are.same({ 1, 2, 3 }, p:totable())
    raises("data", function() p.data = 3 end)
  end)

  it("torch.device names a device", function()
    assert.are.equal("cuda:1", torch.device("cuda", 1))
    assert.are.equal("cuda:1", torch.device("cuda:1"))
    assert.are.equal("cpu", torch.device("cpu"))
    raises("torch.device: expected 'cpu', 'cuda' or 'cuda:<index>', got 'gpu'", torch.device, "gpu")
    raises("torch.device: an index (an integer >= 0) goes with 'cuda'", torch.device, "cpu", 1)
    raises("torch.device: an index", torch.device, "cuda", -1)
  end)
end)

describe("module placement", function()
  it("double, half, bfloat16, float give PyTorch's dtypes (integer buffers keep theirs)", function()
    for method, expected in pairs(fixture.dtypes) do
      local m = model()
      assert.is_true(rawequal(m, m[method](m)), method .. " returns the module")
      local got = dtypes(m)
      for _, entry in ipairs(expected) do assert.are.equal(entry[2], got[entry[1]], method .. " " .. entry[1]) end
    end
  end)

  it("to keeps every parameter's identity and converts values exactly", function()
    local m = fixture_model()
    local before, values = m:parameters(), {}
    for i, p in ipairs(before) do values[i] = p:detach():clone() end
    assert.is_true(rawequal(m, m:to("float64")))
    for i, p in ipairs(m:parameters()) do
      assert.is_true(rawequal(before[i], p))
      assert.are.equal("float64", p.dtype)
      assert.is_true(torch.equal(values[i]:double(), p:detach()))
      assert.is_true(p.requires_grad and p.is_leaf)
    end
    -- and back: float64 -> float32 of a float32 value is exact
    m:to { dtype = "float32", device = "cpu" }
    for i, p in ipairs(m:parameters()) do assert.is_true(torch.equal(values[i], p:detach())) end
  end)

  it("an optimizer made before :double() keeps training the model, as PyTorch's (fixture, 3 SGD steps)", function()
    local m = fixture_model()
    local opt = optim.SGD(m, { lr = 0.1, momentum = 0.9 })
    m:double()
    local case = fixture.double
    local x = torch.tensor(case.x, { dtype = "float64" }):view(8, 3)
    local y = torch.tensor(case.y, { dtype = "int64" })
    local loss
    for _ = 1, 3 do
      opt:zero_grad()
      loss = nn.functional.cross_entropy(m(x), y)
      loss:backward()
      opt:step()
    end
    -- float64 throughout: 1e-12 relative leaves room for summation order only
    assert.is_true(math.abs(loss:item() - case.loss) <= 1e-12 * math.abs(case.loss))
    local sd = m:state_dict()
    for _, entry in ipairs(case.final) do
      local want, got = T(entry[2]), sd[entry[1]]
      assert.are.equal(want.dtype, got.dtype, entry[1])
      if want:is_floating_point() then
        assert.is_true(torch.allclose(got, want, { rtol = 1e-12, atol = 1e-14 }), entry[1])
      else
        assert.is_true(torch.equal(got, want), entry[1])
      end
    end
  end)

  it("a Lua module: parameters, buffers, children, a tied parameter and gradients", function()
    local Net = nn.Module:extend("PlacedNet")
    function Net:init()
      self.fc = nn.Linear(2, 2)
      self.scale = nn.Parameter(torch.ones(2))
      self:register_buffer("count", torch.zeros(1, { dtype = "int64" }))
      self:register_buffer("mean", torch.zeros(2))
      self.head = nn.Linear(2, 2)
      self.head.weight = self.fc.weight -- tied
    end
    function Net:forward(x) return self.head(self.fc(x) * self.scale) end
    local m = Net()
    m(torch.randn(3, 2)):sum():backward()
    local w = m.fc.weight
    m:double()
    assert.is_true(rawequal(w, m.fc.weight) and rawequal(w, m.head.weight))
    assert.are.equal("float64", m.scale.dtype)
    assert.are.equal("float64", m.mean.dtype)
    assert.are.equal("int64", m.count.dtype)
    assert.are.equal("float64", w.grad.dtype) -- gradients follow, as PyTorch's _apply
    assert.are.equal("float64", m(torch.randn(3, 2, { dtype = "float64" })).dtype)
    assert.is_true(rawequal(m, m:cpu()))
  end)

  it("a native module computes in the new dtype (libtorch's tensors are the Lua ones)", function()
    local m = nn.Linear(3, 2):double()
    assert.are.equal("float64", m(torch.randn(4, 3, { dtype = "float64" })).dtype)
    local rnn = nn.LSTM(3, 4):double()
    assert.are.equal("float64", rnn(torch.randn(5, 2, 3, { dtype = "float64" })).dtype)
    local bn = nn.BatchNorm1d(3):double()
    bn(torch.randn(4, 3, { dtype = "float64" }))
    assert.are.equal("int64", bn.num_batches_tracked.dtype)
    assert.are.equal(1, bn.num_batches_tracked:item())
  end)

  it("a placed model's clone keeps its dtype (native children rebuilt, then given the data)", function()
    local m = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2), nn.LSTM(2, 3)):double()
    local c = m:clone()
    for k, v in pairs(c:state_dict()) do
      assert.are.equal(m:state_dict()[k].dtype, v.dtype, k)
      assert.is_true(torch.equal(m:state_dict()[k], v), k)
    end
    assert.are.equal("float64", c(torch.randn(3, 2, { dtype = "float64" }))[1].dtype)
  end)

  it("two arguments (device, dtype) and a tensor as the target", function()
    local m = model():to("cpu", "float64")
    assert.are.equal("float64", m:parameters()[1].dtype)
    m:to(torch.zeros(1))
    assert.are.equal("float32", m:parameters()[1].dtype)
  end)

  it("'cuda' fails with the clear error and moves nothing", function()
    local m = model()
    raises("nn.Sequential:to: " .. NO_CUDA:format("cuda"), m.to, m, "cuda")
    raises("nn.Sequential:to: " .. NO_CUDA:format("cuda:1"), m.to, m, { device = "cuda:1", dtype = "float64" })
    raises("nn.Sequential:cuda: " .. NO_CUDA:format("cuda:0"), m.cuda, m, 0)
    assert.are.equal("float32", m:parameters()[1].dtype)
  end)

  it("bad calls name the API", function()
    local m = nn.Linear(2, 2)
    raises("nn.Linear:to: only floating point dtypes (float32, float64, float16, bfloat16) place a module, got 'int64'",
      m.to, m, "int64")
    raises("nn.Linear:to: expected a dtype, a device, a tensor or {dtype =, device =}", m.to, m)
    raises("nn.Linear:to: expected a dtype, a device, a tensor or {dtype =, device =}, got 3", m.to, m, 3)
    raises("nn.Linear:to: unknown device 'cuda:x'", m.to, m, "cuda:x")
    raises("nn.Linear:to: only floating point dtypes (float32, float64, float16, bfloat16) place a module, got 'int64'",
      m.to, m, torch.zeros(1, { dtype = "int64" }))
    raises("nn.Linear:to: only floating point dtypes (float32, float64, float16, bfloat16) place a module, got 'gpu'",
      m.to, m, "gpu")
    raises("nn.Linear:to: unknown option 'dtyp' (did you mean 'dtype'?)", m.to, m, { dtyp = "float64" })
    raises("nn.Linear:cuda: device index must be an integer, got 'x'", m.cuda, m, "x")
    raises("nn.Module: to called with '.'", function() return m.to("float64") end)
  end)
end)

describe("TorchScript placement", function()
  it("double keeps the model's tensors (an optimizer made before still trains it)", function()
    local m = nn.load("spec/fixtures/tiny_model.pt")
    local p = m:parameters()[1]
    local opt = optim.SGD(m:parameters(), { lr = 0.1 })
    assert.is_true(rawequal(m, m:double()))
    assert.are.equal("float64", p.dtype) -- the tensor fetched before is the model's
    local got = dtypes(m)
    assert.are.equal("int64", got["bn.num_batches_tracked"])
    assert.are.equal("float64", got["bn.running_mean"])
    m:train()
    local before = p:detach():clone()
    local out = m(torch.randn(4, p:size(2), { dtype = "float64" }))
    local y = torch.is_tensor(out) and out or out[1] -- Tiny returns (logits, ...)
    assert.are.equal("float64", y.dtype)
    y:sum():backward()
    opt:step()
    assert.is_false(torch.equal(before, m:parameters()[1]:detach()))
    m:float()
    assert.are.equal("float32", m:parameters()[1].dtype)
  end)

  it("cuda and map_location = 'cuda' give the clear error", function()
    local m = nn.load("spec/fixtures/tiny_model.pt")
    raises("torch.jit.ScriptModule:cuda: " .. NO_CUDA:format("cuda"), m.cuda, m)
    raises("torch.jit.ScriptModule:to: only floating point dtypes", m.to, m, "int32")
    raises("torch.jit.load: " .. NO_CUDA:format("cuda"), nn.load, "spec/fixtures/tiny_model.pt", { map_location = "cuda" })
    raises("torch.jit.load: unknown option 'map_locaton'", nn.load, "spec/fixtures/tiny_model.pt", { map_locaton = "cpu" })
    local cpu = nn.load("spec/fixtures/tiny_model.pt", { map_location = "cpu" })
    assert.are.equal("cpu", cpu:parameters()[1].device)
  end)
end)

describe("torch.load map_location", function()
  local PATH = "spec/fixtures/placement_cuda0.pt" -- storages tagged 'cuda:0' by PyTorch

  local function check(v)
    assert.are.same({ { 0, 1, 2 }, { 3, 4, 5 } }, v.w:totable())
    assert.are.equal("cpu", v.w.device)
    v.w:fill_(9) -- the row still shares the storage with w
    assert.are.same({ 9, 9, 9 }, v.row:totable())
    assert.are.equal(7, v.n:item())
  end

  it("loads on the CPU: by default, 'cpu', {['cuda:0'] = 'cpu'}, a function", function()
    check(torch.load(PATH))
    check(torch.load(PATH, { map_location = "cpu" }))
    check(torch.load(PATH, { map_location = torch.device("cpu") }))
    check(torch.load(PATH, { map_location = { ["cuda:0"] = "cpu" } }))
    local seen = {}
    check(torch.load(PATH, { map_location = function(storage, loc)
      seen[#seen + 1] = loc
      return storage
    end }))
    assert.are.same({ "cuda:0" }, seen) -- once per location
    check(torch.load(PATH, { map_location = function() return nil end }))
  end)

  it("a CPU-saved file loads with map_location too (clara's own save)", function()
    local path = os.tmpname()
    finally(function() os.remove(path) end)
    torch.save(path, { a = torch.arange(4) })
    local seen = {}
    local v = torch.load(path, { map_location = function(s, loc) seen[#seen + 1] = loc; return s end })
    assert.are.same({ 0, 1, 2, 3 }, v.a:totable())
    assert.are.same({ "cpu" }, seen)
  end)

  it("'cuda' targets give the clear error; bad forms name torch.load", function()
    raises("torch.load: " .. NO_CUDA:format("cuda"), torch.load, PATH, { map_location = "cuda" })
    raises("torch.load: " .. NO_CUDA:format("cuda:1"), torch.load, PATH, { map_location = { ["cuda:0"] = "cuda:1" } })
    raises(NO_CUDA:format("cuda"), torch.load, PATH, { map_location = function(s) return s:cuda() end })
    raises("torch.load: map_location must be a device name, a table {[location] = device} or a function, got 3",
      torch.load, PATH, { map_location = 3 })
    raises("torch.load: map_location(storage, 'cuda:0') must return a tensor (or nil), got 'cpu'",
      torch.load, PATH, { map_location = function() return "cpu" end })
    raises("torch.load: unknown device 'gpu' (expected 'cpu', 'cuda' or 'cuda:<index>')", torch.load, PATH,
      { map_location = "gpu" })
    raises("torch.load: unknown option 'map_locaton'", torch.load, PATH, { map_locaton = "cpu" })
    local v, err = torch.load_safe(PATH, { map_location = "cuda" })
    assert.is_nil(v)
    assert.truthy(err:find(NO_CUDA:format("cuda"), 1, true))
  end)
end)

describe("experiment device and dtype", function()
  torch.manual_seed(3)
  local X, Y = torch.randn(16, 3), torch.randint(0, 2, { 16 })
  local ds = clara.data.TensorDataset(X, Y)
  local function factory()
    torch.manual_seed(5)
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
  end
  local function spec(extra)
    local s = { data = ds, model = factory, objective = clara.losses.cross_entropy, verbose = false, out_dir = false,
                optimizer = function(m) return optim.SGD(m, { lr = 0.1, momentum = 0.9 }) end,
                batch_size = 4, shuffle = false, epochs = 2 }
    for k, v in pairs(extra) do s[k] = v end
    return s
  end

  -- the same training by hand: the float64 model, batches in order
  local function by_hand()
    local m = factory():double()
    local opt = optim.SGD(m, { lr = 0.1, momentum = 0.9 })
    for _ = 1, 2 do
      for i = 0, 3 do
        local x, y = X:narrow(1, i * 4 + 1, 4):double(), Y:narrow(1, i * 4 + 1, 4)
        opt:zero_grad()
        nn.functional.cross_entropy(m(x), y):backward()
        opt:step()
      end
    end
    return m:state_dict()
  end

  it("device = 'cpu', dtype = 'float64' trains the float64 model, bitwise as by hand (clear and fast)", function()
    local want = by_hand()
    for _, impl in ipairs { "clear", "fast" } do
      local r = clara.experiment(spec { device = "cpu", dtype = "float64", impl = impl }):run()
      for k, v in pairs(r.model:state_dict()) do
        assert.are.equal("float64", v.dtype, impl .. " " .. k)
        assert.is_true(torch.equal(want[k], v), impl .. " " .. k)
      end
      assert.are.equal("float64", r.predict(X).dtype)
    end
  end)

  it("dtype = 'float64' with uint8 data and a preprocessing that scales it to float32 (clear and fast)", function()
    local images = clara.data.TensorDataset((X:abs() * 50):to("uint8"), Y)
    local want
    for _, impl in ipairs { "clear", "fast" } do
      local r = clara.experiment(spec { data = images, dtype = "float64", impl = impl,
                                        preprocess = clara.transforms.Scale(1 / 255) }):run()
      assert.are.equal("float64", r.model:parameters()[1].dtype)
      local w = r.model:state_dict()["1.weight"]
      if want then assert.is_true(torch.equal(want, w)) else want = w end
    end
  end)

  it("the default (cpu, the model's dtype) changes nothing", function()
    local r = clara.experiment(spec {}):run()
    assert.are.equal("float32", r.model:parameters()[1].dtype)
    local b = require("clara.train.batcher").default()
    assert.is_true(rawequal(b, require("clara.train.place").batcher(b, "cpu", nil)))
  end)

  it("tables of tensors in a batch are placed too; labels keep their dtype", function()
    local place = require("clara.train.place")
    local v = place.value({ torch.zeros(2), { torch.ones(1) }, torch.zeros(2, { dtype = "int64" }), "s" }, "cpu",
      "float64")
    assert.are.equal("float64", v[1].dtype)
    assert.are.equal("float64", v[2][1].dtype)
    assert.are.equal("int64", v[3].dtype)
    assert.are.equal("s", v[4])
  end)

  it("a float64 run that crashed resumes to the very weights of an uninterrupted one", function()
    local tmpdir, cleanup = dofile("spec/helpers/tmpdir.lua")
    finally(cleanup)
    local function exp(over)
      local t = dofile("spec/helpers/resume_experiment.lua")
      t.dtype, t.checkpoint_every = "float64", 1
      for k, v in pairs(over) do t[k] = v end
      return clara.experiment(t)
    end
    local reference = exp { out_dir = tmpdir() }:run()
    local e = exp { out_dir = tmpdir() }
    local crash = { on_step_end = function(ctx) if ctx.step == 17 then error("crash", 0) end end }
    assert.is_false(pcall(function() e:with { hooks = crash }:run() end))
    local r = e:run { resume = true }
    for k, v in pairs(reference.model:state_dict()) do
      assert.are.equal("float64", r.model:state_dict()[k].dtype, k)
      assert.is_true(torch.equal(v, r.model:state_dict()[k]), k)
    end
    assert.are.equal("float64", clara.run.read(r.dir).config.dtype)
  end)

  it("device = 'cuda' fails before the first step with the clear error", function()
    local started = false
    local exp = clara.experiment(spec { device = "cuda", hooks = { on_run_start = function() started = true end } })
    raises("clara.experiment: " .. NO_CUDA:format("cuda"), exp.run, exp)
    assert.is_false(started)
  end)

  it("bad values name the option", function()
    raises("clara.experiment: device must be 'cpu', 'cuda' or 'cuda:<index>', got 'gpu'", clara.experiment,
      spec { device = "gpu" })
    raises("clara.experiment: dtype", clara.experiment, spec { dtype = "int64" })
    local exp = clara.experiment(spec { dtype = "float64", model = function() return function(x) return x end end })
    raises("clara.experiment: device = 'cpu', dtype = 'float64' needs a model with to()", exp.run, exp)
  end)
end)
