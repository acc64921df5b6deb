#!/usr/bin/env bash
# A real SLURM cluster (tests/slurm/cluster.sh: munged, slurmctld, slurmd of
# this host, private to this test) runs:
#   - `sbatch --wait` of a trivial job, and `srun --ntasks=2` (each task
#     sees SLURM_PROCID 0/1, SLURM_NTASKS=2, SLURM_JOB_NODELIST);
#   - the job array `clara script slurm` writes for a two-entry battery of a
#     tiny experiment: task 1 gets USR1 mid-training (`scancel --signal=USR1
#     --batch`, as `--signal=B:USR1@...` sends it), checkpoints, exits 75,
#     is requeued by the script, resumes and finishes; both entries end with
#     the numbers of the same battery run uninterrupted outside SLURM;
#   - a search battery as an array of two workers (`--workers 2`) sharing
#     the search's state: the trials and values of the serial search;
#   - the multi-task job `clara script slurm --script --ntasks-per-node 2`
#     writes for a plain clara script: srun starts two ranks; SLURM's own
#     USR1 before the time limit (through the batch shell and srun), then
#     a USR1 to the job's steps, reaches both, they exit 75, the job is
#     requeued each time, and the third attempt finishes;
#   - a data-parallel experiment as a 2-task job (tests/slurm/dp.lua):
#     its numbers equal the same run under `clara launch` outside SLURM,
#     uninterrupted and after a USR1, a requeue and a resume.
# Skips with one line where not root or slurm-wlm/munge are missing.
# One "ok N - ..." / "not ok N - ..." line per check.
set -u
cd "$(dirname "$0")/.." || exit 1
clara="${CLARA:-$PWD/clara}"
# shellcheck source=tests/slurm/cluster.sh
. tests/slurm/cluster.sh
if ! why=$(cluster_check); then
  echo "ok 1 # SKIP slurm cluster: $why"
  exit 0
fi

trap 'cluster_stop' EXIT
trap 'exit 143' TERM HUP
trap 'exit 130' INT
# shellcheck source=tests/tap.sh
. tests/tap.sh
started=$SECONDS

# wait_for SECONDS COMMAND...: until COMMAND succeeds
wait_for() {
  local i
  for ((i = 0; i < $1 * 5; i++)); do
    "${@:2}" && return 0
    sleep 0.2
  done
  return 1
}
# job_gone JOB: no task of JOB is pending or running any more (squeue
# answered: the finished job stays known for MinJobAge)
job_gone() {
  local out
  out=$(squeue -h -j "$1" 2>/dev/null) && [ -z "$out" ]
}
# job_field JOB FIELD: FIELD of `scontrol show job` (one task: JOB_I)
job_field() { scontrol show job "$1" 2>/dev/null | grep -oE "\b$2=[^ ]*" | head -1 | cut -d= -f2; }

# 1. the cluster.  The test's files are in its directory (a path with a
#    space in it), so that they go with it even when this test is killed
start_log=$(mktemp)
if ! cluster_start >"$start_log" 2>&1; then
  notok "the cluster starts" "$start_log"
  rm -f "$start_log"
  exit 1
fi
rm -f "$start_log"
tmp=$(mktemp -d "$CLUSTER_DIR/clara test.XXXXXX")
chmod 0755 "$tmp"
ok "the cluster starts (munged, slurmctld, slurmd; node idle after $((SECONDS - started)) s)"

# 2. plain SLURM: sbatch --wait, srun --ntasks=2
# shellcheck disable=SC2016  # expanded by the job
timeout 60 sbatch --wait --quiet -o "$tmp/trivial.out" --wrap 'echo "hello from job $SLURM_JOB_ID"' >"$tmp/last.out" 2>&1
check "sbatch --wait of a trivial job exits 0" [ $? -eq 0 ]
check "the trivial job wrote its output" grep -q "^hello from job [0-9]" "$tmp/trivial.out"
# shellcheck disable=SC2016  # expanded by the tasks
timeout 60 srun --ntasks=2 bash -c 'echo "$SLURM_PROCID $SLURM_NTASKS $SLURM_JOB_NODELIST"' >"$tmp/srun.out" 2>"$tmp/last.out"
sort "$tmp/srun.out" >"$tmp/srun.sorted"
printf '0 2 %s\n1 2 %s\n' "$CLUSTER_NODE" "$CLUSTER_NODE" >"$tmp/srun.expected"
cp "$tmp/srun.out" "$tmp/last.out"
check "srun --ntasks=2: SLURM_PROCID 0 and 1, SLURM_NTASKS=2, SLURM_JOB_NODELIST" cmp -s "$tmp/srun.sorted" "$tmp/srun.expected"

