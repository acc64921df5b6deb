-- A rank for spec/cli_launch_spec.lua (not a spec): `clara launch ...
-- spec/helpers/launch_rank.lua MODE DIR`.  Every rank first writes its pid
-- to DIR/pid-<RANK> (so the spec can check that none is left), then:
--   env         prints its environment and torch.get_num_threads()
--   interleave  writes 300 numbered lines to stdout and to stderr, each in
--               three pieces with pauses between them (so ranks overlap)
--   fail        rank 1 exits 3 after 0.5 s; the others run until stopped
--   kill9       rank 1 dies by SIGKILL after 0.5 s; the others run
--   signals     waits for a signal, writes DIR/got-<RANK> with its name and
--               exits 75 (a checkpoint, by the requeue contract)
--   deaf        catches every signal and never exits
--   c10d        runs PyTorch's own env:// init (Gloo) and an all_reduce in
--               /usr/bin/python3 with this environment
--   sleep       sleeps 60 s (a signal's default action ends it)
--   stubborn    rank 1 ignores SIGTERM (the launcher must SIGKILL it), rank
--               0 exits 4 after 0.5 s
local fs = require "clara.fs"
local proc = require "clara.process.core"
local signal = require "clara.signal"

local mode, dir = arg[1], arg[2]
local rank = tonumber(os.getenv("RANK"))
-- the handlers before the pid is out: the spec signals once it sees the pid
if mode == "signals" or mode == "stubborn" or mode == "deaf" then signal.install { "TERM", "INT", "USR1", "HUP" } end
fs.write_atomic(fs.join(dir, "pid-" .. rank), tostring(signal.getpid()))

local function wait_for_signal(seconds)
  for _ = 1, seconds * 100 do
    if signal.pending() then return signal.pending() end
    proc.sleep(0.01)
  end
end

if mode == "env" then
  for _, k in ipairs { "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "GROUP_WORLD_SIZE",
                       "MASTER_ADDR", "MASTER_PORT", "OMP_NUM_THREADS" } do
    print(k .. "=" .. tostring(os.getenv(k)))
  end
  print("threads=" .. torch.get_num_threads())
  print("args=" .. table.concat(arg, ",", 3))
elseif mode == "interleave" then
  for i = 1, 300 do
    for _, f in ipairs { io.stdout, io.stderr } do
      local name = f == io.stdout and "out" or "err"
      f:write(("%s %d of rank %d"):format(name, i, rank)); f:flush()
      f:write((" continues"):rep(3)); f:flush()
      if i % 50 == 0 then proc.sleep(0.01) end
      f:write(" and ends\n"); f:flush()
    end
  end
  io.stdout:write("no newline at the end")
elseif mode == "fail" or mode == "kill9" then
  proc.sleep(0.5)
  if rank == 1 then
    if mode == "fail" then
      io.stderr:write("rank 1 fails\n")
      os.exit(3)
    end
    proc.kill(signal.getpid(), "KILL")
  end
  proc.sleep(60)
elseif mode == "signals" then
  local name = wait_for_signal(60)
  fs.write_atomic(fs.join(dir, "got-" .. rank), tostring(name))
  os.exit(name and 75 or 1)
elseif mode == "c10d" then
  local _, _, code = os.execute([[/usr/bin/python3 -c "
import torch, torch.distributed as d
d.init_process_group('gloo')
t = torch.ones(1) * (d.get_rank() + 1)
d.all_reduce(t)
print('rank', d.get_rank(), 'of', d.get_world_size(), 'sum', t.item(), flush=True)
"]])
  os.exit(code)
elseif mode == "sleep" then
  proc.sleep(60)
elseif mode == "stubborn" or mode == "deaf" then
  if rank == 0 and mode == "stubborn" then proc.sleep(0.5); os.exit(4) end
  while true do proc.sleep(1) end
end
