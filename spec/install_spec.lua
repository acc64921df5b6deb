-- make install into a temporary DESTDIR, as a packager does, then the
-- installed tree used as a user would: clara started from another
-- directory, experiments trained with `clara run` (one of them an installed
-- example), an installed example run as a script
-- (it finds its model file), the man page; the tree moved elsewhere still
-- works; make uninstall leaves no file behind.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/install_spec.lua
local fs = require "clara.fs"
local sh = require("spec.helpers.shell").sh
local tmpdir, cleanup = dofile("spec/helpers/tmpdir.lua")
teardown(cleanup)

local ROOT = require("lfs").currentdir()
local PREFIX = "/usr/local"

local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- make TARGET with DESTDIR, whatever make called this spec (make test)
local function make(target, destdir)
  return sh(("cd %s && env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make -s %s DESTDIR=%s PREFIX=%s")
            :format(q(ROOT), target, q(destdir), PREFIX))
end

-- every file (and link) under dir, relative to it, sorted
local function files(dir)
  local out = sh(("cd %s && find . -type f -o -type l | sort"):format(q(dir)))
  local list = {}
  for line in out:gmatch("[^\n]+") do list[#list + 1] = line:gsub("^%./", "") end
  return list
end

local function is_file(path) return fs.exists(path) and not fs.isdir(path) end

local EXPERIMENT = [[
local clara, torch = require "clara", require "torch"
torch.manual_seed(1)
local function ds(n) return clara.data.TensorDataset(torch.randn(n, 3), torch.randint(0, 2, { n })) end
return {
  name = "installed", data = { train = ds(32), val = ds(16) },
  model = function() return torch.nn.Linear(3, 2) end,
  objective = clara.losses.cross_entropy, metrics = { acc = clara.metrics.accuracy },
  optimizer = function(m) return torch.optim.SGD(m, { lr = 0.1 }) end,
  epochs = 3, batch_size = 8,
}
]]

describe("make install DESTDIR=... PREFIX=/usr/local", function()
  local dest, prefix, elsewhere
  setup(function()
    dest, elsewhere = tmpdir(), tmpdir()
    prefix = dest .. PREFIX
    local out, rc = make("install", dest)
    assert(rc == 0, "make install failed:\n" .. out)
  end)

  it("puts the program, its library, the stdlib, the man page and the examples in place", function()
    assert.is_true(is_file(prefix .. "/bin/clara"))
    assert.is_not_nil(require("lfs").attributes(prefix .. "/bin/clara", "permissions"):match("^rwx"))
    assert.is_true(is_file(prefix .. "/lib/clara/libclara_torch.so"))
    assert.is_true(is_file(prefix .. "/share/man/man1/clara.1"))
    assert.is_true(is_file(prefix .. "/share/clara/examples/fashion_mlp.lua"))
    assert.is_true(is_file(prefix .. "/share/clara/examples/models/fashion_two_head.pt"))
    -- every file of the stdlib and of the examples, none else
    local want = {}
    for _, top in ipairs { "stdlib", "examples" } do
      for _, f in ipairs(files(ROOT .. "/" .. top)) do want[#want + 1] = top .. "/" .. f end
    end
    table.sort(want)
    assert.same(want, files(prefix .. "/share/clara"))
  end)

  it("runs from another directory with the installed stdlib, not the build tree's", function()
    local out, rc = sh(("cd %s && %s/bin/clara -e %s"):format(q(elsewhere), q(prefix),
      q([[print(torch.ones(2)); print(package.searchpath("clara", package.path))]])))
    assert.equal(0, rc, out)
    assert.matches("tensor([1., 1.])", out, 1, true)
    assert.matches("\n" .. prefix .. "/share/clara/stdlib/clara/init.lua\n", out, 1, true)
  end)

  it("raises errors at the user's line, not inside the installed stdlib", function()
    fs.write_atomic(elsewhere .. "/bad.lua", "local x = 1\nlocal m = nn.Linear(3, 2)\nm(torch.ones(2, 5))\n")
    local out, rc = sh(("cd %s && %s/bin/clara bad.lua"):format(q(elsewhere), q(prefix)))
    assert.equal(1, rc, out)
    assert.matches("clara: bad.lua:3: nn.Linear", out, 1, true)
  end)

  it("trains an experiment with clara run from another directory", function()
    fs.write_atomic(elsewhere .. "/exp.lua", EXPERIMENT)
    local out, rc = sh(("cd %s && %s/bin/clara run exp.lua --set epochs=1 --quiet")
                       :format(q(elsewhere), q(prefix)))
    assert.equal(0, rc, out)
    local runs = files(elsewhere .. "/runs/installed")
    local report
    for _, f in ipairs(runs) do report = report or f:match("^[^/]+/report%.json$") end
    assert.is_not_nil(report, "no report.json in runs/installed: " .. table.concat(runs, " "))
    local history = fs.read(elsewhere .. "/runs/installed/" .. report:gsub("report%.json$", "history.csv"))
    local rows = select(2, history:gsub("\n", ""))
    assert.equal(2, rows, history) -- the header and the one epoch --set asked for
  end)

  it("trains an installed example with clara run (shortened: CLARA_QUICK=1)", function()
    local out, rc = sh(("cd %s && CLARA_QUICK=1 %s/bin/clara run %s/share/clara/examples/fashion_mlp.lua "
                        .. "--set epochs=1 --out example-runs --quiet"):format(q(elsewhere), q(prefix), q(prefix)))
    assert.equal(0, rc, out)
    local reports = {}
    for _, f in ipairs(files(elsewhere .. "/example-runs")) do
      if f:match("^fashion_mlp/[^/]+/report%.json$") then reports[#reports + 1] = f end
    end
    assert.equal(1, #reports, out)
  end)

  it("runs an installed example as a script, which finds its model file next to it", function()
    local out, rc = sh(("cd %s && CLARA_QUICK=1 %s/bin/clara %s/share/clara/examples/torchscript_two_heads.lua")
                       :format(q(elsewhere), q(prefix), q(prefix)))
    assert.equal(0, rc, out)
  end)

  it("installs a man page that man finds and renders", function()
    local out, rc = sh(("MANWIDTH=80 man -M %s/share/man clara | col -b"):format(q(prefix)))
    assert.equal(0, rc, out)
    assert.matches("NAME%s+clara %- Lua 5%.4 with libtorch", out)
    for _, section in ipairs { "SYNOPSIS", "COMMANDS", "EXIT STATUS" } do
      assert.matches("\n" .. section .. "\n", out, 1, true)
    end
  end)

  it("works moved elsewhere (staged, then copied), and says what is missing", function()
    local moved = tmpdir() .. "/opt/clara"
    local _, rc = sh(("mkdir -p %s && cp -a %s/. %s"):format(q(moved), q(prefix), q(moved)))
    assert.equal(0, rc)
    local out
    out, rc = sh(("cd / && %s/bin/clara -e %s"):format(q(moved),
      q([[print(torch.zeros(1)); print(package.searchpath("clara.fs", package.path))]])))
    assert.equal(0, rc, out)
    assert.matches("\n" .. moved .. "/share/clara/stdlib/clara/fs.lua\n", out, 1, true)
    -- the library gone: the error names the file and the fix, no crash
    os.remove(moved .. "/lib/clara/libclara_torch.so")
    out, rc = sh(("cd / && %s/bin/clara -e 'print(torch.zeros(1))'"):format(q(moved)))
    assert.equal(1, rc, out)
    assert.matches(moved .. "/lib/clara/libclara_torch.so is missing", out, 1, true)
    assert.matches("make install", out, 1, true)
  end)

  it("is removed by make uninstall: no file is left", function()
    local out, rc = make("uninstall", dest)
    assert.equal(0, rc, out)
    assert.same({}, files(dest))
  end)
end)

describe("the build tree's ./clara", function()
  it("keeps using the build tree's stdlib, from any directory", function()
    local out, rc = sh(("cd / && %s/clara -e %s"):format(q(ROOT),
      q([[print(package.searchpath("clara", package.path))]])))
    assert.equal(0, rc, out)
    assert.equal(ROOT .. "/stdlib/clara/init.lua\n", out)
  end)
end)
