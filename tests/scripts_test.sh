#!/usr/bin/env bash
# `clara script bash|slurm` on a real two-entry battery (a tiny experiment:
# 320 random samples, 2 epochs) in a temporary directory whose path has a
# space in it:
#   - the bash runner, generated with --jobs 2, really runs: both entries
#     finish (report.json, summary) and a second run skips them;
#   - the SLURM script runs outside SLURM as array task 1 (the array
#     variables set, a fake scontrol on PATH recording its arguments); USR1
#     to the batch shell, as `--signal=B:USR1@...` sends it, reaches clara,
#     which checkpoints and exits 75, and the script requeues task 77_1;
#     run again (the requeued task), the entry resumes and finishes.
# One "ok N - ..." / "not ok N - ..." line per check.
set -u
cd "$(dirname "$0")/.." || exit 1
clara="${CLARA:-$PWD/clara}" # CLARA=path tests another build
tmp=$(mktemp -d "${TMPDIR:-/tmp}/clara scripts.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=tests/tap.sh
. tests/tap.sh

# wait_file PATH: until it exists (at most 60 s)
wait_file() {
  local i
  for ((i = 0; i < 1200; i++)); do
    [ -e "$1" ] && return 0
    sleep 0.05
  done
  return 1
}

if ! "$clara" -e 'require "clara.battery"' >/dev/null 2>&1; then
  for what in "bash runner" "SLURM script"; do
    ok "# SKIP battery not yet available ($what)"
  done
  exit 0
fi

# 1. two batteries of two entries each of the SLURM tests' tiny experiment
#    (tests/slurm/tiny.lua).  Its hook lets the SLURM check interrupt a run
#    at a known point: with CLARA_TEST_READY set, array task 1 writes that
#    file at step 12 of 20, then waits for a signal.
battery() { # battery NAME: a battery file over tiny.lua, its runs under $tmp/runs
  cat >"$tmp/$1.lua" <<EOF
local clara = require "clara"
return clara.battery{
  name = "$1",
  base = dofile([[$PWD/tests/slurm/tiny.lua]]),
  grid = { lr = { 0.1, 0.05 } },
  out_dir = [[$tmp/runs]],
}
EOF
}
battery grid
battery slurmgrid

entries() { "$clara" battery "$tmp/$1.lua" --list 2>/dev/null; }
# done_in_summary NAME ENTRY: the battery's summary lists ENTRY as done
cat >"$tmp/done_in_summary.lua" <<'EOF'
local f = io.open(arg[1])
local rows = f and require("cjson").decode(f:read("a")).entries or {}
for _, r in ipairs(rows) do if r.name == arg[2] and r.status == "done" then os.exit(0) end end
os.exit(1)
EOF
done_in_summary() { "$clara" "$tmp/done_in_summary.lua" "$tmp/runs/$1/summary.json" "$2"; }

# 2. the bash runner, two entries at a time
mapfile -t grid < <(entries grid)
check "the battery lists two entries" [ "${#grid[@]}" -eq 2 ]
"$clara" script bash "$tmp/grid.lua" --jobs 2 --out "$tmp/run.sh" >"$tmp/last.out" 2>&1
check "clara script bash writes an executable runner" [ -x "$tmp/run.sh" ]
check "the runner passes bash -n" bash -n "$tmp/run.sh"
shellcheck "$tmp/run.sh" >"$tmp/last.out" 2>&1
check "the runner passes shellcheck" [ $? -eq 0 ]
"$tmp/run.sh" >"$tmp/last.out" 2>&1
check "the runner exits 0" [ $? -eq 0 ]
check "the runner ran two at a time" grep -q "2 entries, 2 at a time" "$tmp/last.out"
summary_rewritten() { [ -f "$tmp/runs/grid/logs/summary.log" ] && ! grep -q "could not rewrite" "$tmp/last.out"; }
check "the runner rewrote the battery's summary at the end" summary_rewritten
check "the runner's summary line counts both done" grep -q "battery grid: 2 done, 0 failed, 0 interrupted, 0 not started" "$tmp/last.out"
for i in 1 2; do
  e=${grid[i - 1]}
  check "entry $e has its report.json" [ -f "$tmp/runs/grid/$e/report.json" ]
  check "entry $e is done in summary.json" done_in_summary grid "$e"
  check "entry $e has its log" [ -s "$tmp/runs/grid/logs/entry-$i.log" ]
done
sums() { for e in "${grid[@]}"; do sha256sum "$tmp/runs/grid/$e/report.json"; done; }
before=$(sums)
"$tmp/run.sh" >"$tmp/last.out" 2>&1
check "a second run exits 0" [ $? -eq 0 ]
check "a second run skips both entries (reports untouched)" [ "$before" = "$(sums)" ]

# 3. the SLURM script, as array task 1, interrupted by USR1, then requeued
mapfile -t sgrid < <(entries slurmgrid)
"$clara" script slurm "$tmp/slurmgrid.lua" --time 00:10:00 --signal-lead 60 --cpus 1 --out "$tmp/job.sh" >"$tmp/last.out" 2>&1
check "clara script slurm writes the job script" [ -x "$tmp/job.sh" ]
check "the job script passes bash -n" bash -n "$tmp/job.sh"
shellcheck "$tmp/job.sh" >"$tmp/last.out" 2>&1
check "the job script passes shellcheck" [ $? -eq 0 ]
check "the log directory exists before sbatch needs it" [ -d "$tmp/runs/slurmgrid/logs" ]
mkdir -p "$tmp/bin"
cat >"$tmp/bin/scontrol" <<EOF
#!/bin/sh
echo "\$*" >>"$tmp/scontrol.args"
EOF
chmod +x "$tmp/bin/scontrol"
# the job script as SLURM runs array task 1 of job 77 (a simple command:
# $! is the batch shell itself, which USR1 must reach)
PATH="$tmp/bin:$PATH" SLURM_ARRAY_JOB_ID=77 SLURM_JOB_ID=78 SLURM_ARRAY_TASK_ID=1 \
  SLURM_CPUS_PER_TASK=1 CLARA_TEST_READY="$tmp/ready" bash "$tmp/job.sh" >"$tmp/task.out" 2>&1 &
pid=$!
if wait_file "$tmp/ready"; then
  kill -USR1 "$pid"
  wait "$pid"
  rc=$?
else
  kill "$pid"
  rc=timeout
fi
cp "$tmp/task.out" "$tmp/last.out"
check "the interrupted task exits 75" [ "$rc" = 75 ]
check "it asked scontrol to requeue task 77_1" [ "$(cat "$tmp/scontrol.args" 2>/dev/null)" = "requeue 77_1" ]
interrupted() { [ -f "$1/checkpoint.pt" ] && [ ! -f "$1/report.json" ]; }
check "the entry has a checkpoint and no report yet" interrupted "$tmp/runs/slurmgrid/${sgrid[0]}"
PATH="$tmp/bin:$PATH" SLURM_ARRAY_JOB_ID=77 SLURM_JOB_ID=78 SLURM_ARRAY_TASK_ID=1 SLURM_RESTART_COUNT=1 \
  SLURM_CPUS_PER_TASK=1 CLARA_TEST_READY="$tmp/ready" bash "$tmp/job.sh" >"$tmp/last.out" 2>&1
check "the requeued task resumes and finishes (exit 0)" [ $? -eq 0 ]
check "the entry has its report.json" [ -f "$tmp/runs/slurmgrid/${sgrid[0]}/report.json" ]
check "scontrol was not called again" [ "$(grep -c '' "$tmp/scontrol.args" 2>/dev/null)" = 1 ]
check "the other entry was not run by task 1" [ ! -e "$tmp/runs/slurmgrid/${sgrid[1]}/report.json" ]

[ "$failed" -eq 0 ]
