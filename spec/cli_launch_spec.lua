-- `clara launch`: the ranks' environment (and the threads libtorch really
-- uses), their output prefixed line by line or in per-rank files, a failing
-- or killed rank stopping the others with its status, signals to the
-- launcher reaching every rank, the launcher's death ending them, and no
-- rank left running after any test (checked by the pids they write).
-- The ranks are spec/helpers/launch_rank.lua.
local fs = require "clara.fs"
local proc = require "clara.process.core"
local F = require "spec.helpers.fault"
local sh = require("spec.helpers.shell").sh
local tmpdir, cleanup = F.tmpdir, F.cleanup
teardown(cleanup)

local CLARA, RANK = F.CLARA, "spec/helpers/launch_rank.lua"
local clock = require("clara.sys.core").clock

-- `clara launch OPTIONS launch_rank.lua MODE DIR ARGS`, with OMP_NUM_THREADS unset
local function launch(options, mode, dir, args)
  return sh(("env -u OMP_NUM_THREADS %s launch %s %s %s %s %s"):format(CLARA, options, RANK, mode, dir, args or ""))
end

-- { [rank] = pid } the ranks wrote; every one of them gone within `seconds`
local function pids(dir)
  local by_rank = {}
  for name in require("lfs").dir(dir) do
    local rank = name:match("^pid%-(%d+)$")
    if rank then by_rank[tonumber(rank)] = tonumber(fs.read(fs.join(dir, name))) end
  end
  return by_rank
