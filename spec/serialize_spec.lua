-- torch.save / torch.load: round trips of tensors of every dtype and of
-- nested tables, files saved by PyTorch (a state_dict, nested values),
-- and atomic writes.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/serialize_spec.lua
-- PyTorch wrote spec/fixtures/state_dict.pt and values.pt and the values in
-- spec/fixtures/jit.lua (tests/fixtures/make_jit.py, which also checks that
-- PyTorch reads the files clara writes).

local torch = require "torch"
local core = require "torch.jit.core"

local FIX = dofile("spec/fixtures/jit.lua")

-- {====================== helpers ======================

local function T(fix)
  if #fix.shape == 0 then return torch.tensor(fix.values[1], { dtype = fix.dtype }) end
  return torch.tensor(fix.values, { dtype = fix.dtype }):reshape(fix.shape)
end

-- exact: same dtype, shape and values
local function assert_exact(fix, got, what)
  what = what or ""
  assert.is_true(torch.is_tensor(got), what .. ": expected a tensor, got " .. type(got))
  assert.equal(fix.dtype, got.dtype, what)
  assert.same(fix.shape, got:size(), what)
  local want = T(fix)
  assert.is_true(torch.equal(got, want), what .. ": expected " .. tostring(want) .. ", got " .. tostring(got))
end

local dir
local function path(name) return dir .. "/" .. name end

local function ls()
  local p = io.popen("ls -A " .. dir)
  local names = {}
  for n in p:lines() do names[#names + 1] = n end
  p:close()
  table.sort(names)
  return names
end

local function slurp(p)
  local f = assert(io.open(p, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function roundtrip(v)
  torch.save(path("rt.pt"), v)
  return torch.load(path("rt.pt"))
end

-- }======================================================

describe("torch.save and torch.load", function()
  before_each(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir))
  end)
  after_each(function() os.execute("rm -rf " .. dir) end)

  it("round-trip tensors of every dtype exactly", function()
    local cases = {
      float32 = torch.tensor({ { 1.5, -2.25 }, { 3e-8, 1e30 } }),
      float64 = torch.tensor({ 1 / 3, -1e300 }, { dtype = "float64" }),
      int64 = torch.tensor({ math.mininteger, 0, math.maxinteger }),
      int32 = torch.tensor({ -2147483648, 2147483647 }, { dtype = "int32" }),
      int16 = torch.tensor({ -32768, 32767 }, { dtype = "int16" }),
      int8 = torch.tensor({ -128, 127 }, { dtype = "int8" }),
      uint8 = torch.tensor({ 0, 255 }, { dtype = "uint8" }),
      bool = torch.tensor({ true, false, true }),
      float16 = torch.tensor({ 0.5, -65504 }, { dtype = "float16" }),
      bfloat16 = torch.tensor({ 1.5, -3.0 }, { dtype = "bfloat16" }),
    }
    for dtype, t in pairs(cases) do
      local back = roundtrip(t)
      assert.equal(dtype, back.dtype)
      assert.same(t:size(), back:size())
      assert.is_true(torch.equal(t, back), dtype)
    end
  end)

  it("round-trip 0-d, empty and non-contiguous tensors", function()
    local s = roundtrip(torch.tensor(2.5))
    assert.equal(0, s:dim())
    assert.equal(2.5, s:item())
    assert.same({ 0, 3 }, roundtrip(torch.zeros(0, 3)):size())
    local view = torch.arange(6):view(2, 3):t()
    assert.is_false(view:is_contiguous())
    assert.same({ { 0, 3 }, { 1, 4 }, { 2, 5 } }, roundtrip(view):totable())
    local sliced = torch.arange(10)[{ { 3, 6 } }]
    assert.same({ 2, 3, 4, 5 }, roundtrip(sliced):totable())
  end)

  it("round-trip nested tables: dicts, lists, numbers, strings, booleans", function()
    local v = {
      weights = { fc = { w = torch.ones(2, 2), b = torch.zeros(2) } },
      list = { 1, 2.5, "three", true, false },
      epoch = 7, lr = 0.1, name = "run \0 with a zero byte", done = false,
      sparse = { [3] = "c", [10] = "j" },
      empty = {},
    }
    local back = roundtrip(v)
    assert.is_true(torch.equal(back.weights.fc.w, torch.ones(2, 2)))
    assert.is_true(torch.equal(back.weights.fc.b, torch.zeros(2)))
    assert.same({ 1, 2.5, "three", true, false }, back.list)
    assert.equal("integer", math.type(back.list[1]))
    assert.equal("float", math.type(back.list[2]))
    assert.equal(7, back.epoch)
    assert.equal("integer", math.type(back.epoch))
    assert.equal(0.1, back.lr)
    assert.equal(v.name, back.name)
    assert.is_false(back.done)
    assert.same({ [3] = "c", [10] = "j" }, back.sparse)
    assert.same({}, back.empty)
  end)

  it("save a tensor alone, and take PyTorch's argument order too", function()
    torch.save(path("a.pt"), torch.eye(2))
    torch.save(torch.ones(3), path("b.pt")) -- torch.save(obj, f) as in PyTorch
    assert.is_true(torch.equal(torch.load(path("a.pt")), torch.eye(2)))
    assert.is_true(torch.equal(torch.load(path("b.pt")), torch.ones(3)))
  end)

  it("write PyTorch's zip layout: <name>/data.pkl, data/<key>, version", function()
    torch.save(path("z.pt"), { w = torch.ones(2) })
    local bytes = slurp(path("z.pt"))
    assert.equal("PK\3\4", bytes:sub(1, 4))
    assert.is_truthy(bytes:find("/data.pkl", 1, true))
    assert.is_truthy(bytes:find("/data/0", 1, true))
    assert.is_truthy(bytes:find("/version", 1, true))
    assert.is_truthy(bytes:find("torch._utils", 1, true)) -- tensors as PyTorch rebuilds them
    assert.is_truthy(bytes:find("FloatStorage", 1, true))
  end)

  it("read a state_dict saved by PyTorch with its exact values", function()
    local sd = torch.load("spec/fixtures/state_dict.pt")
    local n = 0
    for name, fix in pairs(FIX.state_dict) do
      assert_exact(fix, sd[name], name)
      n = n + 1
    end
    local got = 0
    for _ in pairs(sd) do got = got + 1 end
    assert.equal(n, got)
    assert.equal("int64", sd["1.num_batches_tracked"].dtype)
  end)

  it("load a PyTorch state_dict into a clara nn module: PyTorch's outputs", function()
    local net = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2), nn.Linear(2, 1))
    net:load_state_dict(torch.load("spec/fixtures/state_dict.pt"))
    net:eval()
    local x = T(FIX.model.x)[{ {}, { 1, 3 } }]
    local want = T(FIX.state_dict_eval_out)
    local got = net(x)
    assert.is_true(torch.allclose(got, want, { rtol = 1e-5, atol = 1e-6 }),
      "expected " .. tostring(want) .. ", got " .. tostring(got))
  end)

  it("round-trip a clara module's state_dict", function()
    local a = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    local b = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    torch.save(path("sd.pt"), a:state_dict())
    b:load_state_dict(torch.load(path("sd.pt")))
    local x = torch.randn(4, 3)
    assert.is_true(torch.equal(a(x), b(x)))
  end)

  it("read nested values saved by PyTorch: every dtype, views, lists, tuples", function()
    local v = torch.load("spec/fixtures/values.pt")
    for _, key in ipairs { "float32", "float64", "int64", "int32", "int16", "int8", "uint8",
                           "bool", "float16", "scalar", "transposed", "row", "base" } do
      assert_exact(FIX.values[key], v[key], key)
    end
    local nested = v.nested
    assert.same({ 1, 2.5, "three", true }, nested.list) -- None is a hole at the end
    assert.same({ 4, "five" }, nested.tuple)
    assert.same({}, nested.empty)
    assert_exact(FIX.values.nested.deeper.t, nested.deeper.t, "deeper.t")
    assert.equal(42, v.number)
    assert.equal(0.1, v.float)
    assert.equal("héllo", v.string)
    assert.is_false(v.flag)
  end)

  it("keep views of one storage sharing it, as PyTorch does", function()
    local v = torch.load("spec/fixtures/values.pt")
    v.row:fill_(-1) -- row is base[1] (0-based) in Python
    assert.same({ -1, -1, -1, -1 }, v.base[2]:totable())
  end)

  it("write atomically: no temporary file is left behind", function()
    torch.save(path("x.pt"), torch.ones(3))
    torch.save(path("x.pt"), torch.zeros(3)) -- replaces
    assert.same({ "x.pt" }, ls())
    assert.is_true(torch.equal(torch.load(path("x.pt")), torch.zeros(3)))
  end)

  it("a failing save leaves the old file intact and no temporary", function()
    torch.save(path("x.pt"), torch.ones(3))
    local before = slurp(path("x.pt"))
    -- 1. the value cannot be converted: nothing is written
    assert.has_error(function() torch.save(path("x.pt"), { f = print }) end)
    -- 2. the write fails after the temporary is complete (injected fault)
    core._inject_write_failure(true)
    local ok, err = pcall(torch.save, path("x.pt"), torch.zeros(100))
    core._inject_write_failure(false)
    assert.is_false(ok)
    assert.is_truthy(err:find(path("x.pt"), 1, true), err)
    assert.equal(before, slurp(path("x.pt")))
    assert.same({ "x.pt" }, ls())
    -- 3. the same for a script module's save
    local m = torch.jit.compile("def forward(self, x):\n    return x\n")
    core._inject_write_failure(true)
    ok = pcall(m.save, m, path("x.pt"))
    core._inject_write_failure(false)
    assert.is_false(ok)
    assert.equal(before, slurp(path("x.pt")))
    assert.same({ "x.pt" }, ls())
  end)

  it("keep the permissions a plain create would give", function()
    torch.save(path("p.pt"), torch.ones(1))
    local p = io.popen("stat -c %a " .. path("p.pt") .. "; umask")
    local mode, umask = p:read("l"), p:read("l")
    p:close()
    assert.equal(("%o"):format(0x1b6 & ~tonumber(umask, 8)), mode) -- 0666 & ~umask
  end)

  it("load_safe returns nil and a message instead of raising", function()
    local v, err = torch.load_safe(path("missing.pt"))
    assert.is_nil(v)
    assert.is_truthy(err:find("missing.pt", 1, true))
    torch.save(path("ok.pt"), { a = 1 })
    assert.same({ a = 1 }, torch.load_safe(path("ok.pt")))
  end)
end)
