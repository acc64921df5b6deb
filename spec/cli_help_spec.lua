-- The command line as a user meets it, through io.popen of ./clara: the
-- help of every command (generated from clara.cli.commands, the
-- declaration the parser reads), suggestions for unknown commands and
-- options, and the examples as experiments (`clara run`, `clara analyze`,
-- a battery over one).
local fs = require "clara.fs"
local commands = require "clara.cli.commands"

local CLARA = fs.join(require("lfs").currentdir(), "clara")
local sh = require("spec.helpers.shell").sh
local tmpdir, cleanup = dofile("spec/helpers/tmpdir.lua")
teardown(cleanup)

local function plain(s) return (s:gsub("%p", "%%%0")) end

describe("clara --help and clara help", function()
  it("lists every command with its one line, and the lua-compatible options", function()
    local text, rc = sh(CLARA .. " --help")
    assert.are.equal(0, rc, text)
    for _, opt in ipairs { "-e stat", "-i ", "-l mod", "-v ", "-E ", "-W ", "--version" } do
      assert.matches(opt, text, 1, true)
    end
    assert.is_true(#commands.list >= 9)
    for _, c in ipairs(commands.list) do
      assert.matches("\n  " .. plain(c.name) .. " +" .. plain(c.line) .. "\n", text)
    end
  end)

  it("clara help --commands prints name<TAB>line, one command a line", function()
    local text, rc = sh(CLARA .. " help --commands")
    assert.are.equal(0, rc, text)
    local want = {}
    for _, c in ipairs(commands.list) do want[#want + 1] = c.name .. "\t" .. c.line end
    assert.are.equal(table.concat(want, "\n") .. "\n", text)
  end)

  it("explains every declared option of every command, each with an example", function()
    for _, c in ipairs(commands.list) do
      local text, rc = sh(CLARA .. " help " .. c.name)
      assert.are.equal(0, rc, c.name .. ": " .. text)
      assert.matches("^usage: clara " .. plain(c.name), text)
      assert.is_true(#c.options > 0, c.name)
      for _, opt in ipairs(c.options) do
        assert.is_string(opt.example, c.name .. " --" .. opt[1])
        assert.matches("%-%-" .. plain(opt[1]), opt.example, 1, false, c.name .. ": the example does not use its option")
        assert.matches("\n  [^\n]*%-%-" .. plain(opt[1]) .. "[ =\n%[]", text, 1, false, c.name .. " --" .. opt[1])
        assert.matches("example: " .. opt.example, text, 1, true)
        assert.matches(opt[4]:match("^%S+ %S+"), text, 1, true)
      end
      -- `clara COMMAND --help` is the same text (run adds the experiment options after it)
      local own = sh(CLARA .. " " .. c.name .. " --help")
      assert.are.equal(text, own:sub(1, #text), c.name)
    end
  end)

  it("`clara run --help` adds every experiment option after its own", function()
    local text = sh(CLARA .. " run --help")
    assert.matches("example: clara run examples/fashion_mlp.lua --set epochs=1", text, 1, true)
    assert.matches("experiment options", text, 1, true)
    assert.matches("\n  [= ]epochs +integer", text)
  end)
end)

describe("suggestions", function()
  it("an unknown command names the closest one (exit 2)", function()
    local text, rc = sh(CLARA .. " reprot runs/x")
    assert.are.equal(2, rc, text)
    assert.matches("clara: unknown command 'reprot'; did you mean 'report'?", text, 1, true)
    text, rc = sh(CLARA .. " lrfind exp.lua")
    assert.are.equal(2, rc)
    assert.matches("did you mean 'lr-find'?", text, 1, true)
    text, rc = sh(CLARA .. " zzzzzzzz")
    assert.are.equal(2, rc)
    assert.matches("unknown command 'zzzzzzzz' (no file has that name either", text, 1, true)
    text, rc = sh(CLARA .. " help anlyze")
    assert.are.equal(2, rc)
    assert.matches("clara help: unknown command 'anlyze'; did you mean 'analyze'?", text, 1, true)
  end)

  it("a file of a command's name runs as a script, as lua would run it", function()
    local d = tmpdir()
    fs.write_atomic(fs.join(d, "report"), "print('the file ran', ...)\n")
    local text, rc = sh(("cd %s && %s report a b"):format(d, CLARA))
    assert.are.equal(0, rc, text)
    assert.are.equal("the file ran\ta\tb\n", text)
    -- the stdlib's other files are no commands
    text, rc = sh(CLARA .. " args")
    assert.are.equal(2, rc)
    assert.matches("unknown command 'args'", text, 1, true)
  end)

  it("an unknown option names the closest option of that command (exit 2)", function()
    local cases = {
      { "compare a b --metirc acc", "clara compare: unknown option '--metirc'; did you mean '--metric'?" },
      { "battery b.lua --lst", "clara battery: unknown option '--lst'; did you mean '--list'?" },
      { "run exp.lua --reseum", "clara run: unknown option '--reseum'; did you mean '--resume'?" },
      { "analyze m.pt --input=1,2 --bach 3", "clara analyze: unknown option '--bach'; did you mean '--batch'?" },
      { "script bash b.lua --job 2", "unknown option '--job' for clara script bash; did you mean '--jobs'?" },
      { "launch --npoc 2 x.lua", "clara launch: unknown option '--npoc'; did you mean '--nproc'?" },
    }
    for _, case in ipairs(cases) do
      local text, rc = sh(CLARA .. " " .. case[1])
      assert.are.equal(2, rc, case[1] .. ": " .. text)
      assert.matches(case[2], text, 1, true)
      assert.matches("(clara help " .. case[1]:match("^%S+") .. ": every option, with an example)", text, 1, true)
    end
  end)
end)

describe("the examples as experiments", function()
  local QUICK = "CLARA_QUICK=1 "

  it("every Fashion-MNIST experiment example returns its experiment: clara analyze traces its own data", function()
    local want = {
      fashion_mlp = "Input: [1, 784]", fashion_cnn = "Input: [1, 1, 28, 28]", two_outputs = "Input: [1, 28, 28]",
      cv_csv = "Input: [1, 16]", torchscript_two_heads = "Input: [1, 28, 28]",
    }
    for name, input in pairs(want) do
      local text, rc = sh(QUICK .. CLARA .. " analyze examples/" .. name .. ".lua")
      assert.are.equal(0, rc, name .. ": " .. text)
      assert.matches("fresh from its model factory", text, 1, true)
      assert.matches(input, text, 1, true)
      if name ~= "torchscript_two_heads" then assert.matches("MACs: %d", text) end   -- one call for TorchScript
    end
  end)

  it("clara.experiment.load: the script sees loading() true, errors name the file", function()
    local d = tmpdir()
    local p = fs.join(d, "e.lua")
    fs.write_atomic(p, "_G.cli_spec_seen = clara.experiment.loading(); return 3\n")
    assert.is_false(clara.experiment.loading())
    local ok, err = pcall(clara.experiment.load, p)
    assert.is_false(ok)
    assert.matches("clara.experiment.load: '" .. plain(p) .. "' must return an experiment", err)
    assert.is_true(_G.cli_spec_seen)
    assert.is_false(clara.experiment.loading())
    -- an error inside the script leaves loading() false too
    fs.write_atomic(p, "error('boom', 0)\n")
    ok, err = pcall(clara.experiment.load, p)
    assert.are.equal("boom", err)
    assert.is_false(clara.experiment.loading())
    ok, err = pcall(clara.experiment.load, fs.join(d, "none.lua"))
    assert.matches("clara.experiment.load: cannot open " .. plain(fs.join(d, "none.lua")), err)
    -- loaded, an example returns its experiment without training it
    local exp = clara.experiment.load("examples/torchscript_two_heads.lua")
    assert.are.equal(clara.experiment.Experiment, getmetatable(exp))
    assert.are.equal("torchscript_two_heads", exp.name)
  end)

  it("clara run examples/fashion_mlp.lua --set epochs=1 trains it once, without the script's own checks", function()
    local out = tmpdir()
    local text, rc = sh(("%s%s run examples/fashion_mlp.lua --set epochs=1 --out %s -q"):format(QUICK, CLARA, out))
    assert.are.equal(0, rc, text)
    assert.are.equal("", text)   -- quiet, and the file's own prints (run directly) did not run
    local runs = {}
    for e in require("lfs").dir(fs.join(out, "fashion_mlp")) do if e:sub(1, 1) ~= "." then runs[#runs + 1] = e end end
    assert.are.equal(1, #runs)
    local report = require("clara.run.json").decode(fs.read(fs.join(out, "fashion_mlp", runs[1], "report.json")))
    assert.are.equal(1, report.epochs)
    assert.is_number(report.metrics.test.acc)
  end)

  it("a battery over an example: its base is the example's path", function()
    local d = tmpdir()
    local b = fs.join(d, "b.lua")
    fs.write_atomic(b, ([[
return clara.battery{ base = "examples/fashion_mlp.lua", out_dir = %q,
                      list = { { lr = 1e-3, epochs = 1 }, { lr = 3e-3, epochs = 1 } } }
]]):format(fs.join(d, "runs")))
    local text, rc = sh(("%s%s battery %s --list"):format(QUICK, CLARA, b))
    assert.are.equal(0, rc, text)
    assert.are.equal("epochs=1,lr=0.001\nepochs=1,lr=0.003\n", text)
    text, rc = sh(("%s%s battery %s --only lr=0.003,epochs=1 -q"):format(QUICK, CLARA, b))
    assert.are.equal(0, rc, text)
    assert.is_true(fs.exists(fs.join(d, "runs", "fashion_mlp", "epochs=1,lr=0.003", "report.json")))
    assert.is_false(fs.exists(fs.join(d, "runs", "fashion_mlp", "epochs=1,lr=0.001", "report.json")))
  end)
end)
