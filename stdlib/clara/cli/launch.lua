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

local USAGE = [=[
usage: clara launch [--nproc N] [--nnodes M --node-rank K --master-addr HOST --master-port P]
                    [--log-dir DIR] [--threads T] [--grace S] script.lua [args...]]=]

local HELP = [=[

Starts N ranks, each `clara script.lua args...`, torchrun-like.
  --nproc N          ranks on this node (default 1; also --nproc-per-node)
  --nnodes M         nodes in the job (default 1); with M > 1, start one launcher
                     per node, each with its --node-rank and the same --master-addr
                     and --master-port (both required then)
  --node-rank K      this node's place in the job, 0 .. M-1 (default 0)
  --master-addr HOST MASTER_ADDR: where rank 0 listens (default 127.0.0.1)
  --master-port P    MASTER_PORT (default: a port free on this machine now)
  --log-dir DIR      each rank's stdout and stderr in DIR/rank-<k>.out and
                     DIR/rank-<k>.err (appended: a requeued job keeps its earlier
                     output) instead of "[rank k] "-prefixed lines here
  --threads T        OMP_NUM_THREADS and MKL_NUM_THREADS of each rank (default:
                     OMP_NUM_THREADS if set, else max(1, cores / N))
  --grace S          seconds between the TERM and the KILL that stop the other ranks
                     after one failed (default 10)
Each rank has RANK (node_rank * N + local rank), WORLD_SIZE (N * M), LOCAL_RANK,
LOCAL_WORLD_SIZE (N), GROUP_RANK (the node rank), GROUP_WORLD_SIZE (M),
MASTER_ADDR and MASTER_PORT; its stdout is line-buffered (CLARA_INIT, unless
CLARA_INIT or LUA_INIT is set).  SIGTERM, SIGINT, SIGUSR1 and SIGHUP are passed
on to every rank, and the launcher waits for them (a second Ctrl-C: SIGKILL
after --grace seconds); if the launcher dies, each rank gets SIGTERM.  A rank
that ends with a non-zero code (or by a signal) makes the launcher stop the
others (SIGTERM, SIGKILL after --grace seconds) and exit with that rank's code
(128 + the signal's number if one killed it); 75 (a checkpoint was written,
requeue) passes through.  All ranks exit 0: exit 0.

example:
  clara launch --nproc 2 train.lua --epochs 3
  clara launch --nproc 2 --log-dir logs run exp.lua --set lr=0.1]=]

local cmd = require("clara.cli.args").command("launch", USAGE)
cmd.passthrough = true
function cmd.help() return USAGE .. "\n" .. HELP end

local function node_rank(v, self)
  local n = math.tointeger(tonumber(v))
  if not n or n < 0 then self:die(("--node-rank expects an integer >= 0, got '%s'"):format(v)) end
  return n
end

local function port(v, self)
  local n = math.tointeger(tonumber(v))
  if not n or n < 1 or n > 65535 then self:die(("--master-port expects a port (1 .. 65535), got '%s'"):format(v)) end
  return n
end

local function seconds(v, self)
  local n = tonumber(v)
  if not n or n < 0 or n ~= n or n == math.huge then
    self:die(("--grace expects a number of seconds >= 0, got '%s'"):format(v))
  end
  return n
end

-- a file to run, or a clara command (a bare word: `run`, `battery`)
local function check_script(script)
  local f = io.open(script, "r")
  if f then f:close(); return end
  if script:match("^%l+$") and package.searchpath("clara.cli." .. script, package.path) then return end
  cmd:die("cannot open " .. script .. " (a script file, or a clara command such as 'run')")
end

-- 1. the command line
local function parse(args)
  local o, rest = cmd:parse(args, { nproc = "count", nnodes = "count", ["node-rank"] = node_rank,
    ["master-addr"] = "string", ["master-port"] = port, ["log-dir"] = "string", threads = "count",
    grace = seconds }, { ["--nproc-per-node"] = "nproc" })
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
