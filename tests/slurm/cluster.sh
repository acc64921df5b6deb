#!/usr/bin/env bash
# A private one-node SLURM cluster for the tests: munged, slurmctld and
# slurmd of Debian's slurm-wlm/munge, run as root from a temporary
# directory, on free loopback ports, for THIS host (its name, CPUs and
# memory as `slurmd -C` reports them).  Nothing under /etc/slurm or
# /etc/munge is read or written: every path (key, sockets, state, spool,
# logs, plugstack) is in the directory, and every SLURM command finds the
# cluster through SLURM_CONF.
#
#   tests/slurm/cluster.sh run CMD [ARGS]   start, run CMD with SLURM_CONF
#                                            and CLUSTER_DIR set, stop; exits
#                                            with CMD's status
#   tests/slurm/cluster.sh start            start; prints the directory
#   tests/slurm/cluster.sh stop DIR         stop that cluster, remove DIR
#   tests/slurm/cluster.sh check            why a cluster cannot run here
#                                            (one line, exit 1), or exit 0
#
# Sourced, it defines cluster_check, cluster_start (sets CLUSTER_DIR and
# exports SLURM_CONF) and cluster_stop.
#
# Stopping kills the PIDs this script started (recorded in DIR/pids) and the
# processes SLURM started for them: slurmstepd and job processes detach
# from slurmd, so they are found by the cluster's own SLURM_CONF path in
# their environment (a path no other process on the machine holds), never
# by name.  A watchdog started with the daemons stops the cluster when the
# process that started it dies, even by SIGKILL.

CLUSTER_SCRIPT=$(readlink -f "${BASH_SOURCE[0]}")

# cluster_check: 0 when a cluster can run here, else one line saying why
cluster_check() {
  if [ "$(id -u)" != 0 ]; then
    echo "not root (slurmd and munged run as root)"
    return 1
  fi
  local p
  for p in munged mungekey slurmctld slurmd sinfo sbatch srun scontrol; do
    if ! command -v "$p" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$p" ]; then
      echo "$p missing (apt-get install slurm-wlm munge)"
      return 1
    fi
  done
  return 0
}

# a TCP port nothing listens on (from a random start, so that two clusters
# started at once rarely pick the same)
_free_port() {
  local p=$((20000 + RANDOM % 30000)) i
  for ((i = 0; i < 200; i++, p++)); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && ! grep -q ":$p\$" "$CLUSTER_DIR/ports" 2>/dev/null; then
      echo ":$p" >>"$CLUSTER_DIR/ports"
      echo "$p"
      return 0
    fi
  done
  return 1
}

# _spawn NAME CMD...: CMD in the background (a foreground daemon), its PID
# recorded, its output in log/NAME.out
_spawn() {
  local name=$1
  shift
  "$@" </dev/null >"$CLUSTER_DIR/log/$name.out" 2>&1 &
  echo "$! $name" >>"$CLUSTER_DIR/pids"
}

# _until SECONDS CMD...: poll CMD every 0.2 s until it succeeds
_until() {
  local tries=$(($1 * 5))
  shift
  while ! "$@" >/dev/null 2>&1; do
    tries=$((tries - 1))
    [ "$tries" -gt 0 ] || return 1
    sleep 0.2
  done
}

_node_idle() { [ "$(sinfo -h -N -o '%t' 2>/dev/null)" = idle ]; }

