-- the REPL's Lua halves: the printer (clara.repl.show), help and its
-- documentation of C functions (clara.repl.help, clara.repl.cdocs), the
-- Ctrl-C of a training run (clara.repl.interrupt), torch.Size.
-- tests/repl_test.sh drives the same through a terminal.
local show = require "clara.repl.show"
local help = require "clara.repl.help"
local interrupt = require "clara.repl.interrupt"

describe("clara.repl.show", function()
  it("prints short tables on one line, list items first, then keys in order", function()
    assert.are.equal("{1, 2, {a = 3}}", show.show { 1, 2, { a = 3 } })
    assert.are.equal('{"a\\nb", ["odd key"] = false, z = 1, [1.5] = true}',
      show.show { "a\nb", z = 1, ["odd key"] = false, [1.5] = true })
    assert.are.equal("{}", show.show {})
    assert.are.equal("plain", show.show "plain")
    assert.are.equal("1\tnil\tx", show.results(1, nil, "x"))
  end)

  it("nests long tables with indentation, tensors by size and dtype", function()
    local t = { w = torch.zeros(400, 3), small = torch.tensor { 1, 2 }, s = torch.zeros(2, 3):size(), name = "n" }
    assert.are.equal(table.concat({
      "{",
      '  name = "n",',
      "  s = torch.Size{2, 3},",
      "  small = tensor([1, 2]),",
      "  w = tensor of size 400x3 (float32)",
      "}" }, "\n"), show.show(t))
  end)

  it("elides long lists and deep tables with their counts, and shows cycles", function()
    local list = {}
    for i = 1, 25 do list[i] = i end
    local s = show.show(list)
    assert.matches("^{\n  1, 2, 3, [%d, ]+ 19, 20,\n  %.%.%. %(5 more%)\n}$", s)
    assert.is_nil(s:find("21", 1, true))
    assert.are.equal("{{{{...} (1 item)}}}", show.show { { { { { 1 } } } } })
    local c = { }
    c.me = c
    assert.matches("^{me = <cycle: table 0x%x+>}$", show.show(c))
    local keys = {}
    for i = 1, 40 do keys["k" .. i] = i end
    assert.truthy(show.show(keys):find("... (10 more keys)", 1, true))
  end)

  it("indents a module's print inside a table; functions by where they are defined", function()
    local s = show.show { m = nn.Sequential(nn.Linear(2, 3)), f = print }
    assert.truthy(s:find("m = Sequential(\n    (0): Linear", 1, true), s)
    assert.truthy(s:find("f = function (C)", 1, true), s)
    assert.matches("^function %(.*repl_spec.lua:%d+%)$", (show.show { function() end }):sub(2, -2))
  end)

  it("follows a tensor whose print elides values by its size", function()
    assert.matches("\n%[tensor of size 200x300 %(float32%)%]$", show.show(torch.zeros(200, 300)))
    assert.are.equal(tostring(torch.ones(2)), show.show(torch.ones(2)))
  end)
end)

