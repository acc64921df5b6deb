-- libtorch's messages as clara users read them (issue 11, sections 1 and
-- 2): every bridge error goes through torch.messages.translate (called by
-- lt_errormsg in bindings/l_error.c), which keeps it under
-- clara.limits.message_bytes, strips C++ backtraces, turns internal
-- assertions into "clara: internal error in <op>: ..." and writes 0-based
-- dims, list entries and tensor numbers 1-based.
--
-- A differential corpus, generated here: ops x wrong dims x wrong shapes x
-- wrong dtypes (a couple of thousand bad calls), each message checked for
-- the cap and for leaks; a sample of messages that name a dim is checked
-- against the position the right answer gives.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/libtorch_messages_spec.lua

local torch = require "torch"
local limits = require "clara.limits"
local messages = require "torch.messages"

local CAP = limits.message_bytes
local LEAKS = { "INTERNAL ASSERT", "report a bug", "Exception raised from", "frame #%d", "%.cpp:%d", "c10::" }

-- the message without the "file:line:" the error carries
local function body(err)
  return (tostring(err):gsub("^[^\n:]*:%d+: ", ""))
end

local function T(shape, dtype)
  local t = #shape == 0 and torch.tensor(1.0) or torch.ones(table.unpack(shape))
  return t:to(dtype or "float32")
end

local function show(t) return ("%s(%s)"):format(t.dtype, table.concat(t:size(), ",")) end