# 3. the battery of tests/slurm/battery.lua: two entries of a tiny
#    experiment (tests/slurm/tiny.lua).  With CLARA_TEST_READY set, the
#    first attempt of array task 1 writes that file at step 12 (of the 20 of
#    its 2 epochs), then waits for a signal.
CLARA_TEST_RUNS="$tmp/reference" "$clara" battery tests/slurm/battery.lua >"$tmp/last.out" 2>&1
check "the reference battery runs uninterrupted outside SLURM" [ $? -eq 0 ]
export CLARA_TEST_RUNS="$tmp/runs"
mapfile -t entries < <("$clara" battery tests/slurm/battery.lua --list 2>/dev/null)
check "the battery lists two entries" [ "${#entries[@]}" -eq 2 ]

"$clara" script slurm tests/slurm/battery.lua --time 00:10:00 --signal-lead 60 --cpus 1 --mem 500M \
  --out "$tmp/array.sh" >"$tmp/last.out" 2>&1
check "clara script slurm writes the array job" [ -x "$tmp/array.sh" ]
job=$(CLARA_TEST_READY="$tmp/ready" sbatch --parsable "$tmp/array.sh" 2>"$tmp/last.out")
check "sbatch takes the array job" [ -n "$job" ]
if wait_for 60 [ -e "$tmp/ready" ]; then
  ok "task 1 reaches step 12 and waits"
  scancel --signal=USR1 --batch "${job}_1" 2>"$tmp/last.out"
  check "scancel --signal=USR1 --batch ${job}_1 is accepted" [ $? -eq 0 ]
else
  notok "task 1 reaches step 12 and waits" "$tmp/runs/tiny/logs/tiny-${job}_1.out"
fi
wait_for 150 job_gone "$job"
check "both tasks end within 150 s" job_gone "$job"
log1="$tmp/runs/tiny/logs/tiny-${job}_1.out"
cp "$log1" "$tmp/last.out" 2>/dev/null
check "task 1 was interrupted and requeued itself" grep -q "entry 1 interrupted, checkpoint written: requeueing ${job}_1" "$log1"
check "task 1 ran a second attempt" grep -q "clara battery entry 1, attempt 2" "$log1"
printf '1 1\n2 13\n' >"$tmp/steps.expected"
cp "$tmp/ready.steps" "$tmp/last.out" 2>/dev/null
check "task 1 resumed at step 13, after the checkpoint of step 12" cmp -s "$tmp/ready.steps" "$tmp/steps.expected"
check "task 1 finished (exit 0) in its second attempt" grep -q "entry 1 exited with 0" "$log1"
check "SLURM counts one restart of task 1" [ "$(job_field "${job}_1" Restarts)" = 1 ]
check "task 1 is COMPLETED" [ "$(job_field "${job}_1" JobState)" = COMPLETED ]
check "task 2 is COMPLETED without a restart" [ "$(job_field "${job}_2" JobState)/$(job_field "${job}_2" Restarts)" = COMPLETED/0 ]

# the reports' numbers (every metric of every epoch, the best and final
# ones, steps, ...), bitwise: a resumed run repeats the same arithmetic
for i in 1 2; do
  e=${entries[i - 1]}
  "$clara" tests/slurm/numbers.lua "$tmp/reference/tiny/$e/report.json" >"$tmp/ref-$i.txt" 2>&1
  "$clara" tests/slurm/numbers.lua "$tmp/runs/tiny/$e/report.json" >"$tmp/got-$i.txt" 2>&1
  same=no
  diff "$tmp/ref-$i.txt" "$tmp/got-$i.txt" >"$tmp/last.out" 2>&1 && [ -s "$tmp/ref-$i.txt" ] && same=yes
  check "entry $i ($e): the report's numbers equal the uninterrupted run's ($(grep -c = "$tmp/ref-$i.txt") numbers)" \
    [ "$same" = yes ]
done

# 3b. a search (tests/slurm/search.lua: ASHA over three learning rates) as
#    the array `clara script slurm --workers 2` writes: two tasks, each a
#    worker pulling the search's next job from its shared state under the
#    lock; the search ends with the trials, jobs and values (bitwise) of the
#    same search run serially outside SLURM
CLARA_TEST_RUNS="$tmp/search-ref" "$clara" battery tests/slurm/search.lua --quiet >"$tmp/last.out" 2>&1
check "the reference search runs outside SLURM" [ $? -eq 0 ]
CLARA_TEST_RUNS="$tmp/search-runs" "$clara" script slurm tests/slurm/search.lua --workers 2 --time 00:10:00 \
  --cpus 1 --mem 500M --out "$tmp/search.sh" >"$tmp/last.out" 2>&1