_write_conf() {
  local d=$CLUSTER_DIR node ctld_port slurmd_port
  # "NodeName=vm CPUs=2 Boards=1 ... RealMemory=24105" (first line)
  node=$(/usr/sbin/slurmd -C | head -1)
  CLUSTER_NODE=$(sed -E 's/^NodeName=([^ ]+).*/\1/' <<<"$node")
  ctld_port=$(_free_port) && slurmd_port=$(_free_port) || return 1
  : >"$d/plugstack.conf"
  cat >"$d/slurm.conf" <<EOF
# written by tests/slurm/cluster.sh for this host; removed on stop
ClusterName=clara-test
SlurmctldHost=$CLUSTER_NODE(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# cred_expire: a requeued job waits that long before it can start again
AuthInfo=socket=$d/run/munge.socket,cred_expire=10
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool/%n
SlurmctldPidFile=$d/run/slurmctld.pid
SlurmdPidFile=$d/run/slurmd-%n.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd-%n.log
PlugStackConfig=$d/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
MpiDefault=none
LaunchParameters=use_interactive_step
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/builtin
# a test cluster: react fast (requeue, node registration, job ends)
SchedulerParameters=sched_interval=1
JobRequeue=1
ReturnToService=2
KillWait=2
MessageTimeout=5
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=600
SlurmctldDebug=info
SlurmdDebug=info
$node State=UNKNOWN NodeAddr=127.0.0.1
PartitionName=test Nodes=$CLUSTER_NODE Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
}

_start_munge() {
  local d=$CLUSTER_DIR
  mkdir -p "$d/munge" && chmod 0700 "$d/munge"
  mungekey --create --keyfile="$d/munge/munge.key" >/dev/null 2>&1 ||
    dd if=/dev/urandom of="$d/munge/munge.key" bs=1024 count=1 2>/dev/null
  chmod 0400 "$d/munge/munge.key"
  # munged checks the modes: the key's directory private, the socket's
  # (run/) open to every user
  _spawn munged /usr/sbin/munged --foreground --socket="$d/run/munge.socket" \
    --key-file="$d/munge/munge.key" --pid-file="$d/run/munged.pid" \
    --log-file="$d/log/munged.log" --seed-file="$d/munge/munged.seed"
  _until 10 munge --socket="$d/run/munge.socket" -n
}

# the watchdog: stops the cluster once the process that started it is gone
_watch() {
  local owner=$1
  (
    trap '' INT HUP
    exec </dev/null >/dev/null 2>&1
    while kill -0 "$owner" 2>/dev/null && [ -f "$CLUSTER_DIR/pids" ]; do sleep 1; done
    [ -f "$CLUSTER_DIR/pids" ] && "$CLUSTER_SCRIPT" stop "$CLUSTER_DIR"
  ) &
  echo "$! watchdog" >>"$CLUSTER_DIR/watchdog"
}

# cluster_start [OWNER_PID]: start; CLUSTER_DIR and SLURM_CONF set.  The
# cluster stops when OWNER_PID (default: this shell) dies.
cluster_start() {
  local owner=${1:-$$} why
  if ! why=$(cluster_check); then
    echo "cluster: $why" >&2
    return 1
  fi
  CLUSTER_DIR=$(mktemp -d "${TMPDIR:-/tmp}/clara-slurm.XXXXXX") || return 1
  chmod 0755 "$CLUSTER_DIR"
  mkdir -p "$CLUSTER_DIR"/{state,spool,run,log}
  chmod 0755 "$CLUSTER_DIR/run"
  : >"$CLUSTER_DIR/pids"
  export SLURM_CONF=$CLUSTER_DIR/slurm.conf
  _watch "$owner"
  if ! _write_conf || ! _start_munge; then
    echo "cluster: munged did not start (see below)" >&2
    tail -5 "$CLUSTER_DIR/log/munged"* >&2
    cluster_stop
    return 1
  fi
  _spawn slurmctld /usr/sbin/slurmctld -D -i -f "$SLURM_CONF"
  _spawn slurmd /usr/sbin/slurmd -D -f "$SLURM_CONF"
  if ! _until 60 _node_idle; then
    echo "cluster: the node did not become idle within 60 s:" >&2
    sinfo -N >&2 2>&1
    tail -5 "$CLUSTER_DIR"/log/slurm*.log "$CLUSTER_DIR"/log/*.out >&2
    cluster_stop
    return 1
  fi
}

# the PIDs whose environment holds this cluster's SLURM_CONF (the daemons'
# children: slurmstepd, job shells, srun tasks), this shell excepted
_cluster_processes() {
  local marker="SLURM_CONF=$1/slurm.conf" f pid
  for f in /proc/[0-9]*/environ; do
    pid=${f#/proc/}
    pid=${pid%/environ}
    [ "$pid" = "$$" ] || [ "$pid" = "$BASHPID" ] && continue
    if tr "\\0" "\\n" 2>/dev/null <"$f" | grep -qxF "$marker"; then echo "$pid"; fi
  done
}

# cluster_stop [DIR]: jobs cancelled, every process of the cluster killed,
# DIR removed
cluster_stop() {
  local d=${1:-${CLUSTER_DIR:-}} pid name i left
  [ -n "$d" ] && [ -f "$d/pids" ] || return 0
  # 1. the jobs, while slurmctld still runs (their steps end cleanly)
  SLURM_CONF="$d/slurm.conf" timeout 10 scancel --full --quiet --user=root >/dev/null 2>&1
  for ((i = 0; i < 25; i++)); do
    [ -z "$(SLURM_CONF="$d/slurm.conf" timeout 5 squeue -h -t R,CG 2>/dev/null)" ] && break
    sleep 0.2
  done
  # 2. the daemons this script started, then whatever SLURM started
  while read -r pid name; do kill -TERM "$pid" 2>/dev/null; done <"$d/pids"
  for ((i = 0; i < 25; i++)); do
    left=0
    while read -r pid name; do kill -0 "$pid" 2>/dev/null && left=1; done <"$d/pids"
    [ "$left" = 0 ] && break
    sleep 0.2
  done
  while read -r pid name; do kill -KILL "$pid" 2>/dev/null; done <"$d/pids"
  for pid in $(_cluster_processes "$d"); do kill -KILL "$pid" 2>/dev/null; done
  rm -f "$d/pids"
  # 3. the watchdog (unless it is what runs this), and the directory
  if [ -f "$d/watchdog" ]; then
    while read -r pid name; do
      [ "$pid" = "$PPID" ] || [ "$pid" = "$BASHPID" ] || kill "$pid" 2>/dev/null
    done <"$d/watchdog"
  fi
  rm -rf "$d"
  [ "$d" = "${CLUSTER_DIR:-}" ] && unset CLUSTER_DIR SLURM_CONF
  return 0
}

# as a command
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -u
  case "${1:-}" in
  check) cluster_check ;;
  start)
    # the cluster outlives this command: its owner is the caller
    cluster_start "$PPID" || exit 1
    echo "$CLUSTER_DIR"
    ;;
  stop)
    [ -n "${2:-}" ] || { echo "usage: $0 stop DIR" >&2; exit 2; }
    cluster_stop "$2"
    ;;
  run)
    shift
    [ $# -gt 0 ] || { echo "usage: $0 run CMD [ARGS]" >&2; exit 2; }
    cluster_start || exit 1
    # CMD in the background: a trap runs only once the foreground ends
    trap 'kill -TERM "$cmd" 2>/dev/null; cluster_stop; exit 130' INT
    trap 'kill -TERM "$cmd" 2>/dev/null; cluster_stop; exit 143' TERM HUP
    export CLUSTER_DIR
    "$@" &
    cmd=$!
    wait "$cmd"
    rc=$?
    cluster_stop
    exit "$rc"
    ;;
  *)
    sed -n '2,/^$/s/^# \{0,1\}//p' "$0" >&2
    exit 2
    ;;
  esac
fi
