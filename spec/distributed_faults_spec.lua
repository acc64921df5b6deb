-- A rank that never joins, dies (SIGKILL) or hangs must not hang the others:
-- each ends within the timeout (plus slack) with an error naming the
-- missing rank.  Times are measured and bounded, not raced: the bounds are
-- the timeout plus the 2 s the survivors take to meet in the store, plus
-- slack for a loaded machine.
local R = require "spec.helpers.dist_ranks"
local proc = require "clara.process.core"
local clock = require("clara.sys.core").clock
local tmpdir, cleanup = dofile("spec/helpers/tmpdir.lua")

local TIMEOUT = 3
local MEET = 2  -- dist.cpp's SLACK: the survivors of a collective meet in the store
local SLACK = 4 -- a loaded machine

local function tcp_env(port, world, extra)
  return function(r)
    local e = { MASTER_ADDR = "127.0.0.1", MASTER_PORT = port, RANK = r, WORLD_SIZE = world,
                DIST_TIMEOUT = TIMEOUT, SLURM_PROCID = "" }
    for k, v in pairs(extra or {}) do e[k] = v end
    return e
  end
end

local function file_env(path, world, extra)
  return function(r)
    local e = { DIST_INIT = "file://" .. path, DIST_RANK = r, DIST_WORLD = world, DIST_TIMEOUT = TIMEOUT }
    for k, v in pairs(extra or {}) do e[k] = v end
    return e
  end
end

-- start the given ranks (0-based) of a group; the others never start
local function start(dir, ranks, envs)
  local list = {}
  for i, r in ipairs(ranks) do list[i] = { env = envs(r) } end
  return R.start(dir, list)
end

local function report(fmt, ...) io.stderr:write("  [distributed_faults] ", fmt:format(...), "\n") end

local function ended_with(group, i, pattern)
  local p = group.procs[i]
  local res = R.results(p)
  assert(res, "no results from rank index " .. i .. ":\n" .. R.log(p))
  assert.are_not.equal(0, p.code)
  assert.matches(pattern, res.error)
  return res
end

-- wait until each rank of the loop has written its ready file
local function ready(dir, group, n)
  local deadline = clock() + 60
  while clock() < deadline do
    local all = true
    for r = 0, n - 1 do
      local f = io.open(dir .. "/ready." .. r)
      if f then f:close() else all = false end
    end
    if all then return end
    for i, p in ipairs(group.procs) do
      assert(not proc.wait(p.pid), "rank index " .. i .. " ended early:\n" .. R.log(p))
    end
    proc.sleep(0.05)
  end
  error("the ranks did not start their loops within 60 s")
end

describe("torch.distributed timeouts", function()
  local group
  after_each(function() if group then R.stop(group) end group = nil end)
  teardown(cleanup)

  it("a rank that never starts ends init on the others, naming it (TCPStore)", function()
    local dir = tmpdir()
    group = start(dir, { 0, 1 }, tcp_env(R.port(), 3))
    R.wait(group, TIMEOUT + 60)
    for i = 1, 2 do
      local res = ended_with(group, i, "init_process_group: rank 2 did not join within 3 s")
      assert.is_true(res.init_seconds <= TIMEOUT + SLACK, "init took " .. res.init_seconds .. " s")
      report("TCPStore: init ended after %.2f s (timeout %d s)", res.init_seconds, TIMEOUT)
    end
  end)

  it("a rank that never starts ends init on the others, naming it (FileStore)", function()
    local dir = tmpdir()
    group = start(dir, { 0, 2 }, file_env(dir .. "/store", 3))
    R.wait(group, TIMEOUT + 60)
    for i = 1, 2 do
      local res = ended_with(group, i, "init_process_group: rank 1 did not join within 3 s")
      assert.is_true(res.init_seconds <= TIMEOUT + SLACK, "init took " .. res.init_seconds .. " s")
    end
  end)

  it("ranks started with different world sizes are told so, within the timeout", function()
    local dir = tmpdir()
    local worlds = { [0] = 2, [1] = 3 }
    group = start(dir, { 0, 1 }, function(r)
      return file_env(dir .. "/store", worlds[r])(r)
    end)
    R.wait(group, TIMEOUT + 60)
    local res = ended_with(group, 1, "init_process_group: ranks disagree: rank 1 has world_size 3, rank 0 2")
    assert.is_true(res.init_seconds <= TIMEOUT + SLACK, "init took " .. res.init_seconds .. " s")
    res = ended_with(group, 2, "init_process_group: ranks disagree: rank 0 has world_size 2, rank 1 3")
    assert.is_true(res.init_seconds <= TIMEOUT + SLACK, "init took " .. res.init_seconds .. " s")
  end)

  local function killed(victim, pattern)
    local dir = tmpdir()
    group = start(dir, { 0, 1, 2 }, tcp_env(R.port(), 3, { DIST_SCENARIO = "loop", DIST_READY = dir .. "/ready" }))
    ready(dir, group, 3)
    local at = clock()
    R.kill(group, victim + 1)
    R.wait(group, TIMEOUT + MEET + 60)
    for r = 0, 2 do
      if r ~= victim then
        local res = ended_with(group, r + 1, pattern)
        report("rank %d ended %.2f s after rank %d was killed (timeout %d s)", r, res.failed_at - at, victim, TIMEOUT)
        assert.is_true(res.failed_at - at <= TIMEOUT + MEET + SLACK,
          ("rank %d ended %.1f s after the kill"):format(r, res.failed_at - at))
      end
    end
  end

  it("a rank SIGKILLed mid-run ends the others within the timeout, naming it", function()
    killed(2, "all_reduce: all_reduce #%d+ failed on rank %d: rank 2 did not take part %(exited, killed, "
      .. "or stuck elsewhere%) %(timeout 3 s; Gloo: ")
  end)

  it("rank 0, the store's host, SIGKILLed mid-run: the others name it", function()
    killed(0, "all_reduce: all_reduce #%d+ failed on rank %d: rank 0 is gone %(its store at 127.0.0.1:%d+ "
      .. "no longer answers%)")
  end)

  it("a rank that hangs ends the others within the timeout, naming it", function()
    local dir = tmpdir()
    group = start(dir, { 0, 1 }, file_env(dir .. "/store", 2,
      { DIST_SCENARIO = "hang", DIST_HANG = 1, DIST_READY = dir .. "/ready" }))
    ready(dir, group, 2)
    local at = clock()
    R.wait(group, TIMEOUT + MEET + 60, { true, false })
    local res = ended_with(group, 1, "all_reduce #%d+ failed on rank 0: rank 1 did not take part")
    report("rank 0 ended %.2f s after rank 1 stopped (timeout %d s)", res.failed_at - at, TIMEOUT)
    assert.is_true(res.failed_at - at <= TIMEOUT + MEET + SLACK,
      ("rank 0 ended %.1f s after rank 1 stopped"):format(res.failed_at - at))
    assert.is_nil(group.procs[2].code) -- still asleep, until after_each kills it
  end)
end)