check "clara script slurm --workers 2 writes the search's array" grep -q "^#SBATCH --array=1-2$" "$tmp/search.sh"
job=$(CLARA_TEST_RUNS="$tmp/search-runs" sbatch --parsable --export=ALL "$tmp/search.sh" 2>"$tmp/last.out")
check "sbatch takes the search's array" [ -n "$job" ]
wait_for 150 job_gone "$job"
check "both workers end within 150 s" job_gone "$job"
check "both workers are COMPLETED" \
  [ "$(job_field "${job}_1" JobState) $(job_field "${job}_2" JobState)" = "COMPLETED COMPLETED" ]
"$clara" tests/slurm/search_table.lua "$tmp/search-ref/tiny_search" >"$tmp/search-ref.txt" 2>&1
"$clara" tests/slurm/search_table.lua "$tmp/search-runs/tiny_search" >"$tmp/search-got.txt" 2>&1
same=no
diff "$tmp/search-ref.txt" "$tmp/search-got.txt" >"$tmp/last.out" 2>&1 && grep -q "^jobs 4, epochs 4$" "$tmp/search-ref.txt" && same=yes
check "the search's trials, jobs and values equal the serial search's" [ "$same" = yes ]

# 4. two ranks of a plain clara script, started by srun from the script
#    `clara script slurm --script` writes.  Each rank says who it is; in
#    its first two attempts it waits for USR1 and exits 75.  The first USR1
#    is SLURM's own warning, 50 s before the 1 min limit (the script's
#    `--signal=B:USR1@50`: to the batch shell, which passes it to srun,
#    which passes it to every rank; slurmctld looks at time limits every
#    30 s, so it comes 10 to 40 s after the start).  The second goes to the
#    job's steps (`scancel --signal=USR1` without --batch): every rank gets
#    it directly, and srun exits 75.
"$clara" script slurm --script tests/slurm/ranks.lua --log-dir "$tmp/logs" --ntasks-per-node 2 --cpus 1 --mem 500M \
  --time 1 --signal-lead 50 --out "$tmp/ranks.sh" -- "$tmp" "two words" >"$tmp/last.out" 2>&1
check "clara script slurm --script --ntasks-per-node 2 writes the job" [ -x "$tmp/ranks.sh" ]
shellcheck "$tmp/ranks.sh" >"$tmp/last.out" 2>&1
check "the multi-task job passes shellcheck" [ $? -eq 0 ]
job=$(sbatch --parsable "$tmp/ranks.sh" 2>"$tmp/last.out")
check "sbatch takes the multi-task job" [ -n "$job" ]
log="$tmp/logs/ranks-$job.out"
for attempt in 1 2; do
  if wait_for 90 [ -e "$tmp/rank-0-$attempt" ] && wait_for 10 [ -e "$tmp/rank-1-$attempt" ]; then
    ok "srun starts both ranks (attempt $attempt)"
  else
    notok "srun starts both ranks (attempt $attempt)" "$log"
  fi
done
scancel --signal=USR1 "$job" 2>"$tmp/last.out"
check "scancel sends USR1 to the job's steps of job $job" [ $? -eq 0 ]
wait_for 90 job_gone "$job"
check "the multi-task job ends within 90 s" job_gone "$job"
cp "$log" "$tmp/last.out" 2>/dev/null
for r in 0 1; do
  check "rank $r saw its SLURM_PROCID, SLURM_NTASKS=2, MASTER_ADDR and the arguments" \
    grep -q "^rank $r of 2, local $r, master $CLUSTER_NODE:[0-9]*, attempt 1, args $tmp|two words$" "$log"
  for attempt in 1 2; do
    check "USR1 reached rank $r in attempt $attempt" grep -q "^rank $r got USR1 in attempt $attempt" "$log"
  done
  check "rank $r ran a third time after two requeues" grep -q "^rank $r of 2, local $r, .*, attempt 3" "$log"
done
check "the job requeued itself on exit 75, twice" \
  [ "$(grep -c "job $job interrupted, checkpoint written: requeueing $job" "$log")" = 2 ]
check "the job finished (exit 0) in its third attempt" grep -q "job $job exited with 0" "$log"
check "SLURM counts two restarts, the job COMPLETED" [ "$(job_field "$job" JobState)/$(job_field "$job" Restarts)" = COMPLETED/2 ]