end
local function assert_gone(dir, n, seconds)
  local list = {}
  for _, pid in pairs(pids(dir)) do list[#list + 1] = pid end
  assert.are.equal(n, #list, "a rank did not write its pid")
  local gone = F.wait_until(function()
    for _, pid in ipairs(list) do if F.alive(pid) then return false end end
    return true
  end, seconds or 0.5)
  assert.is_truthy(gone, "ranks left running: " .. table.concat(list, ", "))
end

-- { [rank] = { NAME = value } } from "[rank k] NAME=value" lines
local function environments(text)
  local env = {}
  for rank, k, v in text:gmatch("%[rank (%d+)%] ([%w_]+)=([^\n]*)") do
    rank = tonumber(rank)
    env[rank] = env[rank] or {}
    env[rank][k] = v
  end
  return env
end

-- the launcher in the background, its output in DIR/launcher.log; returns
-- its pid once all n ranks have written theirs
local function background(dir, n, options, mode)
  local args = { CLARA, "launch", "--nproc", tostring(n) }
  for word in (options or ""):gmatch("%S+") do args[#args + 1] = word end
  table.move({ RANK, mode, dir }, 1, 3, #args + 1, args)
  local pid = proc.spawn(args, { log = fs.join(dir, "launcher.log") })
  local started = F.wait_until(function()
    for k = 0, n - 1 do if not fs.exists(fs.join(dir, "pid-" .. k)) then return false end end
    return true
  end, 60)
  assert.is_truthy(started, fs.read(fs.join(dir, "launcher.log")))
  return pid
end

-- the launcher's exit code, once it ended (within `seconds`)
local function exit_code(pid, seconds)
  local code
  F.wait_until(function()
    local p, c = proc.wait(pid)
    code = p and c
    return p
  end, seconds or 30)
  return code
end

describe("clara launch", function()
  it("gives every rank torchrun's environment and cores / N threads", function()
    local dir = tmpdir()
    local text, rc = launch("--nproc 3", "env", dir, "x --flag")
    assert.are.equal(0, rc, text)
    local env = environments(text)
    local threads = tostring(math.max(1, proc.cpu_count() // 3))
    local port = env[0] and env[0].MASTER_PORT
    assert.is_truthy(math.tointeger(tonumber(port)) and tonumber(port) > 0, text)
    for rank = 0, 2 do
      assert.are.same({ RANK = tostring(rank), WORLD_SIZE = "3", LOCAL_RANK = tostring(rank), LOCAL_WORLD_SIZE = "3",
        GROUP_RANK = "0", GROUP_WORLD_SIZE = "1", MASTER_ADDR = "127.0.0.1", MASTER_PORT = port,
        OMP_NUM_THREADS = threads, threads = threads, args = "x,--flag" }, env[rank])
    end
    assert_gone(dir, 3)
  end)

  it("gives an environment PyTorch's env:// init (c10d, Gloo) accepts, on the free port", function()
    local _, _, has_torch = os.execute("/usr/bin/python3 -c 'import torch' 2>/dev/null")
    if has_torch ~= 0 then
      print("skipped: /usr/bin/python3 cannot import torch")
      return
    end
    local dir = tmpdir()
    local text, rc = launch("--nproc 2", "c10d", dir)
    assert.are.equal(0, rc, text)
    assert.matches("[rank 0] rank 0 of 2 sum 3.0", text, 1, true)
    assert.matches("[rank 1] rank 1 of 2 sum 3.0", text, 1, true)
    assert_gone(dir, 2)
  end)

  it("takes the threads from --threads, else from the caller's OMP_NUM_THREADS", function()
    local dir = tmpdir()
    local text, rc = launch("--nproc 2 --threads 2", "env", dir)
    assert.are.equal(0, rc, text)
    local env = environments(text)
    for rank = 0, 1 do
      assert.are.equal("2", env[rank].OMP_NUM_THREADS)
      assert.are.equal("2", env[rank].threads)   -- libtorch's own count in the rank
    end
    assert_gone(dir, 2)
    text, rc = sh(("OMP_NUM_THREADS=1 %s launch %s env %s"):format(CLARA, RANK, dir))
    assert.are.equal(0, rc, text)
    assert.are.equal("1", environments(text)[0].threads)
    -- torchrun's spelling of --nproc
    text, rc = launch("--nproc-per-node 2", "env", dir)
    assert.are.equal(0, rc, text)
    assert.are.equal("2", environments(text)[1].WORLD_SIZE)
    assert_gone(dir, 2)
  end)

  it("numbers the ranks of node K of M from K * N, with the given master", function()
    local dir = tmpdir()
    local text, rc = launch("--nproc 2 --nnodes 3 --node-rank 1 --master-addr 10.1.2.3 --master-port 29555",
      "env", dir)
    assert.are.equal(0, rc, text)
    local env = environments(text)
    for k = 0, 1 do
      local e = env[2 + k]
      assert.are.same({ tostring(2 + k), "6", tostring(k), "2", "1", "3", "10.1.2.3", "29555" },
        { e.RANK, e.WORLD_SIZE, e.LOCAL_RANK, e.LOCAL_WORLD_SIZE, e.GROUP_RANK, e.GROUP_WORLD_SIZE,
          e.MASTER_ADDR, e.MASTER_PORT })
    end
    assert_gone(dir, 2)
  end)

  it("prefixes each rank's lines, whole, stdout and stderr kept apart", function()
    local dir = tmpdir()
    local out, err = fs.join(dir, "stdout"), fs.join(dir, "stderr")
    local text, rc = sh(("env -u OMP_NUM_THREADS %s launch --nproc 3 %s interleave %s >%s 2>%s")
      :format(CLARA, RANK, dir, out, err))
    assert.are.equal(0, rc, text)
    for stream, path in pairs { out = out, err = err } do
      local seen, n = { [0] = 0, 0, 0 }, 0
      for line in fs.read(path):gmatch("([^\n]*)\n") do
        n = n + 1
        local prefix, i, rank = line:match("^%[rank (%d)%] " .. stream .. " (%d+) of rank (%d)"
          .. (" continues"):rep(3) .. " and ends$")
        if not prefix then
          prefix = line:match("^%[rank (%d)%] no newline at the end$")   -- the rank's last, unfinished line
          assert.is_truthy(stream == "out" and prefix, "a mixed or torn line: " .. line)
          rank, i = prefix, seen[tonumber(prefix)] + 1
        end
        assert.are.equal(prefix, rank)
        rank = tonumber(rank)
        -- each rank's lines in their order
        assert.are.equal(seen[rank] + 1, tonumber(i))
        seen[rank] = seen[rank] + 1
      end
      local last = stream == "out" and 301 or 300
      assert.are.same({ [0] = last, last, last }, seen)
      assert.are.equal(3 * last, n)
    end
    assert_gone(dir, 3)
  end)

  it("does not tear lines when stdout and stderr are the same pipe", function()
    local dir = tmpdir()
    local text, rc = launch("--nproc 3", "interleave", dir)
    assert.are.equal(0, rc)
    local n = 0
    for line in text:gmatch("([^\n]*)\n") do
      n = n + 1
      local rank, other = line:match("^%[rank (%d)%] %a+ %d+ of rank (%d)" .. (" continues"):rep(3) .. " and ends$")
      if not rank then rank, other = line:match("^%[rank (%d)%] no newline at the end$"), true end
      assert.is_truthy(rank and (other == true or other == rank), "a mixed or torn line: " .. line)
    end
    assert.are.equal(3 * 601, n)
  end)

  it("writes each rank's output to DIR/rank-<k>.out and .err with --log-dir", function()
    local dir = tmpdir()
    local logs = fs.join(dir, "logs", "sub")
    local text, rc = launch("--nproc 2 --log-dir " .. logs, "interleave", dir)
    assert.are.equal(0, rc, text)
    assert.are.equal("", text)
    for rank = 0, 1 do
      local out = fs.read(fs.join(logs, ("rank-%d.out"):format(rank)))
      local err = fs.read(fs.join(logs, ("rank-%d.err"):format(rank)))
      local _, n_out = out:gsub("out %d+ of rank " .. rank .. "[^\n]* and ends\n", "")
      local _, n_err = err:gsub("err %d+ of rank " .. rank .. "[^\n]* and ends\n", "")
      assert.are.same({ 300, 300 }, { n_out, n_err })
      assert.matches("no newline at the end$", out)
      assert.is_nil(out:find("[rank", 1, true))
      assert.is_nil(err:find("out ", 1, true))
    end
    -- appended: a second launch (a requeued job) keeps the first one's output
    text, rc = launch("--nproc 2 --log-dir " .. logs, "env", dir)
    assert.are.equal(0, rc, text)
    local out = fs.read(fs.join(logs, "rank-1.out"))
    assert.matches("^out 1 of rank 1", out)
    assert.matches("RANK=1\n", out, 1, true)
  end)

  it("stops the other ranks when one fails and exits with its code", function()
    local dir = tmpdir()
    local t0 = clock()
    local text, rc = launch("--nproc 3", "fail", dir)
    local took = clock() - t0
    assert.are.equal(3, rc, text)
    local pid1 = pids(dir)[1]
    assert.matches(("clara launch: rank 1 (pid %d) exited with code 3; stopping the other ranks (SIGTERM, "
      .. "SIGKILL after 10 s)"):format(pid1), text, 1, true)
    assert.matches("[rank 1] rank 1 fails", text, 1, true)
    assert.is_true(took < 10, "the others were not stopped by SIGTERM: " .. took .. " s")
    assert_gone(dir, 3)
  end)

  it("reports a rank killed by SIGKILL and exits 128 + 9", function()
    local dir = tmpdir()
    local text, rc = launch("--nproc 2", "kill9", dir)
    assert.are.equal(137, rc, text)
    assert.matches(("clara launch: rank 1 (pid %d) was killed by signal 9 (SIGKILL); stopping the other ranks")
      :format(pids(dir)[1]), text, 1, true)
    assert_gone(dir, 2)
  end)

  it("kills a rank that ignores SIGTERM after --grace seconds", function()
    local dir = tmpdir()
    local text, rc = launch("--nproc 2 --grace 0.5", "stubborn", dir)
    assert.are.equal(4, rc, text)
    assert.matches("rank 0 %(pid %d+%) exited with code 4; stopping the other ranks %(SIGTERM, SIGKILL after 0.5 s%)",
      text)
    assert.matches(("rank 1 (pid %d) still running 0.5 s after it was asked to stop: SIGKILL"):format(pids(dir)[1]), text, 1, true)
    assert_gone(dir, 2)
  end)

  for _, name in ipairs { "TERM", "USR1", "INT", "HUP" } do
    it("passes SIG" .. name .. " on to every rank, waits for them and exits with their 75", function()
      local dir = tmpdir()
      local launcher = background(dir, 3, "", "signals")
      assert.is_true(proc.kill(launcher, name))
      assert.are.equal(75, exit_code(launcher), fs.read(fs.join(dir, "launcher.log")))
      for rank = 0, 2 do
        assert.are.equal(name, fs.read(fs.join(dir, "got-" .. rank)))
      end
      local log = fs.read(fs.join(dir, "launcher.log"))
      assert.matches("clara launch: SIG" .. name .. " received: passed on to 3 ranks, waiting for them", log, 1, true)
      assert.is_nil(log:find("stopping", 1, true))   -- 75 is the answer asked for, not a failure
      assert_gone(dir, 3)
    end)
  end

  it("exits 128 + 15 when the SIGTERM it passed on killed the ranks, without calling it a failure", function()
    local dir = tmpdir()
    local launcher = background(dir, 2, "", "sleep")
    assert.is_true(proc.kill(launcher, "TERM"))
    assert.are.equal(143, exit_code(launcher))
    local log = fs.read(fs.join(dir, "launcher.log"))
    assert.matches("SIGTERM received: passed on to 2 ranks", log, 1, true)
    assert.is_nil(log:find("stopping", 1, true))
    assert_gone(dir, 2)
  end)

  it("kills the ranks --grace seconds after a second SIGINT (Ctrl-C twice)", function()
    local dir = tmpdir()
    local launcher = background(dir, 2, "--grace 0.5", "deaf")
    local log = fs.join(dir, "launcher.log")
    assert.is_true(proc.kill(launcher, "INT"))
    assert.is_truthy(F.wait_until(function() return (fs.read(log) or ""):find("passed on to 2 ranks", 1, true) end, 10))
    proc.sleep(0.5)
    assert.is_nil(proc.wait(launcher))   -- the ranks ignore it: the launcher waits
    assert.is_true(proc.kill(launcher, "INT"))
    assert.are.equal(137, exit_code(launcher), fs.read(log))
    assert.matches("SIGINT again: passed on; SIGKILL to the ranks still running in 0.5 s", fs.read(log), 1, true)
    assert.matches("still running 0.5 s after it was asked to stop: SIGKILL", fs.read(log), 1, true)
    assert_gone(dir, 2)
  end)

  it("ends the ranks when the launcher is killed (SIGTERM by PDEATHSIG)", function()
    local dir = tmpdir()
    local launcher = background(dir, 2, "--log-dir " .. fs.join(dir, "logs"), "signals")
    assert.is_true(proc.kill(launcher, "KILL"))
    assert.are.equal(137, exit_code(launcher))
    assert_gone(dir, 2, 10)
    for rank = 0, 1 do assert.are.equal("TERM", fs.read(fs.join(dir, "got-" .. rank))) end
  end)

  it("runs a clara command as the script", function()
    local text, rc = sh(CLARA .. " launch --nproc 2 run --help")
    assert.are.equal(0, rc, text)
    assert.matches("[rank 0] usage: clara run", text, 1, true)
    assert.matches("[rank 1] usage: clara run", text, 1, true)
  end)

  it("lists every option with --help and explains bad command lines (exit code 2)", function()
    local text, rc = sh(CLARA .. " launch --help")
    assert.are.equal(0, rc)
    for _, opt in ipairs { "--nproc", "--nnodes", "--node-rank", "--master-addr", "--master-port", "--log-dir",
                           "--threads", "--grace", "example:" } do
      assert.matches(opt, text, 1, true)
    end
    local bad = {
      ["--nproc 0 x.lua"] = "clara launch: --nproc expects a positive integer, got '0'",
      [""] = "clara launch: no script given",
      ["--nproc 2"] = "clara launch: no script given",
      ["/nonexistent.lua"] = "clara launch: cannot open /nonexistent.lua",
      ["--nnodes 2 --node-rank 2 " .. RANK] = "clara launch: --node-rank 2 is not below --nnodes 2",
      ["--node-rank -1 " .. RANK] = "clara launch: --node-rank expects an integer >= 0, got '-1'",
      ["--nnodes 2 " .. RANK] = "clara launch: --nnodes 2 needs --master-addr and --master-port",
      ["--master-port 70000 " .. RANK] = "clara launch: --master-port expects a port (1 .. 65535), got '70000'",
      ["--grace -1 " .. RANK] = "clara launch: --grace expects a number of seconds >= 0, got '-1'",
      ["--threads 1.5 " .. RANK] = "clara launch: --threads expects a positive integer, got '1.5'",
      ["--bogus " .. RANK] = "clara launch: unknown option '--bogus'",
    }
    for args, msg in pairs(bad) do
      text, rc = sh(CLARA .. " launch " .. args)
      assert.are.equal(2, rc, args .. ": " .. text)
      assert.matches(msg, text, 1, true)
      assert.matches("usage: clara launch", text, 1, true)
    end
  end)
end)

describe("clara.launch.lines", function()
  local lines = require "clara.launch.lines"
  -- a file that records each write
  local function sink()
    return { writes = {}, write = function(self, s) self.writes[#self.writes + 1] = s end, flush = function() end }
  end

  it("writes whole lines, prefixed, however the pieces are cut", function()
    local f = sink()
    local out = lines.new(f, "[rank 2] ")
    for _, piece in ipairs { "a", "b\nc", "", "d\n\ne", "\n", "tail" } do out:add(piece) end
    out:finish()
    assert.are.same({ "[rank 2] ab\n", "[rank 2] cd\n[rank 2] \n", "[rank 2] e\n", "[rank 2] tail\n" }, f.writes)
    out:finish()   -- nothing left
    assert.are.equal(4, #f.writes)
  end)

  it("cuts a line longer than MAX_LINE into pieces of that size", function()
    local f = sink()
    local saved = lines.MAX_LINE
    lines.MAX_LINE = 4
    local out = lines.new(f, "> ")
    out:add("abcdefghij")
    out:add("k\n")
    lines.MAX_LINE = saved
    assert.are.same({ "> abcd\n", "> efgh\n", "> ijk\n" }, f.writes)
  end)

  it("cuts a long line without a newline at MAX_LINE, as a pipe delivers it", function()
    local f = sink()
    local out = lines.new(f, "")
    local piece = ("x"):rep(65536)
    for _ = 1, 64 do out:add(piece) end   -- 4 MiB
    out:finish()
    assert.are.equal(4, #f.writes)
    assert.are.equal(lines.MAX_LINE + 1, #f.writes[1])
  end)
end)
