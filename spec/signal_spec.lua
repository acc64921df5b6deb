-- clara.signal: handlers that only set a flag (a child clara process gets
-- real signals from outside), restore(), the requeue exit code, fsync.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/signal_spec.lua
local signal = require "clara.signal"

local TMP = os.tmpname()
os.remove(TMP)
os.execute("mkdir -p " .. TMP)
teardown(function() os.execute("rm -rf '" .. TMP .. "'") end)

local function slurp(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function sleep(s) os.execute("sleep " .. s) end

-- start(name, body): run body as a clara script in the background; the
-- prelude waits for `ready()` to be called and loops until a signal
-- comes or 5 s pass.  Returns a handle with pid (of clara), rc(), out().
local n = 0
local function start(body)
  n = n + 1
  local base = TMP .. "/child" .. n
  local script = [[
local signal = require "clara.signal"
local READY = ]] .. string.format("%q", base .. ".pid") .. [[

local function ready()
  local f = assert(io.open(READY .. ".tmp", "w"))
  f:write(signal.getpid()); f:close()
  os.rename(READY .. ".tmp", READY)
end
local function wait_signal()
  local deadline = os.time() + 5
  while os.time() < deadline do
    local s = signal.pending()
    if s then return s end
    for _ = 1, 1e5 do end
  end
  return "timeout"
end
]] .. body
  local f = assert(io.open(base .. ".lua", "w"))
  f:write(script)
  f:close()
  os.execute(string.format("(./clara %s > %s.out 2>&1; echo $? > %s.rc) &",
                           base .. ".lua", base, base))
  local h = { base = base }
  function h.pid()
    for _ = 1, 200 do
      local p = slurp(base .. ".pid")
      if p then return tonumber(p) end
      sleep(0.02)
    end
    error("child never became ready: " .. tostring(slurp(base .. ".out")))
  end
  function h.rc()
    for _ = 1, 400 do
      local rc = slurp(base .. ".rc")
      if rc and rc:match("%d") then return tonumber(rc:match("%d+")) end
      sleep(0.02)
    end
    error("child did not finish: " .. tostring(slurp(base .. ".out")))
  end
  function h.out() h.rc(); return slurp(base .. ".out") end
  return h
end

describe("clara.signal in a child process", function()
  it("SIGTERM from outside only sets the flag: the process goes on and exits normally", function()
    local c = start [[
signal.install()
ready()
local s = wait_signal()
print("got " .. s .. ", still running")
os.exit(0)
]]
    os.execute("kill -TERM " .. c.pid())
    assert.equal(0, c.rc())
    assert.equal("got TERM, still running\n", c.out())
  end)

  it("SIGUSR1 sent by a shell child to its parent (kill -USR1 $PPID)", function()
    local c = start [[
signal.install({"USR1"})
os.execute("kill -USR1 $PPID")
print(wait_signal())
]]
    assert.equal(0, c.rc())
    assert.equal("USR1\n", c.out())
  end)

  it("SIGINT sets the flag instead of interrupting the chunk", function()
    local c = start [[
signal.install()
ready()
print(wait_signal())
]]
    os.execute("kill -INT " .. c.pid())
    assert.equal(0, c.rc())
    assert.equal("INT\n", c.out())
  end)

  it("the first signal is the one pending; clear() forgets it", function()
    local c = start [[
signal.install()
signal.raise("USR1"); signal.raise("TERM")
io.write(signal.pending(), " ")
signal.clear()
print(signal.pending())
]]
    assert.equal(0, c.rc())
    assert.equal("USR1 nil\n", c.out())
  end)

  it("after restore(), SIGTERM kills as before (exit status 128 + 15)", function()
    local c = start [[
signal.install()
signal.restore()
ready()
print(wait_signal())
]]
    os.execute("kill -TERM " .. c.pid())
    assert.equal(143, c.rc())
    assert.falsy(c.out():find("TERM\n", 1, true))   -- never printed: killed
    assert.falsy(c.out():find("timeout", 1, true))
  end)

  it("after restore(), the runtime's own Ctrl-C handler is back (interrupted!)", function()
    local c = start [[
signal.install({"INT"})
signal.restore()
ready()
print(wait_signal())
]]
    os.execute("kill -INT " .. c.pid())
    assert.equal(1, c.rc())
    assert.truthy(c.out():find("interrupted!", 1, true), c.out())
  end)

  it("exit_requeue() ends the process with 75 (EX_TEMPFAIL)", function()
    local c = start [[
signal.install()
signal.raise("TERM")
if signal.pending() then io.write("checkpointed") signal.exit_requeue() end
]]
    assert.equal(75, c.rc())
    assert.equal(75, signal.REQUEUE)
    assert.equal("checkpointed", c.out())
  end)
end)

describe("clara.signal in this process", function()
  after_each(function() signal.restore(); signal.clear() end)

  it("install, pending, clear, installed, restore", function()
    assert.is_nil(signal.pending())
    signal.install({ "USR2" })
    assert.same({ "USR2" }, signal.installed())
    signal.raise("USR2")
    assert.equal("USR2", signal.pending())
    signal.clear()
    assert.is_nil(signal.pending())
    signal.restore()
    assert.same({}, signal.installed())
  end)

  it("installing twice keeps the first saved handler", function()
    signal.install({ "USR2" })
    signal.install({ "USR2", "HUP" })
    signal.restore()
    assert.same({}, signal.installed())
  end)

  it("rejects unknown names before changing anything", function()
    local ok, err = pcall(signal.install, { "TERM", "KILL" })
    assert.is_false(ok)
    assert.truthy(err:find("unknown signal 'KILL'", 1, true), err)
    assert.same({}, signal.installed())
    ok, err = pcall(signal.install, 42)
    assert.is_false(ok)
    assert.truthy(err:find("clara.signal.install", 1, true), err)
  end)

  it("fsync_path and fsync_dir: true, or nil and a message naming the path", function()
    local p = TMP .. "/f.txt"
    local f = io.open(p, "w"); f:write("x"); f:close()
    assert.is_true(signal.fsync_path(p))
    assert.is_true(signal.fsync_dir(TMP))
    local ok, msg = signal.fsync_path(TMP .. "/missing")
    assert.is_nil(ok)
    assert.truthy(msg:find("missing", 1, true))
    ok, msg = signal.fsync_dir(p)
    assert.is_nil(ok)
    assert.truthy(msg:find("f.txt", 1, true))
  end)
end)
