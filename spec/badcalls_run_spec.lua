-- Bad calls into clara.run, clara.fs, clara.signal and the RNG state: each
-- raises a Lua error naming the function and what was wrong.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/badcalls_run_spec.lua
-- CLARA_SHOW_ERRORS=1 prints every message, for review.
local torch = require "torch"
local badcalls = require "spec.helpers.badcalls"
local run = require "clara.run"
local fs = require "clara.fs"
local signal = require "clara.signal"

local BASE = os.tmpname()
os.remove(BASE)
teardown(function() os.execute("rm -rf '" .. BASE .. "'") end)
local r = run.open(BASE, "bad")

-- { description, name the message must contain, what it must also contain, the bad call }
local cases = {
  { "open without a base", "clara.run.open", "base directory (a string) expected", function() run.open(nil, "x") end },
  { "open without a name", "clara.run.open", "experiment name (a non-empty string) expected", function() run.open(BASE) end },
  { "open with a path as name", "clara.run.open", "'a/b' must be a plain name", function() run.open(BASE, "a/b") end },
  { "open with a bad id", "clara.run.open", "run id '..' must be a plain name", function() run.open(BASE, "x", { id = ".." }) end },
  { "open with options not a table", "clara.run.open", "options table expected", function() run.open(BASE, "x", 3) end },
  { "write_config of a string", "clara.run.write_config", "table expected, got string", function() r:write_config("x") end },
  { "write_model_txt of nil", "clara.run.write_model_txt", "expected, got nil", function() r:write_model_txt() end },
  { "write_model_txt without model", "clara.run.write_model_txt", "no model given", function() r:write_model_txt {} end },
  { "append_history of a number", "clara.run.append_history", "row (a table) expected", function() r:append_history(3) end },
  { "history row with number keys", "clara.run", "history rows need string keys", function() r:append_history { 1, 2 } end },
  { "write_report of nil", "clara.run.write_report", "result (a table) expected", function() r:write_report() end },
  { "save_model of a tensor", "clara.run.save_model", "a module (with state_dict) expected", function() r:save_model(torch.ones(2)) end },
  { "save_model to a path", "clara.run.save_model", "must be a plain name", function() r:save_model(torch.nn.Linear(1, 1), "../x.pt") end },
  { "save_checkpoint of nil", "clara.run.save_checkpoint", "state (a table) expected", function() r:save_checkpoint() end },
  { "checkpoint with mixed keys", "clara.run.save_checkpoint", "both string and number keys", function() r:save_checkpoint { a = { 1, b = 2 } } end },
  { "read of a number", "clara.run.read", "run directory (a string) expected", function() run.read(3) end },
  { "read of a missing dir", "clara.run.read", "is not a directory", function() run.read(BASE .. "/nope") end },
  { "read of a corrupt config", "clara.run.read", "config.json", function()
      local f = io.open(r:path("config.json"), "w"); f:write("{oops"); f:close()
      run.read(r.dir)
    end },
  { "set_rng_state of a number", "clara.run.set_rng_state", "a table from rng_state() expected", function() run.set_rng_state(1) end },
  { "torch.set_rng_state of a number", "set_rng_state", "tensor expected", function() torch.set_rng_state(1) end },
  { "torch.set_rng_state of floats", "set_rng_state", "ByteTensor", function() torch.set_rng_state(torch.zeros(3)) end },
  { "torch.set_rng_state of short bytes", "set_rng_state", "state", function() torch.set_rng_state(torch.zeros(3, { dtype = "uint8" })) end },
  { "write_atomic without path", "clara.fs.write_atomic", "path (a string) expected", function() fs.write_atomic(nil, "s") end },
  { "write_atomic without contents", "clara.fs.write_atomic", "contents (a string) expected", function() fs.write_atomic(BASE .. "/x", nil) end },
  { "write_atomic in a missing dir", "clara.fs.write_atomic", "cannot write", function() fs.write_atomic(BASE .. "/no/such/x", "s") end },
  { "mkdir_p under a file", "clara.fs.mkdir_p", "exists and is not a directory", function() fs.mkdir_p(r:path("config.json") .. "/sub") end },
  { "signal install of a number", "clara.signal.install", "list of signal names expected", function() signal.install(42) end },
  { "signal install of KILL", "clara.signal.install", "unknown signal 'KILL'", function() signal.install { "TERM", "KILL" } end },
  { "signal install of an empty list", "clara.signal.install", "list of signal names expected", function() signal.install {} end },
  { "signal install of a number name", "clara.signal.install", "signal names must be strings, got number", function() signal.install { 15 } end },
  { "signal raise of a bad name", "clara.signal.raise", "unknown signal 'NOPE'", function() signal.raise("NOPE") end },
}

describe("bad calls into clara.run, clara.fs, clara.signal", function()
  badcalls(cases, { position = "badcalls_run_spec.lua:%d+:" })
  it("a failed install changed nothing", function()
    assert.same({}, signal.installed())
  end)
end)