describe("torch.Size", function()
  it("is what size() and shape return: a list that prints and compares as a size", function()
    local s = torch.zeros(2, 3):size()
    assert.are.equal("torch.Size{2, 3}", tostring(s))
    assert.are.equal(2, #s)
    assert.are.equal(3, s[2])
    assert.are.same({ 2, 3 }, s)
    assert.is_true(s == torch.Size { 2, 3 })
    assert.is_false(s == torch.Size { 3, 2 })
    assert.are.equal(6, s:numel())
    assert.are.equal("torch.Size{}", tostring(torch.tensor(1):size()))
    assert.is_true(torch.zeros(s):size() == s)
    assert.are.equal('{"s": [2, 3]}', (require("clara.run.json").encode { s = s }:gsub("%s+", " "):gsub(" $", ""):gsub("{ ", "{"):gsub(" }", "}")))
    assert.has_error(function() torch.Size { 2, -1 } end, "torch.Size: sizes are integers >= 0, got -1 at 2")
  end)
end)

describe("clara.repl.help", function()
  it("documents every C function of clara.repl.cdocs, and each name there is a C function", function()
    for _, e in ipairs(require "clara.repl.cdocs") do
      local f = help.resolve(e[1])
      assert.are.equal("function", type(f), e[1])
      assert.are.equal("C", debug.getinfo(f, "S").what, e[1])
      assert.truthy(e[2]:find(e[1]:match("[^.]+$"), 1, true), e[1])
      assert.truthy(#e[3] > 0 and #e[4] > 0, e[1])
    end
    assert.are.equal(help.text(torch.randn), help.text "torch.randn")
    assert.matches("^torch.randn%(size%.%.%., ", help.text(torch.randn))
    -- a method is the same function
    assert.are.equal(help.text(torch.sum), help.text(torch.zeros(1).sum))
  end)

  it("reads a Lua function's doc comment from its source", function()
    assert.matches("^nn.Linear%(in_features, out_features, {bias = true}%)\n  %(stdlib/torch/nn/linear.lua:%d+%)$",
      help.text(nn.Linear))
    assert.matches("^mse: loss = %(x %- y%)%^2\n", help.text(clara.losses.mse))
    -- a module called as a function: its file's opening comment
    assert.matches("^clara.experiment: an experiment is a Lua table", help.text(clara.experiment))
    -- a function of a factory: its file's
    assert.matches("^torch.optim: PyTorch's optimizers", help.text(optim.SGD))
  end)

  it("lists a table's names, explains itself, and names what is missing", function()
    assert.matches("^nn.init holds:\n  calculate_gain  constant_", help.text("nn.init"))
    assert.matches("^help%(value%) shows", help.text())
    assert.matches("^help: no value named 'torch.randm': .*did you mean 'rand', 'randn'%?", help.text "torch.randm")
    assert.are.equal("this function: no documentation (defined in a string chunk)",
      help.text(load("return function() end")()))
    assert.matches("^a tensor: help%(torch.Tensor%) lists its methods", help.text(torch.zeros(2)))
    assert.matches("^torch.Tensor holds:\n  .*  matmul  ", help.text("torch.Tensor"))
  end)

  it("turns ?text into a help call", function()
    assert.are.equal('help("torch.randn")', help.line "torch.randn")
    assert.are.equal('help("x.sum")', help.line " x:sum ")
    assert.are.equal("help()", help.line "")
    assert.are.equal("help((f()))", help.line "f()")
  end)
end)

describe("clara.repl.interrupt", function()
  it("a pending Ctrl-C ends the run at the next step boundary, once", function()
    local seen = {}
    local inner = { step_end = function(_, ctx) seen[#seen + 1] = ctx.step end }
    local rec = interrupt.recorder(inner)
    local done = interrupt.scope()
    local ctx = { step = 1 }
    rec:step_end(ctx)
    assert.is_nil(ctx.interrupted)
    interrupt.pending = true   -- what the runtime's Ctrl-C hook sets
    ctx.step = 2
    rec:step_end(ctx)
    assert.are.equal("INT", ctx.interrupted)
    assert.are.same({ 1, 2 }, seen)
    assert.is_nil(interrupt.take())
    done(); done()
    assert.are.equal(0, interrupt.soft)
  end)

  it("a run is in progress while it runs; a pending Ctrl-C returns its partial result", function()
    torch.manual_seed(0)
    local x = torch.randn(40, 3)
    local during
    local r = clara.experiment {
      data = clara.data.TensorDataset(x, x:sum(2, { keepdim = true })), model = function() return nn.Linear(3, 1) end,
      objective = clara.losses.mse, optimizer = function(m) return optim.SGD(m, { lr = 0.01 }) end,
      batch_size = 4, epochs = 2, out_dir = false, verbose = false,
      hooks = { on_step_end = function(ctx)
        during = interrupt.soft
        if ctx.step == 3 then interrupt.pending = true end
      end },
    }:run()
    assert.are.equal(1, during)
    assert.are.equal(0, interrupt.soft)
    assert.are.equal("INT", r.interrupted)
    assert.are.equal(3, r.steps)
    assert.are.equal(0, #r.history)
    assert.is_not_nil(r.model)
  end)
end)