-- {====================== the corpus ======================

local DTYPES = { "float32", "float64", "int64", "int32", "uint8", "bool", "float16" }
local SHAPES = { {}, {3}, {2, 3}, {3, 2}, {2, 3, 4}, {0, 3}, {4, 1} }
local BINARY = { "add", "sub", "mul", "div", "pow", "atan2", "maximum", "minimum", "eq", "lt",
                 "logical_and", "bitwise_and", "fmod", "remainder", "matmul", "mm", "bmm", "mv", "dot", "outer" }
local DIMOPS = { "sum", "mean", "std", "prod", "argmax", "amax", "logsumexp", "cumsum", "softmax",
                 "log_softmax", "sort", "min", "max", "all", "squeeze", "unsqueeze" }

local function corpus()
  local cases = {}
  local function add(name, f) cases[#cases + 1] = { name = name, f = f } end
  -- binary ops over mismatched shapes and dtypes, and numbers for tensors
  for _, op in ipairs(BINARY) do
    for i, sa in ipairs(SHAPES) do
      local sb = SHAPES[i % #SHAPES + 1]
      for j, da in ipairs(DTYPES) do
        local db = DTYPES[(j + i) % #DTYPES + 1]
        local a, b = T(sa, da), T(sb, db)
        add(("%s(%s, %s)"):format(op, show(a), show(b)), function() return torch[op](a, b) end)
      end
    end
    add(op .. "(number, string)", function() return torch[op](1.5, "x") end)
    add(op .. "(tensor, table)", function() return torch[op](T({ 2 }), { 1, 2 }) end)
  end
  -- dim ops over dims in and out of range, for each dtype
  for _, op in ipairs(DIMOPS) do
    for _, dt in ipairs(DTYPES) do
      for _, sh in ipairs { {}, { 3 }, { 2, 3 }, { 0, 3 } } do
        for _, d in ipairs { 1, 2, -1, 0, 3, -3, 9 } do
          local t = T(sh, dt)
          add(("%s(%s, %d)"):format(op, show(t), d), function() return t[op](t, d) end)
        end
      end
    end
  end
  -- shape ops, index ops and lists of tensors
  local x = T({ 2, 3 })
  for _, d in ipairs { 1, 2, -1, 0, 3 } do
    for _, s in ipairs { 0, 1, 2, 4, -1 } do
      add(("narrow(%d, %d)"):format(d, s), function() return x:narrow(d, s, 2) end)
      add(("select(%d, %d)"):format(d, s), function() return x:select(d, s) end)
      add(("topk(%d, %d)"):format(s, d), function() return x:topk(s, d) end)
      add(("transpose(%d, %d)"):format(d, s), function() return x:transpose(d, s) end)
      add(("split(%d, %d)"):format(s, d), function() return x:split(s, d) end)
    end
    for _, idt in ipairs { "int64", "int32", "float32", "bool" } do
      for _, ish in ipairs { { 2 }, { 2, 3 }, { 3, 5 }, {} } do
        local idx = T(ish, idt)
        add(("index_select(%d, %s)"):format(d, show(idx)), function() return x:index_select(d, idx) end)
        add(("gather(%d, %s)"):format(d, show(idx)), function() return x:gather(d, idx) end)
        add(("gather(%d, %s * 7)"):format(d, show(idx)), function() return x:gather(d, idx * 7) end)
        add(("scatter(%d, %s)"):format(d, show(idx)), function() return x:scatter(d, idx, x) end)
      end
    end
    for _, sb in ipairs { { 3, 3 }, { 2, 4 }, { 2, 3, 1 }, {} } do
      for _, dt in ipairs { "float32", "int64", "bool" } do
        local b = T(sb, dt)
        add(("cat(%s, %d)"):format(show(b), d), function() return torch.cat({ x, x, b }, d) end)
        add(("stack(%s, %d)"):format(show(b), d), function() return torch.stack({ x, b }, d) end)
      end
    end
  end
  for _, sz in ipairs { { 3, 3 }, { 7 }, { -1, 4 }, { 2, -1, -1 }, { 0 }, { 2, 3, 1 }, { 1, 1, 1, 1, 9 } } do
    for _, op in ipairs { "reshape", "view", "expand", "permute", "repeat_tensor" } do
      add(("%s(%s)"):format(op, table.concat(sz, ",")), function() return x[op](x, table.unpack(sz)) end)
    end
  end
  -- modules given the wrong dtype or shape
  local mods = { nn.Linear(3, 2), nn.Conv1d(3, 2, 1), nn.Conv2d(3, 2, 1), nn.BatchNorm1d(3), nn.LayerNorm(3),
                 nn.Embedding(5, 3), nn.LSTM(3, 2), nn.MaxPool2d(2), nn.GroupNorm(1, 3) }
  for mi, m in ipairs(mods) do
    for _, dt in ipairs(DTYPES) do
      for _, sh in ipairs { { 4, 3 }, {}, { 2, 3, 4 }, { 4, 5 }, { 2, 5, 4, 4 } } do
        local t = T(sh, dt)
        add(("module %d (%s)"):format(mi, show(t)), function() return m(t) end)
      end
    end
  end
  -- losses with wrong targets
  local F = torch.nn.functional
  for _, l in ipairs { "cross_entropy", "nll_loss", "binary_cross_entropy", "mse_loss", "l1_loss", "kl_div" } do
    for _, ish in ipairs { { 4, 3 }, { 4 }, {} } do
      for _, tdt in ipairs { "float32", "int64", "bool" } do
        for _, tsh in ipairs { { 4 }, { 4, 3 }, { 5 } } do
          local input, target = T(ish), T(tsh, tdt)
          add(("%s(%s, %s)"):format(l, show(input), show(target)), function() return F[l](input, target) end)
        end
      end
    end
  end
  -- TorchScript methods called with values of the wrong type
  local m = torch.jit.compile([[
def forward(self, x):
    return x
def typed(self, a: float, n: int, xs: List[int], t: Tensor, o: Optional[Tensor], d: Dict[str, float]) -> float:
    return a
def fail(self, x):
    return torch.mm(x, x)
]])
  local good = { 1.5, 2, { 1 }, T({ 2 }), T({ 2 }), { a = 1.0 } }
  local bad = { "x", true, { "x" }, { a = 1 }, T({ 2 }), 1.5, {}, print ~= nil }
  for i = 1, #good do
    for j, v in ipairs(bad) do
      local args = { table.unpack(good) }
      args[i] = v
      add(("typed: argument %d as bad value %d"):format(i + 1, j), function() return m:typed(table.unpack(args, 1, #good)) end)
    end
  end
  for _, sh in ipairs { { 2, 3 }, { 3 }, {}, { 2, 3, 4 } } do
    add(("script mm of %s"):format(table.concat(sh, "x")), function() return m:fail(T(sh)) end)
  end
  return cases
end
-- }================================================================

describe("libtorch messages", function()
  local cases = corpus()
  local errors, accepted = {}, 0
  for _, c in ipairs(cases) do
    local ok, err = pcall(c.f)
    if ok then accepted = accepted + 1 else errors[#errors + 1] = { c.name, tostring(err) } end
  end

  if os.getenv("CLARA_SHOW_COUNTS") then
    local positional = 0
    for _, e in ipairs(errors) do
      if not e[2]:find("bad argument", 1, true) and (e[2]:find("dimension %d") or e[2]:find("dim %-?%d")
          or e[2]:find("entry %d") or e[2]:find("number %d+ in the list") or e[2]:find("position %d")) then
        positional = positional + 1
      end
    end
    io.stderr:write(("%d bad calls, %d errors, %d name a dim/entry/position from libtorch\n")
      :format(#cases, #errors, positional))
  end

  it("the corpus has hundreds of bad calls, and most fail", function()
    assert.is_true(#cases >= 1000, #cases .. " cases")
    assert.is_true(#errors >= 800, #errors .. " errors")
  end)

  it("every message is at most clara.limits.message_bytes and leaks nothing", function()
    local bad = {}
    for _, e in ipairs(errors) do
      local msg = body(e[2])
      if #msg > CAP then bad[#bad + 1] = e[1] .. ": " .. #msg .. " bytes" end
      for _, leak in ipairs(LEAKS) do
        if msg:find(leak) then bad[#bad + 1] = e[1] .. ": leaks '" .. leak .. "': " .. msg end
      end
      if msg:find("\n%s*frame") then bad[#bad + 1] = e[1] .. ": backtrace: " .. msg end
    end
    assert.same({}, bad)
  end)

  it("no dim in a message is 0-based (a 0-d..3-d tensor has no dim 0)", function()
    local bad = {}
    for _, e in ipairs(errors) do
      local msg = body(e[2])
      for _, pat in ipairs { "dimension 0[^%d%-]", "dim 0[^%d%-]", "dimension 0$", "dim 0$", "at entry 0", "tensor number 0",
                             "position 0%)" } do
        -- "dim 0 is not a position" is clara's own refusal of a 0
        if msg:find(pat) and not msg:find("dim 0 is not a position", 1, true) then
          bad[#bad + 1] = e[1] .. ": " .. msg
        end
      end
    end
    assert.same({}, bad)
  end)
end)

describe("dims, entries and positions in messages are 1-based", function()
  -- { the bad call, what the message must say (the right answer, 1-based) }
  local sample = {
    { function() return torch.ones(2, 3) + torch.ones(3, 3) end, "at non-singleton dimension 1" },
    { function() return torch.ones(2, 3) + torch.ones(2, 4) end, "at non-singleton dimension 2" },
    { function() return torch.ones(4, 2, 3) * torch.ones(5, 2, 3) end, "at non-singleton dimension 1" },
    { function() return torch.ones(2, 3, 4) - torch.ones(2, 5, 4) end, "at non-singleton dimension 2" },
    { function() return torch.ones(2, 3, 4) - torch.ones(2, 3, 5) end, "at non-singleton dimension 3" },
    { function() return torch.cat({ torch.ones(2, 3), torch.ones(3, 4) }, 1) end, "except in dimension 1" },
    { function() return torch.cat({ torch.ones(2, 3), torch.ones(3, 4) }, 1) end, "for tensor number 2 in the list" },
    { function() return torch.cat({ torch.ones(2, 3), torch.ones(2, 3), torch.ones(3, 3) }, 2) end, "except in dimension 2" },
    { function() return torch.cat({ torch.ones(2, 3), torch.ones(2, 3), torch.ones(3, 3) }, 2) end, "tensor number 3 in the list" },
    { function() return torch.cat({ torch.ones(2, 3), torch.tensor(1.0) }, 1) end, "(at position 2)" },
    { function() return torch.stack({ torch.ones(2, 3), torch.ones(3, 4) }) end, "at entry 1 and [3, 4] at entry 2" },
    { function() return torch.stack({ torch.ones(2), torch.ones(2), torch.ones(3) }) end, "at entry 1 and [3] at entry 3" },
    { function() return torch.ones(2, 3):gather(2, torch.ones(2, 3):long() * 7) end, "out of bounds for dimension 2 with size 3" },
    { function() return torch.ones(2, 3):gather(1, torch.ones(2, 3):long() * 7) end, "out of bounds for dimension 1 with size 2" },
    { function() return torch.ones(2, 3):gather(1, torch.ones(3, 5):long()) end, "at dimension 2" },
    { function() return torch.ones(2, 3):gather(1, torch.ones(3, 5):long()) end, "apart from dimension 1" },
    { function() return torch.ones(0, 3):amax(1) end, "reduction dim 1 to have non-zero size" },
    { function() return torch.ones(3, 0):argmax(2) end, "reduction dim 2 to have non-zero size" },
    { function() return torch.mv(torch.tensor(1.0), torch.ones(3)) end, "Dimension specified as 1 but" },
  }
  for i, s in ipairs(sample) do
    it(("#%d says '%s'"):format(i, s[2]), function()
      local ok, err = pcall(s[1])
      assert.is_false(ok)
      assert.is_truthy(tostring(err):find(s[2], 1, true), err)
    end)
  end
end)

describe("torch.messages.translate", function()
  local tr = messages.translate

  it("writes dims of a range 1-based, negatives unchanged", function()
    assert.equal("sum: Dimension out of range (expected to be in range of [-2, -1] or [1, 2], but got 3)",
      tr("Dimension out of range (expected to be in range of [-2, 1], but got 2)", "sum"))
    assert.equal("sum: Dimension out of range (expected to be in range of [-3, -1] or [1, 3], but got -4)",
      tr("Dimension out of range (expected to be in range of [-3, 2], but got -4)", "sum"))
  end)

  it("translates each number once and leaves sizes and counts alone", function()
    assert.equal("The size of tensor a (0) must match the size of tensor b (2) at non-singleton dimension 1",
      tr("The size of tensor a (0) must match the size of tensor b (2) at non-singleton dimension 0"))
    assert.equal("Expected 3-dimensional input for 3-dimensional weight [2, 3, 1], but got 2-dimensional input",
      tr("Expected 3-dimensional input for 3-dimensional weight [2, 3, 1], but got 2-dimensional input"))
    assert.equal("Sizes of tensors must match except in dimension 1. Expected size 0 but got size 1 for tensor number 2 in the list.",
      tr("Sizes of tensors must match except in dimension 0. Expected size 0 but got size 1 for tensor number 1 in the list."))
  end)

  it("turns an internal assertion into clara's internal error, one line, no bug report", function()
    local raw = 'false INTERNAL ASSERT FAILED at "../aten/src/ATen/core/ivalue_inl.h":1234, please report a bug to PyTorch. '
      .. "Expected Tensor but got Int\nException raised from toTensor at ../aten/src/ATen/core/ivalue_inl.h:1234 "
      .. "(most recent call first):\nframe #0: c10::Error::Error() + 0x1a"
    local msg = tr(raw, "script method forward")
    assert.equal("clara: internal error in script method forward: Expected Tensor but got Int", msg)
    local bare = tr('isTensor() INTERNAL ASSERT FAILED at "x.cpp":3, please report a bug to PyTorch.', "add")
    assert.matches("^clara: internal error in add: ", bare)
    assert.is_falsy(bare:find("report a bug", 1, true))
    assert.is_falsy(bare:find("INTERNAL ASSERT", 1, true))
  end)

  it("strips backtraces", function()
    assert.equal("add: bad", tr("bad\nException raised from foo at x.cpp:1 (most recent call first):\nframe #0: x", "add"))
  end)

  it("cuts long messages at clara.limits.message_bytes, on a character boundary", function()
    local msg = tr(("é"):rep(20000), "op")
    assert.is_true(#msg <= CAP)
    assert.is_truthy(utf8.len(msg), "cut inside a UTF-8 sequence")
    assert.matches("cut at clara.limits.message_bytes = " .. CAP, msg, 1, true)
    limits.message_bytes = 200
    local short = tr(("x"):rep(1000), "op")
    limits.message_bytes = CAP
    assert.is_true(#short <= 200, #short)
  end)

  it("is the path every bridge error takes (a 60 KB compiler message arrives cut)", function()
    local src = "def forward(self, x):\n    return x +* '" .. ("a"):rep(60000) .. "'\n"
    local ok, err = pcall(torch.jit.compile, src)
    assert.is_false(ok)
    assert.is_true(#body(err) <= CAP, #body(err) .. " bytes")
    assert.matches("cut at clara.limits.message_bytes", err, 1, true)
  end)
end)

describe("inputs that made libtorch assert are refused first", function()
  local SRC = "def forward(self, x):\n    return x\n"
  -- libtorch 1.13: "!name.empty() INTERNAL ASSERT FAILED", "name.find(delimiter_)
  -- == std::string::npos INTERNAL ASSERT FAILED ... please report a bug"
  for _, case in ipairs {
    { "an empty class name", { name = "" }, "name must be an identifier" },
    { "a dotted class name", { name = "a.b" }, "name must be an identifier" },
    { "a dotted parameter name", { parameters = { ["a.b"] = torch.ones(1) } }, "parameter name 'a.b' must be an identifier" },
    { "an empty buffer name", { buffers = { [""] = torch.ones(1) } }, "buffer name '' must be an identifier" },
  } do
    it(case[1], function()
      local ok, err = pcall(torch.jit.compile, SRC, case[2])
      assert.is_false(ok)
      assert.matches("^spec/libtorch_messages_spec.lua:%d+: torch.jit.compile: ", err)
      assert.is_truthy(err:find(case[3], 1, true), err)
      assert.is_falsy(err:find("internal", 1, true), err)
    end)
  end
end)