# 5. a data-parallel experiment (tests/slurm/dp.lua: tiny.lua's with
#    distributed = true) as the 2-task job `clara script slurm --script`
#    writes: srun starts two ranks, which meet by env:// (SLURM_PROCID,
#    SLURM_NTASKS, the job's MASTER_ADDR/PORT).  Rank 0 alone writes the run
#    directory, whose numbers equal those of the same 2-rank run under
#    `clara launch` outside SLURM.  A second job is interrupted: rank 0
#    waits at step 6 of the first attempt; USR1 to the job's steps reaches
#    both ranks, which checkpoint at the same step and exit 75; the job
#    requeues itself, resumes at step 7 and ends with the same numbers.
dp_started=$SECONDS
"$clara" launch --nproc 2 tests/slurm/dp.lua "$tmp/dp-ref" >"$tmp/last.out" 2>&1
check "the reference 2-rank data-parallel run (clara launch, outside SLURM) finishes" [ $? -eq 0 ]
"$clara" tests/slurm/numbers.lua "$tmp"/dp-ref/dp/*/report.json >"$tmp/dp-ref.txt" 2>&1
declare -A dp_job
for mode in plain cut; do
  "$clara" script slurm --script tests/slurm/dp.lua --log-dir "$tmp/logs" --ntasks-per-node 2 --cpus 1 --mem 500M \
    --time 10 --signal-lead 60 --out "$tmp/dp-$mode.sh" -- "$tmp/dp-$mode" >"$tmp/last.out" 2>&1
  check "clara script slurm --script tests/slurm/dp.lua --ntasks-per-node 2 writes the job ($mode)" [ -x "$tmp/dp-$mode.sh" ]
done
dp_job[plain]=$(sbatch --parsable "$tmp/dp-plain.sh" 2>"$tmp/last.out")
dp_job[cut]=$(CLARA_TEST_READY="$tmp/dp-ready" sbatch --parsable "$tmp/dp-cut.sh" 2>>"$tmp/last.out")
taken=no
[ -n "${dp_job[plain]}" ] && [ -n "${dp_job[cut]}" ] && taken=yes
check "sbatch takes both data-parallel jobs" [ "$taken" = yes ]
if wait_for 90 [ -e "$tmp/dp-ready" ]; then
  ok "the second job's rank 0 reaches step 6 and waits"
  scancel --signal=USR1 "${dp_job[cut]}" 2>"$tmp/last.out"
  check "scancel --signal=USR1 ${dp_job[cut]} is accepted" [ $? -eq 0 ]
else
  notok "the second job's rank 0 reaches step 6 and waits" "$tmp/logs/dp-${dp_job[cut]}.out"
fi
wait_for 120 job_gone "${dp_job[cut]}"
wait_for 30 job_gone "${dp_job[plain]}"
for mode in plain cut; do
  job=${dp_job[$mode]} log="$tmp/logs/dp-${dp_job[$mode]}.out"
  attempt=$([ $mode = plain ] && echo 1 || echo 2)
  check "the $mode job ends" job_gone "$job"
  cp "$log" "$tmp/last.out" 2>/dev/null
  for r in 0 1; do
    check "$mode job: rank $r finished its 10 steps in attempt $attempt" \
      grep -q "^rank $r of 2 finished in attempt $attempt, 10 steps" "$log"
  done
  runs=("$tmp/dp-$mode"/dp/*)
  one=no
  [ "${#runs[@]}" -eq 1 ] && [ -f "${runs[0]}/report.json" ] && one=yes
  check "$mode job: one run directory (rank 0's), with its report" [ "$one" = yes ]
  "$clara" tests/slurm/numbers.lua "${runs[0]}/report.json" >"$tmp/dp-$mode.txt" 2>&1
  same=no
  diff "$tmp/dp-ref.txt" "$tmp/dp-$mode.txt" >"$tmp/last.out" 2>&1 && [ -s "$tmp/dp-ref.txt" ] && same=yes
  check "$mode job: the report's numbers equal the clara launch run's ($(grep -c = "$tmp/dp-ref.txt") numbers)" \
    [ "$same" = yes ]
done
log="$tmp/logs/dp-${dp_job[cut]}.out"
cp "$log" "$tmp/last.out" 2>/dev/null
for r in 0 1; do
  check "cut job: USR1 reached rank $r, which checkpointed and exited 75" grep -q "^rank $r interrupted (USR1) in attempt 1" "$log"
done
check "cut job: requeued itself once on exit 75" \
  [ "$(grep -c "job ${dp_job[cut]} interrupted, checkpoint written: requeueing ${dp_job[cut]}" "$log")" = 1 ]
printf '1 1\n2 7\n' >"$tmp/dp-steps.expected"
cp "$tmp/dp-ready.steps" "$tmp/last.out" 2>/dev/null
check "cut job: resumed at step 7, after the checkpoint of step 6" cmp -s "$tmp/dp-ready.steps" "$tmp/dp-steps.expected"
check "SLURM counts no restart of the plain job, one of the cut job, both COMPLETED" \
  [ "$(job_field "${dp_job[plain]}" JobState)/$(job_field "${dp_job[plain]}" Restarts) $(job_field "${dp_job[cut]}" JobState)/$(job_field "${dp_job[cut]}" Restarts)" = "COMPLETED/0 COMPLETED/1" ]

echo "# the data-parallel jobs took $((SECONDS - dp_started)) s"
echo "# slurm tests took $((SECONDS - started)) s"
[ "$failed" -eq 0 ]
