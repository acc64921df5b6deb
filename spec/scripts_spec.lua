-- clara.scripts: the SLURM and bash scripts for a battery, checked as text,
-- with `bash -n` and shellcheck, and by running them against a fake clara
-- (a shell script that answers like `clara battery FILE --entry I`) and a
-- fake scontrol that records its arguments.  The real battery runs in
-- tests/scripts_test.sh.
local scripts = require "clara.scripts"
local fs = require "clara.fs"
local tmpdir, cleanup = dofile("spec/helpers/tmpdir.lua")
teardown(cleanup)

local q = scripts.shell_quote
local CLARA = fs.join(require("lfs").currentdir(), "clara")

-- output and exit code of a shell command
local sh = require("spec.helpers.shell").sh

local function write(path, text, exec)
  fs.write_atomic(path, text)
  if exec then os.execute("chmod +x " .. q(path)) end
  return path
end

-- a stand-in for clara.battery.load(...): the fields and methods the
-- generators use
local function battery(name, out_dir, names)
  local b = { name = name, out_dir = out_dir }
  function b:dir() return fs.join(self.out_dir, self.name) end
  function b:entries()
    local t = {}
    for i, n in ipairs(names) do t[i] = { name = n, settings = {}, dir = fs.join(self:dir(), n) } end
    return t
  end
  function b:status() return "pending" end
  return b
end

-- check(text): bash -n and shellcheck (every severity) pass
local function check(text, dir)
  local path = write(fs.join(dir, "check.sh"), text)
  local out, rc = sh("bash -n " .. q(path))
  assert.are.equal(0, rc, out)
  out, rc = sh("shellcheck " .. q(path))
  assert.are.equal(0, rc, "shellcheck:\n" .. out .. "\n" .. text)
end

local function has(text, s) assert.is_truthy(text:find(s, 1, true), "missing: " .. s .. "\n" .. text) end
local function hasnt(text, s) assert.is_falsy(text:find(s, 1, true), "unexpected: " .. s) end

