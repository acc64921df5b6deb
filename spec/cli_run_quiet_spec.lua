-- `clara run exp.lua --quiet` (and -q) prints nothing but errors, whatever
-- the script says about verbose and whatever a --set says.  A generated
-- set of experiment scripts (verbose true / absent / false; train only,
-- with validation, with a test set; named or not) run with --quiet or -q,
-- before or after the script; stdout and stderr must both be empty.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/cli_run_quiet_spec.lua
local fs = require "clara.fs"

local CLARA = fs.join(require("lfs").currentdir(), "clara")
local tmpdir, cleanup = dofile("spec/helpers/tmpdir.lua")
teardown(cleanup)

-- stdout and stderr apart, and the exit code
local function run(cmd, dir)
  local out, err = fs.join(dir, "stdout"), fs.join(dir, "stderr")
  local ok, _, rc = os.execute(("%s >%s 2>%s"):format(cmd, out, err))
  return fs.read(out) or "", fs.read(err) or "", ok and 0 or rc
end

local SCRIPT = [[
local clara, torch = require "clara", require "torch"
torch.manual_seed(1)
local function ds(n) return clara.data.TensorDataset(torch.randn(n, 3), torch.randint(0, 2, { n })) end
local data = %s
return {
  %s data = data, model = function() return torch.nn.Linear(3, 2) end,
  objective = clara.losses.cross_entropy, metrics = { acc = clara.metrics.accuracy },
  optimizer = function(m) return torch.optim.SGD(m, { lr = 0.1 }) end,
  epochs = 2, batch_size = 4, %s
}
]]

local DATA = { "ds(16)", "{ train = ds(16), val = ds(8) }", "{ train = ds(16), val = ds(8), test = ds(8) }" }
local VERBOSE = { "verbose = true,", "", "verbose = false," }

describe("clara run --quiet", function()
  local n = 0
  for d, data in ipairs(DATA) do
    for v, verbose in ipairs(VERBOSE) do
      do -- one run per (data, verbose): the flag, its place and the name alternate
        n = n + 1
        local flag = (n % 2 == 0) and "--quiet" or "-q"
        local named = (d % 2 == 0) and 'name = "quiet",' or ""
        local before = (v % 2 == 0)
        it(("prints nothing: data %d, %s, %s %s the script%s"):format(d, verbose == "" and "no verbose" or verbose,
            flag, before and "before" or "after", named ~= "" and ", named" or ""), function()
          local dir = tmpdir()
          local script = fs.join(dir, "exp.lua")
          fs.write_atomic(script, SCRIPT:format(data, named, verbose))
          local args = ("--out %s --set verbose=true"):format(fs.join(dir, "runs"))
          local cmd = before and ("%s run %s %s %s"):format(CLARA, flag, script, args)
                              or ("%s run %s %s %s"):format(CLARA, script, args, flag)
          local out, err, rc = run(cmd, dir)
          assert.are.equal(0, rc, err)
          assert.are.equal("", out)
          assert.are.equal("", err)
          -- the run happened: its files are there
          local parent = fs.join(dir, "runs", named ~= "" and "quiet" or "experiment")
          local runs = {}
          for e in require("lfs").dir(parent) do if e:sub(1, 1) ~= "." then runs[#runs + 1] = e end end
          assert.are.equal(1, #runs)
          assert.are.equal(2, #clara.run.read(fs.join(parent, runs[1])).history)
        end)
      end
    end
  end

  it("without --quiet the same script does print", function()
    local dir = tmpdir()
    local script = fs.join(dir, "exp.lua")
    fs.write_atomic(script, SCRIPT:format(DATA[3], "", VERBOSE[2]))
    local out, err, rc = run(("%s run %s --out %s"):format(CLARA, script, fs.join(dir, "runs")), dir)
    assert.are.equal(0, rc, err)
    assert.matches("epoch 2/2", out)
    assert.matches("run: ", out)
  end)

  it("--quiet still reports an error, on stderr, exit code 1", function()
    local dir = tmpdir()
    local script = fs.join(dir, "exp.lua")
    fs.write_atomic(script, SCRIPT:format(DATA[1], "", "monitor = 'val_acc',"))
    local out, err, rc = run(("%s run %s --out %s -q"):format(CLARA, script, fs.join(dir, "runs")), dir)
    assert.are.equal(1, rc)
    assert.are.equal("", out)
    assert.matches("clara run: clara.experiment: monitor val_acc is not a column this run produces", err, 1, true)
  end)
end)
