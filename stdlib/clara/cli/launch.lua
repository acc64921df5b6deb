-- `clara launch [--nproc N] [--nnodes M --node-rank K --master-addr HOST
--  --master-port P] [--log-dir DIR] [--threads T] [--grace S] script.lua [args...]`
--
-- torchrun for clara: starts N ranks of `clara script.lua args...` on this
-- node with the environment torch.distributed reads, shows their output
-- (prefixed line by line, or one file per rank), passes the signals a
-- scheduler sends on to every rank, and stops them all when one fails.
-- The options end at the script: what follows is the script's own command
-- line.  The script may also be a clara command (`clara launch --nproc 2
-- run exp.lua --set lr=0.1`).
--
-- The ranks, clara.launch.ranks, watch them until the last one ends.
local ranks = require "clara.launch.ranks"

local cmd = require("clara.cli.args").command("launch")

-- a file to run, or a clara command (a bare word: `run`, `battery`)
local function check_script(script)
  local f = io.open(script, "r")
  if f then f:close(); return end
  if require("clara.cli.commands").find(script) then return end
  cmd:die("cannot open " .. script .. " (a script file, or a clara command such as 'run')")
end

-- 1. the command line
local function parse(args)
  local o, rest = cmd:parse(args)
  if #rest == 0 then cmd:die("no script given") end
  check_script(rest[1])
  o.nproc, o.nnodes, o.node_rank, o.grace = o.nproc or 1, o.nnodes or 1, o.node_rank or 0, o.grace or 10
  if o.node_rank >= o.nnodes then
    cmd:die(("--node-rank %d is not below --nnodes %d (node ranks count from 0)"):format(o.node_rank, o.nnodes))
  end
  if o.nnodes > 1 and not (o.master_addr and o.master_port) then
    cmd:die(("--nnodes %d needs --master-addr and --master-port: every node must name rank 0's"):format(o.nnodes))
  end
  o.argv = rest
  return o
end

-- 2. what every rank's environment shares.  The free port is the kernel's
-- choice for a bind to port 0, released at once: another program could
-- take it before rank 0 binds it, but the kernel hands out ephemeral ports
-- in turn, so one it just gave is not soon given again; a collision shows
-- as rank 0's clear bind error, and --master-port avoids it altogether.
local function environment(o)
  local proc = require "clara.process.core"
  local env = {
    MASTER_ADDR = o.master_addr or "127.0.0.1",
    MASTER_PORT = tostring(o.master_port or proc.free_port()),
    WORLD_SIZE = tostring(o.nproc * o.nnodes),
    LOCAL_WORLD_SIZE = tostring(o.nproc),
    GROUP_RANK = tostring(o.node_rank),
    GROUP_WORLD_SIZE = tostring(o.nnodes),
  }
  local threads = o.threads or (not os.getenv("OMP_NUM_THREADS") and math.max(1, proc.cpu_count() // o.nproc))
  if threads then env.OMP_NUM_THREADS, env.MKL_NUM_THREADS = tostring(threads), tostring(threads) end
  -- a rank's print() reaches the launcher as it happens, not at its exit
  if not (os.getenv("CLARA_INIT") or os.getenv("LUA_INIT_5_4") or os.getenv("LUA_INIT")) then
    env.CLARA_INIT = 'io.stdout:setvbuf("line")'
  end
  return env
end

local function main(...)
  -- from the start: a signal while the ranks start is passed on too
  local signal = require "clara.signal"
  signal.install(ranks.FORWARDED)
  local o = parse({ ... })
  return ranks.launch {
    argv = o.argv, nproc = o.nproc, first_rank = o.node_rank * o.nproc, env = environment(o),
    log_dir = o.log_dir, grace = o.grace,
  }
end

cmd:main(main, ...)