describe("clara.scripts.slurm", function()
  it("makes a job array with one task per entry, the time limit, the signal and the requeue", function()
    local d = tmpdir()
    local b = battery("grid", fs.join(d, "runs"), { "batch_size=64,lr=0.01", "batch_size=64,lr=0.1", "batch_size=8,lr=0.1" })
    local text, ctx = scripts.slurm(b, { battery_file = fs.join(d, "b.lua"), clara = "/opt/clara/clara",
                                         time = "01:30:00", cpus = 2, mem = "500M" })
    has(text, "#!/bin/bash\n")
    has(text, "\n#SBATCH --array=1-3\n")
    has(text, "\n#SBATCH --time=01:30:00\n")
    has(text, "\n#SBATCH --cpus-per-task=2\n")
    has(text, "\n#SBATCH --mem=500M\n")
    has(text, "\n#SBATCH --signal=B:USR1@120\n")
    has(text, "\n#SBATCH --requeue\n")
    has(text, "\n#SBATCH --open-mode=append\n")
    has(text, "\n#SBATCH --job-name=grid\n")
    has(text, '\n#SBATCH --output="' .. d .. '/runs/grid/logs/%x-%A_%a.out"\n')
    has(text, '\nCLARA="/opt/clara/clara"\n')
    has(text, '\nBATTERY="' .. d .. '/b.lua"\n')
    has(text, 'export OMP_NUM_THREADS="${SLURM_CPUS_PER_TASK:-1}"')
    has(text, '"$CLARA" battery "$BATTERY" --entry "$task" --threads "$OMP_NUM_THREADS" &')
    has(text, 'scontrol requeue "${SLURM_ARRAY_JOB_ID}_${task}"')
    -- the header lists the entries by task index
    has(text, "#   1  batch_size=64,lr=0.01\n#   2  batch_size=64,lr=0.1\n#   3  batch_size=8,lr=0.1\n")
    -- placeholders the user completes, which sbatch ignores until then
    has(text, "# >>> EDIT: ")
    has(text, "\n##SBATCH --partition=EDIT_ME\n")
    has(text, "\n##SBATCH --account=EDIT_ME\n")
    hasnt(text, "{{")
    assert.are.equal(d .. "/runs/grid/logs", ctx.log_dir)
    assert.are.equal(3, #ctx.entries)
    check(text, d)
  end)

  it("takes the concurrency limit, the signal lead, partition, account and GPUs", function()
    local d = tmpdir()
    local b = battery("grid", "runs", { "a=1", "a=2" })
    local text = scripts.slurm(b, { battery_file = "b.lua", max_parallel = 1, signal_lead = 600,
                                    time = "2-00:00:00", partition = "gpu", account = "proj-42", gpus = 1 })
    has(text, "\n#SBATCH --array=1-2%1\n")
    has(text, "\n#SBATCH --signal=B:USR1@600\n")
    has(text, "\n#SBATCH --time=2-00:00:00\n")
    has(text, "\n#SBATCH --partition=gpu\n")
    has(text, "\n#SBATCH --account=proj-42\n")
    has(text, "\n#SBATCH --gres=gpu:1\n")
    -- relative paths are made absolute from the current directory
    local cwd = require("lfs").currentdir()
    has(text, '\nBATTERY="' .. cwd .. '/b.lua"\n')
    has(text, '\nWORKDIR="' .. cwd .. '"\n')
    has(text, '\n#SBATCH --chdir="' .. cwd .. '"\n')
    has(text, '\nCLARA="' .. CLARA .. '"\n')   -- this very binary
    check(text, d)
  end)

  it("quotes paths and names with spaces, quotes and dollars for bash and for sbatch", function()
    local d = tmpdir()
    local odd = fs.join(d, [[my "odd" $dir\ 100% here]])
    local b = battery([[it's a "grid" $x]], odd, { [[name=it's "x" $HOME `id`]], "a=1" })
    for _, opts in ipairs { {}, { max_parallel = 2, partition = "p", time = "90" }, { signal_lead = 30, time = "10:00" } } do
      opts.battery_file = fs.join(odd, "b.lua"); opts.clara = fs.join(odd, "clara")
      local text = scripts.slurm(b, opts)
      check(text, d)
      has(text, [[#SBATCH --job-name=it_s_a__grid___x]])
      -- sbatch: double quotes group, a backslash escapes
      has(text, [[--output="]] .. d .. [[/my \"odd\" $dir\\ 100%% here/it's a \"grid\" $x/logs/%x-%A_%a.out"]])
      -- bash reads back exactly the path
      local out = sh(text:match("\n(BATTERY=[^\n]*)\n") .. '; printf "%s" "$BATTERY"')
      assert.are.equal(fs.join(odd, "b.lua"), out)
    end
  end)

  it("explains bad options at the caller's line", function()
    local b = battery("g", "runs", { "a=1" })
    local function bad(opts, msg)
      opts.battery_file = "b.lua"
      local ok, err = pcall(scripts.slurm, b, opts)
      assert.is_false(ok)
      assert.matches(msg, err, 1, true)
    end
    bad({ time = "soon" }, "clara.scripts.slurm: time must be a SLURM time limit (HH:MM:SS, D-HH:MM:SS, MM ...), got 'soon'")
    bad({ time = "1:2:3:4" }, "got '1:2:3:4'")
    bad({ time = "00:01:00", signal_lead = 60 }, "signal_lead (60 s) must be shorter than the time limit 00:01:00 (60 s)")
    bad({ time = "2", signal_lead = 120 }, "signal_lead (120 s) must be shorter than the time limit 2 (120 s)")
    -- each of SLURM's formats, read as SLURM reads it
    for time, seconds in pairs { ["1"] = 60, ["1:30"] = 90, ["0:1:59"] = 119, ["0-1"] = 3600,
                                 ["0-0:3"] = 180, ["0-0:2:1"] = 121 } do
      bad({ time = time, signal_lead = 65535 }, ("the time limit %s (%d s)"):format(time, seconds))
    end
    bad({ time = "1-2-3" }, "got '1-2-3'")
    bad({ time = "0:00:00" }, "got '0:00:00'")
    bad({ signal_lead = 0 }, "signal_lead must be an integer from 1 to 65535, got '0'")
    bad({ cpus = 1.5 }, "cpus must be a positive integer, got '1.5'")
    bad({ mem = "lots" }, "mem must be a size like 8G, 500M or 16000, got 'lots'")
    bad({ partition = "a b" }, "partition must be a SLURM name, got 'a b'")
    -- (through a Lua function: an error's position names a Lua caller)
    local ok, err = pcall(function() local text = scripts.slurm(b, {}); return text end)
    assert.is_false(ok)
    assert.matches("^spec/scripts_spec.lua:%d+: clara.scripts.slurm: battery_file %(the battery's path%) is required", err)
    ok, err = pcall(scripts.slurm, { name = "x" }, { battery_file = "b.lua" })
    assert.matches("clara.scripts.slurm: the battery has no entries() method", err, 1, true)
    ok, err = pcall(scripts.bash, b, { battery_file = "two\nlines.lua" })
    assert.matches("clara.scripts.bash: the path '.*two\nlines.lua' holds a control character", err)
    ok, err = pcall(scripts.slurm, battery("empty", "runs", {}), { battery_file = "b.lua" })
    assert.matches("clara.scripts.slurm: the battery 'empty' has no entries", err, 1, true)
    ok, err = pcall(function() local text = scripts.bash(b, { battery_file = "b.lua", jobs = 0 }); return text end)
    assert.matches("^spec/scripts_spec.lua:%d+: clara.scripts.bash: jobs must be a positive integer, got '0'", err)
  end)
end)

-- a fake clara: `fake battery FILE --summary` appends to summaries;
-- `fake battery FILE --entry I --threads T` appends I to calls, then
-- behaves as the file BEHAVIOUR/I says: "ok", "fail", "75" (exit 75),
-- "75-once" (75 the first time), "wait" (until USR1/TERM: exit 75)
local FAKE = [[#!/bin/bash
dir=$(dirname "$0")
if [ "$3" = --summary ]; then echo "summary of $2" >>"$dir/summaries"; exit 0; fi
i=$4
echo "$i" >>"$dir/calls"
behaviour=$(cat "$dir/behaviour/$i" 2>/dev/null || echo ok)
echo "fake clara $* ($behaviour) threads=${OMP_NUM_THREADS:-}"
case $behaviour in
  ok) exit 0 ;;
  fail) echo "an error" >&2; exit 1 ;;
  75) exit 75 ;;
  75-once) if [ -e "$dir/seen-$i" ]; then exit 0; fi; touch "$dir/seen-$i"; exit 75 ;;
  wait)
    trap 'echo "got a signal"; exit 75' USR1 TERM
    touch "$dir/ready-$i"
    for _ in $(seq 100); do sleep 0.1; done
    exit 0 ;;
esac
]]

