-- Atomic run files: a child process writes checkpoints (torch.save) and a
-- JSON file (clara.fs.write_atomic) in a loop and is killed with SIGKILL at
-- random moments, again and again; after each kill the last checkpoint
-- loads whole, and the temporaries the killed writer left are never taken
-- for it.  Each restart resumes from the checkpoint.
-- Run from the repository root: ./clara /usr/bin/busted -o plainTerminal spec/atomic_spec.lua
local torch = require "torch"
local run = require "clara.run"
local fs = require "clara.fs"
local json = require "clara.run.json"

local BASE = os.tmpname()
os.remove(BASE)
teardown(function() os.execute("rm -rf '" .. BASE .. "'") end)
local N = 300000   -- floats per checkpoint: ~1.2 MB, so kills land mid-write

local CHILD = [[
local torch = require "torch"
local run = require "clara.run"
local fs = require "clara.fs"
local json = require "clara.run.json"
local r = run.open(BASE, "atomic", { id = "k" })
local st = r:load_checkpoint()
local step = st and st.step + 1 or 1
-- progress.json trails the checkpoint by at most one step, also across
-- restarts (a kill between the two writes leaves it one behind)
if st then fs.write_atomic(r:path("progress.json"), json.encode { step = st.step, pad = string.rep("x", 100000) }) end
-- "started" once this process's first checkpoint is whole: a kill before
-- it would find no checkpoint at all on a busy machine
local first = step
while true do
  r:save_checkpoint { step = step, w = torch.full({ N }, step), note = "step " .. step }
  fs.write_atomic(r:path("progress.json"), json.encode { step = step, pad = string.rep("x", 100000) })
  if step == first then fs.write_atomic(r:path("started"), tostring(step)) end
  step = step + 1
end
]]

local function sleep(s) os.execute(string.format("sleep %.3f", s)) end

-- running: a process that exists and is not a zombie (the reaper of an
-- orphan may take its time; a zombie writes nothing)
local function alive(pid)
  local f = io.open("/proc/" .. pid .. "/stat")
  if not f then return false end
  local stat = f:read("a")
  f:close()
  return stat:match("^%d+ %b() (%a)") ~= "Z"
end

describe("atomic writes under kill -9", function()
  it("the last checkpoint always loads whole, temporaries are never read", function()
    local dir = BASE .. "/atomic/k"
    fs.mkdir_p(BASE)
    local script = BASE .. "/child.lua"
    fs.write_atomic(script, (CHILD:gsub("BASE", string.format("%q", BASE)):gsub("N }", N .. " }")))
    math.randomseed(7)
    local last, temps_seen, kills = 0, 0, 0
    for round = 1, 8 do
      os.remove(dir .. "/started")
      local p = io.popen("./clara " .. script .. " > " .. BASE .. "/child.out 2>&1 & echo $!")
      local pid = assert(tonumber(p:read("l")))
      p:close()
      -- 1. the child has written its first checkpoint (or died: then say why)
      for _ = 1, 250 do
        if fs.exists(dir .. "/started") or not alive(pid) then break end
        sleep(0.02)
      end
      assert.is_true(alive(pid), "child died: " .. tostring(fs.read(BASE .. "/child.out")))
      -- 2. a random moment in its write loop, then SIGKILL
      sleep(0.02 + math.random() * 0.3)
      os.execute("kill -KILL " .. pid)
      kills = kills + 1
      for _ = 1, 250 do
        if not alive(pid) then break end
        sleep(0.01)
      end
      assert.is_false(alive(pid))
      -- 3. what a restart would find
      temps_seen = temps_seen + #fs.stale_temps(dir)
      local direct = torch.load(dir .. "/checkpoint.pt")
      -- (the next child must find the run free: close it, as exp:run does)
      local reopened = run.open(BASE, "atomic", { id = "k" })
      local st = reopened:load_checkpoint()
      reopened:close()
      assert.same({}, fs.stale_temps(dir))
      assert.equal(direct.step, st.step)
      assert.equal(N, st.w:numel())
      assert.is_true(st.w:eq(st.step):all():item(), "round " .. round .. ": torn tensor")
      assert.equal("step " .. st.step, st.note)
      assert.is_true(st.step >= last, "round " .. round .. ": went back from " .. last .. " to " .. st.step)
      last = st.step
      local progress = json.decode(fs.read(dir .. "/progress.json"))
      assert.is_true(progress.step == st.step or progress.step == st.step - 1,
                     "progress.json at " .. progress.step .. ", checkpoint at " .. st.step)
      assert.equal(100000, #progress.pad)
    end
    assert.equal(8, kills)
    assert.is_true(last >= 8, "the child made progress: step " .. last .. ", " .. temps_seen .. " temporaries ignored")
  end)

  it("a failed rename leaves no temporary; a later write replaces the file whole", function()
    local dir = BASE .. "/fail"
    fs.mkdir_p(dir)
    fs.write_atomic(dir .. "/a.json", "old")
    fs.mkdir_p(dir .. "/b.json")   -- rename over a directory fails
    local ok, err = pcall(fs.write_atomic, dir .. "/b.json", "new")
    assert.is_false(ok)
    assert.truthy(err:find("clara.fs.write_atomic: cannot write", 1, true), err)
    fs.write_atomic(dir .. "/a.json", "newer")
    assert.equal("newer", fs.read(dir .. "/a.json"))
    assert.same({}, fs.stale_temps(dir))
  end)
end)
