-- A signal in the first instants of `clara run` / `clara battery`, before
-- the command's Lua code has run a line, is answered like one in training:
-- the program installs its flag handlers before the Lua state exists.
-- CLARA_INIT runs before the command script, so a process that signals
-- itself there hits exactly that window.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/fault_signal_early_spec.lua
local F = require "spec.helpers.fault"
teardown(F.cleanup)

-- kill(2) to itself (not os.execute: system() ignores SIGINT while it
-- waits), then wait for the flag: the signal has come before the command
local function self_signal(name)
  return ("local s, p = require('clara.signal'), require('clara.process.core'); p.kill(s.getpid(), '%s'); "
    .. "for _ = 1, 3000 do if s.pending() then break end; p.sleep(0.01) end")
    :format(name)
end

describe("a signal before the command's first line", function()
  for _, name in ipairs { "TERM", "USR1", "INT" } do
    it("SIG" .. name .. " to clara run: exit 75, and the same command then trains", function()
      local dir = F.tmpdir()
      local exp = F.experiment(dir)
      local out, rc = F.clara("run " .. exp, { CLARA_INIT = self_signal(name) })
      assert.are.equal(75, rc, out)
      assert.matches("clara run: " .. name .. ": stopped before the run began", out, 1, true)
      out, rc = F.clara("run " .. exp)
      assert.are.equal(0, rc, out)
    end)
  end

  it("SIGTERM to clara battery: exit 75", function()
    local dir = F.tmpdir()
    local out, rc = F.clara("battery " .. F.battery(dir), { CLARA_INIT = self_signal("TERM") })
    assert.are.equal(75, rc, out)
  end)

  it("a script (not a command) keeps the default action: 143", function()
    local dir = F.tmpdir()
    local path = dir .. "/plain.lua"
    local f = assert(io.open(path, "w"))
    f:write("print('never')\n")
    f:close()
    local out, rc = F.clara(path, { CLARA_INIT = self_signal("TERM") })
    assert.are.equal(143, rc, out)
  end)
end)