local function fake_clara(d, behaviours)
  fs.mkdir_p(fs.join(d, "behaviour"))
  for i, v in pairs(behaviours) do write(fs.join(d, "behaviour", tostring(i)), v) end
  return write(fs.join(d, "clara"), FAKE, true)
end

local function calls(d)
  local t = {}
  for line in (fs.read(fs.join(d, "calls")) or ""):gmatch("[^\n]+") do t[#t + 1] = tonumber(line) end
  table.sort(t)
  return t
end

-- wait_file(path): true once path exists (at most 10 s)
local function wait_file(path)
  for _ = 1, 200 do
    if fs.exists(path) then return true end
    os.execute("sleep 0.05")
  end
  return false
end

describe("the SLURM script, run outside SLURM", function()
  -- run(d, task, env): the script as SLURM would run task `task`, with a
  -- fake scontrol on PATH writing its arguments to d/scontrol
  local function launch(d, task, env)
    write(fs.join(d, "bin", "scontrol"), '#!/bin/sh\necho "$*" >>' .. q(fs.join(d, "scontrol")) .. "\n", true)
    return ("cd %s && PATH=%s:$PATH SLURM_ARRAY_JOB_ID=4242 SLURM_JOB_ID=4250 SLURM_ARRAY_TASK_ID=%d "
            .. "SLURM_CPUS_PER_TASK=3 %s bash job.sh"):format(q(d), q(fs.join(d, "bin")), task, env or "")
  end

  local function job(d, behaviours, opts)
    fs.mkdir_p(fs.join(d, "bin"))
    opts = opts or {}
    opts.battery_file = fs.join(d, "b.lua"); opts.clara = fake_clara(d, behaviours)
    write(fs.join(d, "job.sh"), scripts.slurm(battery("grid", fs.join(d, "runs"), { "a=1", "a=2", "a=3" }), opts))
  end

  it("forwards USR1 to clara and requeues its own array task when clara exits 75", function()
    local d = tmpdir()
    job(d, { [2] = "wait" })
    -- the batch shell gets USR1 (the "B:" of --signal), as SLURM would send it
    local p = io.popen(launch(d, 2) .. " >out.txt 2>&1 & echo $!")
    local pid = p:read("l"); p:close()
    assert.is_true(wait_file(fs.join(d, "ready-2")), "the fake clara never started")
    os.execute("kill -USR1 " .. pid)
    assert.is_true(wait_file(fs.join(d, "scontrol")), fs.read(fs.join(d, "out.txt")))
    os.execute("sleep 0.2")
    assert.are.equal("requeue 4242_2\n", fs.read(fs.join(d, "scontrol")))
    local out = fs.read(fs.join(d, "out.txt"))
    assert.matches("fake clara battery " .. d .. "/b.lua --entry 2 --threads 3 (wait)", out, 1, true)
    assert.matches("got a signal", out, 1, true)
    assert.matches("entry 2 interrupted, checkpoint written: requeueing 4242_2", out, 1, true)
  end)

  it("passes clara's exit code on and requeues only on 75", function()
    local d = tmpdir()
    job(d, { [1] = "ok", [3] = "fail" })
    local out, rc = sh(launch(d, 3))
    assert.are.equal(1, rc, out)
    assert.is_nil(fs.read(fs.join(d, "scontrol")))
    out, rc = sh(launch(d, 1))
    assert.are.equal(0, rc, out)
    assert.matches("entry 1 exited with 0", out, 1, true)
    -- the thread count follows --cpus-per-task
    assert.matches("fake clara battery " .. d .. "/b.lua --entry 1 --threads 3 (ok) threads=3", out, 1, true)
  end)

  it("stops requeueing after max_requeues attempts", function()
    local d = tmpdir()
    job(d, { [1] = "75" }, { max_requeues = 2 })
    local out, rc = sh(launch(d, 1, "SLURM_RESTART_COUNT=1"))
    assert.are.equal(75, rc, out)
    assert.are.equal("requeue 4242_1\n", fs.read(fs.join(d, "scontrol")))
    out, rc = sh(launch(d, 1, "SLURM_RESTART_COUNT=2"))
    assert.are.equal(75, rc, out)
    assert.matches("interrupted again after 2 requeues: not requeued", out, 1, true)
    assert.are.equal("requeue 4242_1\n", fs.read(fs.join(d, "scontrol")))
  end)

  it("refuses to run outside an array task", function()
    local d = tmpdir()
    job(d, {})
    local out, rc = sh("cd " .. q(d) .. " && env -u SLURM_ARRAY_TASK_ID bash job.sh")
    assert.are.equal(1, rc)
    assert.matches("not a SLURM array task: submit this script with sbatch", out, 1, true)
    assert.is_nil(fs.read(fs.join(d, "calls")))
  end)
end)

describe("clara.scripts.bash", function()
  local function runner(d, behaviours, opts, names)
    opts = opts or {}
    opts.battery_file = fs.join(d, "b.lua"); opts.clara = fake_clara(d, behaviours)
    names = names or { "a=1", "a=2", "a=3", "a=4", "a=5" }
    local text, ctx = scripts.bash(battery("grid", fs.join(d, "runs"), names), opts)
    write(fs.join(d, "run.sh"), text, true)
    return text, ctx
  end

  it("passes bash -n and shellcheck, with and without nohup, with odd paths and names", function()
    local d = tmpdir()
    local odd = fs.join(d, [[dir with "quotes" $and\ spaces]])
    for _, opts in ipairs { {}, { jobs = 3 }, { nohup = true, jobs = 2 } } do
      opts.battery_file = fs.join(odd, "b.lua"); opts.clara = "/usr/local/bin/clara"
      local text = scripts.bash(battery([[it's "odd" $x]], odd, { [[lr=0.1,name=it's "x" $HOME `id`]] }), opts)
      check(text, d)
      has(text, "JOBS=${JOBS:-" .. (opts.jobs or 1) .. "}")
      if opts.nohup then has(text, "nohup bash") else hasnt(text, "nohup bash") end
      -- the names array holds the names exactly
      local out = sh("bash -c " .. q(text:match("\n(NAMES=%(.-\n%))\n") .. [[; printf "%s|" "${NAMES[@]}"]]))
      assert.are.equal([[|lr=0.1,name=it's "x" $HOME `id`|]], out)
    end
  end)

  it("runs every entry N at a time, resumes an exit-75 entry once, and reports a failure", function()
    local d = tmpdir()
    local _, ctx = runner(d, { [2] = "fail", [4] = "75-once", [5] = "75" }, { jobs = 2 })
    local out, rc = sh(q(fs.join(d, "run.sh")))
    assert.are.equal(1, rc, out)
    assert.are.same({ 1, 2, 3, 4, 4, 5, 5 }, calls(d))
    assert.matches("== entry 2 (a=2): FAILED (exit 1), see " .. ctx.log_dir .. "/entry-2.log", out, 1, true)
    assert.matches("== entry 4 (a=4): interrupted from outside, resuming it once more", out, 1, true)
    assert.matches("== entry 5 (a=5): interrupted, checkpoint written", out, 1, true)
    assert.matches("battery grid: 3 done, 1 failed, 1 interrupted, 0 not started (of 5; logs in "
                   .. ctx.log_dir .. ")", out, 1, true)
    assert.matches("failed entries: 2", out, 1, true)
    -- the battery's own summary, rewritten once at the end
    assert.are.equal("summary of " .. d .. "/b.lua\n",
                     fs.read(fs.join(d, "summaries")))
    -- a log per entry, appended to across attempts
    assert.matches("an error", fs.read(fs.join(ctx.log_dir, "entry-2.log")), 1, true)
    local _, attempts = fs.read(fs.join(ctx.log_dir, "entry-4.log")):gsub("fake clara battery", "")
    assert.are.equal(2, attempts)
  end)

  it("exits 0 when every entry is done, 75 when one stays interrupted; JOBS overrides", function()
    local d = tmpdir()
    runner(d, {}, { jobs = 1 }, { "a=1", "a=2" })
    local out, rc = sh("JOBS=2 THREADS=1 " .. q(fs.join(d, "run.sh")))
    assert.are.equal(0, rc, out)
    assert.matches("2 entries, 2 at a time (1 threads each)", out, 1, true)
    assert.matches("battery grid: 2 done, 0 failed, 0 interrupted, 0 not started (of 2;", out, 1, true)
    write(fs.join(d, "behaviour", "2"), "75")
    out, rc = sh(q(fs.join(d, "run.sh")))
    assert.are.equal(75, rc, out)
    out, rc = sh("JOBS=x " .. q(fs.join(d, "run.sh")))
    assert.are.equal(2, rc, out)
    assert.matches("JOBS must be a positive integer, got 'x'", out, 1, true)
    out, rc = sh("THREADS=0 " .. q(fs.join(d, "run.sh")))
    assert.are.equal(2, rc, out)
    assert.matches("THREADS must be a positive integer, got '0'", out, 1, true)
    -- each entry gets THREADS threads
    out = sh("THREADS=3 " .. q(fs.join(d, "run.sh")))
    assert.matches("--threads 3 (ok) threads=3", fs.read(fs.join(d, "runs/grid/logs/entry-1.log")), 1, true)
  end)

  it("stops cleanly on TERM: running entries checkpoint, no new ones start", function()
    local d = tmpdir()
    runner(d, { [1] = "wait", [2] = "wait" }, { jobs = 2 }, { "a=1", "a=2", "a=3" })
    local p = io.popen(q(fs.join(d, "run.sh")) .. " >" .. q(fs.join(d, "out.txt")) .. " 2>&1 & echo $!")
    local pid = p:read("l"); p:close()
    assert.is_true(wait_file(fs.join(d, "ready-1")) and wait_file(fs.join(d, "ready-2")))
    os.execute("kill -TERM " .. pid)
    -- the runner ends once both entries have stopped
    for _ = 1, 200 do
      if (fs.read(fs.join(d, "out.txt")) or ""):find("not started", 1, true) then break end
      os.execute("sleep 0.05")
    end
    local out = fs.read(fs.join(d, "out.txt"))
    assert.matches("stopping: the running entries write their checkpoints", out, 1, true)
    assert.matches("battery grid: 0 done, 0 failed, 2 interrupted, 1 not started (of 3;", out, 1, true)
    assert.are.same({ 1, 2 }, calls(d))
  end)

  it("detaches itself under nohup when generated with nohup", function()
    local d = tmpdir()
    local _, ctx = runner(d, {}, { nohup = true }, { "a=1" })
    local out, rc = sh("cd " .. q(d) .. " && ./run.sh")
    assert.are.equal(0, rc, out)
    assert.matches("battery grid: running in the background %(pid %d+%), output in " .. ctx.log_dir:gsub("%p", "%%%0")
                   .. "/runner.log", out)
    local log = fs.join(ctx.log_dir, "runner.log")
    for _ = 1, 200 do
      if (fs.read(log) or ""):find("1 done", 1, true) then break end
      os.execute("sleep 0.05")
    end
    assert.matches("battery grid: 1 done, 0 failed, 0 interrupted, 0 not started (of 1;", fs.read(log), 1, true)
  end)
end)

describe("clara script", function()
  -- the CLI loads batteries with clara.battery.load: a stand-in, preloaded
  -- through CLARA_INIT, keeps these checks independent of clara.battery
  local STUB = [[
package.preload["clara.battery"] = function()
  return { load = function(path)
    local b = { name = "stub", out_dir = os.getenv("STUB_OUT") }
    function b:dir() return self.out_dir .. "/" .. self.name end
    function b:entries() return { { name = "a=1" }, { name = "a=2" } } end
    return b
  end }
end
]]
  local function cli(d, args)
    local stub = write(fs.join(d, "stub.lua"), STUB)
    return sh(("cd %s && STUB_OUT=%s CLARA_INIT=@%s %s script %s"):format(q(d), q(fs.join(d, "runs")), q(stub), CLARA, args))
  end

  it("writes the script to stdout or, whole and executable, to --out", function()
    local d = tmpdir()
    write(fs.join(d, "b.lua"), "return {}")
    local out, rc = cli(d, "slurm b.lua --time 00:30:00 --signal-lead=300 --cpus 2 --mem 1G --max-parallel 1")
    assert.are.equal(0, rc, out)
    has(out, "#SBATCH --array=1-2%1\n")
    has(out, "#SBATCH --signal=B:USR1@300\n")
    has(out, "#SBATCH --time=00:30:00\n")
    has(out, '\nBATTERY="' .. d .. '/b.lua"\n')
    -- the log directory exists before sbatch needs it
    assert.is_true(fs.isdir(fs.join(d, "runs", "stub", "logs")))
    out, rc = cli(d, "bash b.lua --jobs 2 --nohup --out run.sh")
    assert.are.equal(0, rc, out)
    assert.matches("clara script: wrote run.sh (bash, 2 entries)", out, 1, true)
    has(fs.read(fs.join(d, "run.sh")), "JOBS=${JOBS:-2}")
    assert.are.equal(0, select(2, sh("test -x " .. q(fs.join(d, "run.sh")))))
    assert.are.same({}, fs.stale_temps(d))
  end)

  it("explains bad command lines in one line, exit code 2 (usage) or 1", function()
    local d = tmpdir()
    write(fs.join(d, "b.lua"), "return {}")
    local function bad(args, code, msg)
      local out, rc = cli(d, args)
      assert.are.equal(code, rc, out)
      assert.matches("clara script: " .. msg, out, 1, true)
      assert.is_nil(out:find("traceback"))
    end
    bad("", 2, "which script? 'slurm' or 'bash'")
    bad("pbs b.lua", 2, "unknown script kind 'pbs' (slurm or bash)")
    bad("slurm", 2, "no battery file given")
    bad("slurm b.lua --jobs 2", 2, "unknown option '--jobs' for clara script slurm")
    bad("bash b.lua --time 1", 2, "unknown option '--time' for clara script bash")
    bad("bash b.lua --jobs", 2, "--jobs needs a value")
    bad("bash b.lua --nohup=1", 2, "--nohup takes no value")
    bad("bash b.lua c.lua", 2, "one battery file expected, got 'b.lua' and 'c.lua'")
    bad("bash missing.lua", 2, "cannot open missing.lua")
    bad("slurm b.lua --time forever", 1, "clara.scripts.slurm: time must be a SLURM time limit")
    bad("bash b.lua --jobs none", 1, "clara.scripts.bash: jobs must be a positive integer, got 'none'")
    bad("slurm --script run exp.lua --set lr=0.1", 2,
        "unknown option '--set' for clara script slurm (the script's own options go after '--')")
    bad("slurm --script missing.lua", 2, "cannot open missing.lua")
    bad("slurm --script", 2, "no script file given")
    bad("slurm --script b.lua --nodes none", 1, "clara.scripts.slurm: nodes must be a positive integer, got 'none'")
  end)
end)

local SRUN = 'srun --cpus-per-task="$SLURM_CPUS_PER_TASK" '

describe("clara.scripts.slurm, multi-task jobs", function()

  it("gives each array task nodes and ranks that srun starts", function()
    local d = tmpdir()
    local b = battery("grid", fs.join(d, "runs"), { "a=1", "a=2", "a=3" })
    local text = scripts.slurm(b, { battery_file = fs.join(d, "b.lua"), clara = "/opt/clara/clara",
                                    nodes = 2, ntasks_per_node = "4", cpus = 2 })
    has(text, "\n#SBATCH --array=1-3\n#SBATCH --nodes=2\n#SBATCH --ntasks-per-node=4\n")
    has(text, "\n" .. SRUN .. '"$CLARA" battery "$BATTERY" --entry "$task" --threads "$OMP_NUM_THREADS" &\n')
    has(text, "# 8 ranks (2 node(s) x 4), started by srun")
    has(text, '\nMASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)\n')
    has(text, "\nexport MASTER_ADDR MASTER_PORT\n")
    has(text, 'scontrol requeue "${SLURM_ARRAY_JOB_ID}_${task}"')
    check(text, d)
    -- one of the two is enough: the other is 1
    text = scripts.slurm(b, { battery_file = "b.lua", ntasks_per_node = 2 })
    has(text, "\n#SBATCH --nodes=1\n#SBATCH --ntasks-per-node=2\n")
    text = scripts.slurm(b, { battery_file = "b.lua", nodes = 3 })
    has(text, "\n#SBATCH --nodes=3\n#SBATCH --ntasks-per-node=1\n")
    -- neither: one process, no srun
    text = scripts.slurm(b, { battery_file = "b.lua" })
    hasnt(text, SRUN)
    hasnt(text, "--nodes")
    hasnt(text, "MASTER_ADDR")
  end)

  it("runs one clara script with its arguments as one job (--script)", function()
    local d = tmpdir()
    local file = fs.join(d, "my train.lua")
    for _, opts in ipairs { {}, { nodes = 2, ntasks_per_node = 2 } } do
      opts.clara = "/opt/clara/clara"; opts.args = { "--lr", "0.1", [[it's "$HOME"]] }; opts.time = "30"
      local text, ctx = scripts.slurm_script(file, opts)
      hasnt(text, "--array")
      has(text, '\n#SBATCH --output="' .. d .. '/logs/%x-%j.out"\n')
      has(text, "\n#SBATCH --job-name=my_train\n")
      has(text, "\n#SBATCH --time=30\n")
      has(text, '\nSCRIPT="' .. file .. '"\n')
      has(text, (opts.nodes and SRUN or "\n") .. [["$CLARA" "$SCRIPT" "--lr" "0.1" "it's \"\$HOME\"" &]] .. "\n")
      has(text, 'scontrol requeue "$SLURM_JOB_ID"')
      has(text, ': "${SLURM_JOB_ID:?not a SLURM job: submit this script with sbatch}"')
      assert.are.equal(d .. "/logs", ctx.log_dir)
      assert.is_nil(ctx.entries)
      check(text, d)
    end
  end)

  it("explains bad options", function()
    local b = battery("g", "runs", { "a=1" })
    local function bad(f, msg)
      local ok, err = pcall(f)
      assert.is_false(ok)
      assert.matches(msg, err, 1, true)
    end
    bad(function() return scripts.slurm(b, { battery_file = "b.lua", nodes = 0 }) end,
        "clara.scripts.slurm: nodes must be a positive integer, got '0'")
    bad(function() return scripts.slurm(b, { battery_file = "b.lua", ntasks_per_node = "two" }) end,
        "clara.scripts.slurm: ntasks_per_node must be a positive integer, got 'two'")
    bad(function() return scripts.slurm_script("t.lua", { max_parallel = 2 }) end, "max_parallel")
    bad(function() return scripts.slurm_script("t.lua", { args = "a b" }) end, "args")
    bad(function() return scripts.slurm_script(nil, {}) end, "clara.scripts.slurm: the script's path expected, got nil")
  end)

  it("forwards USR1 to srun and requeues the job when the ranks exit 75 (run outside SLURM)", function()
    local d = tmpdir()
    fs.mkdir_p(fs.join(d, "bin"))
    write(fs.join(d, "bin", "scontrol"), '#!/bin/sh\necho "$*" >>' .. q(fs.join(d, "scontrol")) .. "\n", true)
    -- srun as it behaves for the job script: USR1 reaches every rank, which
    -- exit 75; srun exits with the ranks' status
    write(fs.join(d, "bin", "srun"), [[#!/bin/bash
echo "srun $*"
trap 'echo "srun got USR1"; exit 75' USR1
touch "$(dirname "$0")/../ready"
for _ in $(seq 100); do sleep 0.1; done
exit 0
]], true)
    write(fs.join(d, "job.sh"), scripts.slurm_script(fs.join(d, "t.lua"),
      { clara = "/opt/clara/clara", ntasks_per_node = 2, args = { "x" } }))
    local p = io.popen(("cd %s && PATH=%s:$PATH SLURM_JOB_ID=4250 SLURM_CPUS_PER_TASK=1 "
      .. "SLURM_JOB_NODELIST=n1 bash job.sh >out.txt 2>&1 & echo $!"):format(q(d), q(fs.join(d, "bin"))))
    local pid = p:read("l"); p:close()
    assert.is_true(wait_file(fs.join(d, "ready")), fs.read(fs.join(d, "out.txt")))
    os.execute("kill -USR1 " .. pid)
    assert.is_true(wait_file(fs.join(d, "scontrol")), fs.read(fs.join(d, "out.txt")))
    os.execute("sleep 0.2")
    local calls = fs.read(fs.join(d, "scontrol"))
    assert.matches("requeue 4250\n$", calls)
    local out = fs.read(fs.join(d, "out.txt"))
    assert.matches("srun --cpus-per-task=1 /opt/clara/clara " .. d .. "/t.lua x", out, 1, true)
    assert.matches("srun got USR1", out, 1, true)
    assert.matches("job 4250 interrupted, checkpoint written: requeueing 4250", out, 1, true)
  end)
end)

describe("clara script slurm --script", function()
  it("writes a job for a clara script and its arguments", function()
    local d = tmpdir()
    write(fs.join(d, "t.lua"), "print(1)")
    local out, rc = sh(("cd %s && %s script slurm --script t.lua --nodes 2 --ntasks-per-node 3 --out job.sh -- --lr 0.1")
      :format(q(d), CLARA))
    assert.are.equal(0, rc, out)
    assert.matches("clara script: wrote job.sh (slurm, one job)", out, 1, true)
    local text = fs.read(fs.join(d, "job.sh"))
    has(text, "\n#SBATCH --nodes=2\n#SBATCH --ntasks-per-node=3\n")
    has(text, [["$CLARA" "$SCRIPT" "--lr" "0.1" &]])
    assert.is_true(fs.isdir(fs.join(d, "logs")))
    -- a clara command and its arguments, relative to the job's directory
    out, rc = sh(("cd %s && %s script slurm --script run exp.lua --ntasks-per-node 2 --out run.sh -- --set lr=0.1")
      :format(q(d), CLARA))
    assert.are.equal(0, rc, out)
    text = fs.read(fs.join(d, "run.sh"))
    has(text, '\nSCRIPT="run"\n')
    has(text, SRUN .. [["$CLARA" "$SCRIPT" "exp.lua" "--set" "lr=0.1" "${resume[@]}" &]])
    has(text, '\nif [ "${SLURM_RESTART_COUNT:-0}" -gt 0 ]; then resume=(--resume); fi\n')
    has(text, "\n#SBATCH --job-name=exp\n")
    has(text, "\n# `clara run` with its arguments\n")
    has(text, '\n#SBATCH --output="' .. d .. '/logs/%x-%j.out"\n')
    check(text, d)
  end)

  it("a requeued `clara run` continues its run, or begins it when killed before the first checkpoint", function()
    local d = tmpdir()
    write(fs.join(d, "e.lua"), [[
return clara.experiment{ name = "e", data = clara.data.TensorDataset(torch.randn(32, 3), torch.randint(0, 2, {32})),
  model = function() return nn.Linear(3, 2) end, objective = clara.losses.cross_entropy,
  optimizer = function(m) return optim.SGD(m, {lr = 0.1}) end, epochs = 1, verbose = false }]])
    local run = ("cd %s && SLURM_RESTART_COUNT=1 %s run e.lua --resume"):format(q(d), CLARA)
    local out, rc = sh(run .. " 2>&1")
    assert.are.equal(0, rc, out)
    assert.matches("requeued before its first checkpoint: a new run", out, 1, true)
    out, rc = sh(run .. " --set epochs=2 2>&1")
    assert.are.equal(0, rc, out)
    local runs = {}
    for e in require("lfs").dir(fs.join(d, "runs", "e")) do if e:sub(1, 1) ~= "." then runs[#runs + 1] = e end end
    assert.are.equal(1, #runs)
    local history = fs.read(fs.join(d, "runs", "e", runs[1], "history.csv"))
    assert.are.equal(3, select(2, history:gsub("\n", "")), history) -- a header and the 2 epochs
  end)
end)
