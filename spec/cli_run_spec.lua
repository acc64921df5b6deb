-- `clara run exp.lua [--set k=v] [--resume] [--out DIR] [--quiet]`, through
-- io.popen of ./clara; and a run killed with SIGTERM (exit 75, a
-- checkpoint) that a second process resumes to the uninterrupted weights
local fs = require "clara.fs"

local CLARA = fs.join(require("lfs").currentdir(), "clara")
local EXP = "spec/helpers/resume_experiment.lua"

local tmpdir, cleanup = dofile("spec/helpers/tmpdir.lua")
teardown(cleanup)

-- output and exit code of a shell command
local sh = require("spec.helpers.shell").sh

local function only_run(out)
  local parent = fs.join(out, "resume_mlp")
  local runs = {}
  for e in require("lfs").dir(parent) do if e:sub(1, 1) ~= "." then runs[#runs + 1] = fs.join(parent, e) end end
  table.sort(runs)
  return runs
end

local function same_weights(a, b)
  local sa, sb = torch.load(a), torch.load(b)
  local n = 0
  for k, t in pairs(sa) do
    n = n + 1
    if not torch.equal(t, sb[k]) then return false, k end
  end
  return n > 0
end

describe("clara run", function()
  it("runs an experiment script with --set, --out and --quiet", function()
    local out = tmpdir()
    local text, rc = sh(("%s run %s --out %s --set epochs=1 --set batch_size=16 --quiet"):format(CLARA, EXP, out))
    assert.are.equal(0, rc, text)
    assert.are.equal("", text)
    local runs = only_run(out)
    assert.are.equal(1, #runs)
    local info = clara.run.read(runs[1])
    assert.are.equal(1, #info.history)
    assert.are.equal(16, info.config.batch_size)
    assert.are.equal(1, info.config.epochs)
    -- without --quiet it tells where the run is
    text, rc = sh(("%s run %s --out=%s --set=epochs=1"):format(CLARA, EXP, out))
    assert.are.equal(0, rc, text)
    assert.matches("run: " .. out, text, 1, true)
  end)

  it("--set reaches the hyperparameters the factories read", function()
    local out = tmpdir()
    local text, rc = sh(("%s run %s --out %s --set epochs=1 --set lr=0.05 --set hidden=5 --quiet")
      :format(CLARA, EXP, out))
    assert.are.equal(0, rc, text)
    local info = clara.run.read(only_run(out)[1])
    assert.are.same({ lr = 0.05, hidden = 5 }, info.config.hparams)
    assert.are.equal(0.05, info.history[1].lr)                 -- the optimizer got it
    assert.are.same({ 5, 4 }, info.state_dict["0.weight"]:size())  -- the model too
    assert.are.equal("run", info.config.kind)
  end)

  it("explains bad command lines in one line, exit code 1 or 2", function()
    local text, rc = sh(CLARA .. " run")
    assert.are.equal(2, rc); assert.matches("clara run: no experiment script given", text, 1, true)
    text, rc = sh(CLARA .. " run " .. EXP .. " --bogus")
    assert.are.equal(2, rc); assert.matches("unknown option '--bogus'", text, 1, true)
    text, rc = sh(CLARA .. " run " .. EXP .. " --set epochs")
    assert.are.equal(2, rc); assert.matches("--set expects key=value", text, 1, true)
    text, rc = sh(CLARA .. " run " .. EXP .. " --out /tmp --set nonsense=1")
    assert.are.equal(1, rc)
    assert.matches("clara run: clara.experiment: unknown setting 'nonsense': not a hyperparameter "
      .. "(hparams has: hidden, lr) nor an experiment field", text, 1, true)
    assert.is_nil(text:find("traceback"))
    text, rc = sh(CLARA .. " run /nonexistent.lua")
    assert.are.equal(2, rc); assert.matches("cannot open /nonexistent.lua", text, 1, true)
  end)

  it("runs a file named 'run' in the current directory as a script", function()
    local d = tmpdir()
    local f = io.open(fs.join(d, "run"), "w"); f:write('print("the script named run", ...)'); f:close()
    local text, rc = sh(("cd %s && %s run x"):format(d, CLARA))
    assert.are.equal(0, rc, text)
    assert.matches("the script named run\tx", text, 1, true)
  end)

  it("a SIGTERM'd run exits 75 with a checkpoint; --resume ends with the uninterrupted weights", function()
    local out, ref = tmpdir(), tmpdir()
    -- 1. the uninterrupted run
    local text, rc = sh(("%s run %s --out %s --quiet"):format(CLARA, EXP, ref))
    assert.are.equal(0, rc, text)
    -- 2. a run that waits at step 5 for its signal, after telling its pid
    local marker = fs.join(out, "pid")
    local script = fs.join(out, "slow.lua")
    local f = io.open(script, "w")
    f:write(([[
local signal = require "clara.signal"
local exp = dofile(%q)
exp.hooks = { on_step_end = function(ctx)
  if ctx.step ~= 5 then return end
  local m = io.open(%q, "w"); m:write(signal.getpid()); m:close()
  local t = os.time()
  while not signal.pending() and os.time() - t < 20 do end
end }
return exp
]]):format(fs.join(require("lfs").currentdir(), EXP), marker))
    f:close()
    local rcfile = fs.join(out, "rc")
    os.execute(("(%s run %s --out %s --quiet 2>%s/err; echo $? > %s) &"):format(CLARA, script, out, out, rcfile))
    local pid
    for _ = 1, 200 do
      local m = io.open(marker); pid = m and m:read("a"); if m then m:close() end
      if pid and pid ~= "" then break end
      os.execute("sleep 0.1")
    end
    assert.truthy(pid and pid ~= "", "the child never reached step 5")
    os.execute("kill -TERM " .. pid)
    local code
    for _ = 1, 200 do
      local r = io.open(rcfile); code = r and tonumber(r:read("a")); if r then r:close() end
      if code then break end
      os.execute("sleep 0.1")
    end
    assert.are.equal(75, code)
    local runs = only_run(out)
    assert.are.equal(1, #runs)
    local state = torch.load(fs.join(runs[1], "checkpoint.pt"))
    assert.are.equal(5, state.step)
    assert.is_false(fs.exists(fs.join(runs[1], "model.pt")))
    -- 3. the resume, in a second process, without the waiting hook
    text, rc = sh(("%s run %s --out %s --resume --quiet"):format(CLARA, EXP, out))
    assert.are.equal(0, rc, text)
    assert.are.equal(1, #only_run(out))
    assert.is_true(same_weights(fs.join(runs[1], "model.pt"), fs.join(only_run(ref)[1], "model.pt")))
    assert.is_true(same_weights(fs.join(runs[1], "best.pt"), fs.join(only_run(ref)[1], "best.pt")))
    assert.are.equal(3, #clara.run.read(runs[1]).history)
  end)
end)
