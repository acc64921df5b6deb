#!/usr/bin/env bash
# make bench: every benchmark in three twins, run side by side in one run:
#   bench/<name>.lua  by ./clara
#   bench/<name>.cpp  the same work in libtorch C++ (built into build/bench/)
#   bench/<name>.py   the same work in PyTorch (Debian's python3-torch)
# Each twin prints "RESULT <name> <seconds per iteration>" (best of 5 timed
# repetitions after a warm-up, wall clock), "CPU <name> <seconds>" (process
# CPU time, a cross-check) and "CHECK <name> <value>" (a result that must be
# the same in all three, proving they did the same work).
# BENCH_SCALE=0.1 bash bench/run.sh   scales the iteration counts.
set -u
cd "$(dirname "$0")/.." || exit 1

BENCHES=(op_overhead mlp_step batches)
PY=/usr/bin/python3          # Debian's python, which has python3-torch
CLARA=./clara
OUT=build/bench
CXX=${CXX:-g++}
TORCH_INC=(-isystem /usr/include/torch/csrc/api/include)
TORCH_LIB=(-ltorch -ltorch_cpu -lc10)
if [ -n "${LIBTORCH:-}" ]; then
  TORCH_INC=(-isystem "$LIBTORCH/include" -isystem "$LIBTORCH/include/torch/csrc/api/include")
  TORCH_LIB=(-L"$LIBTORCH/lib" "-Wl,-rpath,$LIBTORCH/lib" "${TORCH_LIB[@]}")
fi

# One thread everywhere.  Each twin calls set_num_threads(1); these also pin
# the thread pools set_num_threads does not reach (OpenBLAS's own pthreads,
# used by matmul), identically for all three.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
status=0

# 1. the C++ twins, only when stale (each takes ~20 s: torch/torch.h)
mkdir -p "$OUT"
pids=()
for b in "${BENCHES[@]}"; do
  if [ ! -x "$OUT/$b" ] || [ "bench/$b.cpp" -nt "$OUT/$b" ]; then
    echo "bench: building $OUT/$b"
    "$CXX" -O2 -std=c++17 "${TORCH_INC[@]}" -o "$OUT/$b" "bench/$b.cpp" \
      "${TORCH_LIB[@]}" >"$log/build-$b" 2>&1 &
    pids+=("$!:$b")
  fi
done
for p in "${pids[@]}"; do
  if ! wait "${p%%:*}"; then
    echo "bench: building ${p#*:} failed:"; tail -20 "$log/build-${p#*:}"
    rm -f "$OUT/${p#*:}"; status=1
  fi
done

# The C++ twins run with the malloc clara links (tcmalloc, say): with the
# allocator held equal, clara/C++ measures the binding alone (tcmalloc makes
# plain libtorch ~15% faster on mlp_step).  PyTorch runs as users get it.
alloc=$(ldd "$CLARA" 2>/dev/null | awk '/(tcmalloc|jemalloc|mimalloc)/ { print $3; exit }')
cpp_env=(env)
[ -n "$alloc" ] && cpp_env=(env LD_PRELOAD="$alloc")

# 2. run the twins, one at a time (never two at once on a small machine)
# run_twin <tag> <bench> <command...>: stores RESULT/CPU/CHECK in $log/<tag>-<bench>
run_twin() {
  local tag=$1 b=$2; shift 2
  if timeout 300 "$@" >"$log/$tag-$b.out" 2>"$log/$tag-$b.err"; then
    grep -E "^(RESULT|CPU|CHECK) $b " "$log/$tag-$b.out" >"$log/$tag-$b"
  else
    echo "bench: $tag twin of $b failed ($*):"
    tail -8 "$log/$tag-$b.err" "$log/$tag-$b.out" | sed 's/^/    /'
    : >"$log/$tag-$b"; status=1
  fi
}
for b in "${BENCHES[@]}"; do
  echo "bench: running $b"
  if [ -x "$CLARA" ]; then run_twin clara "$b" "$CLARA" "bench/$b.lua"
  else echo "bench: $CLARA missing"; : >"$log/clara-$b"; status=1; fi
  if [ -x "$OUT/$b" ]; then run_twin cpp "$b" "${cpp_env[@]}" "$OUT/$b"
  else : >"$log/cpp-$b"; fi
  run_twin py "$b" "$PY" "bench/$b.py"
done

# 2b. loading data (issue 4): clara's C readers vs numpy; no C++ twin
for t in clara py; do
  if [ "$t" = clara ]; then cmd=("$CLARA" bench/load_data.lua); else cmd=("$PY" bench/load_data.py); fi
  echo "bench: running load_data ($t)"
  timeout 600 "${cmd[@]}" >"$log/$t-load_data.out" 2>&1 || { echo "bench: $t load_data failed"; tail -5 "$log/$t-load_data.out"; status=1; }
  for b in load_idx load_csv; do grep -E "^(RESULT|CPU|CHECK) $b " "$log/$t-load_data.out" >"$log/$t-$b"; done
done

# 3. the table, the checks, the targets
get() { awk -v k="$1" '$1 == k { print $3 }' "$log/$2-$3" 2>/dev/null; }
unit() { case $1 in op_overhead) echo "us/op" ;; batches) echo "us/epoch" ;; *) echo "us/step" ;; esac; }
fmt() {  # seconds -> "1.31 us/op" or "n/a"
  if [ -z "$1" ]; then echo "n/a"; else awk -v s="$1" -v u="$2" 'BEGIN { v = s * 1e6; printf(v < 10 ? "%.2f %s" : v < 100 ? "%.1f %s" : "%.0f %s", v, u) }'; fi
}
ratio() { if [ -z "$1" ] || [ -z "$2" ]; then echo "n/a"; else awk -v a="$1" -v b="$2" 'BEGIN { printf("%.2fx", a / b) }'; fi; }

# table <RESULT|CPU>: one line per benchmark
table() {
  local k=$1 b u cl cc py
  printf "%-16s %-14s %-14s %-14s %-10s %s\n" benchmark clara "libtorch C++" PyTorch "clara/C++" "clara/PyTorch"
  for b in "${BENCHES[@]}"; do
    u=$(unit "$b")
    cl=$(get "$k" clara "$b"); cc=$(get "$k" cpp "$b"); py=$(get "$k" py "$b")
    printf "%-16s %-14s %-14s %-14s %-10s %s\n" "$b" "$(fmt "$cl" "$u")" "$(fmt "$cc" "$u")" \
      "$(fmt "$py" "$u")" "$(ratio "$cl" "$cc")" "$(ratio "$cl" "$py")"
  done
}
echo
table RESULT
notes=() busy=0
for b in "${BENCHES[@]}"; do
  # same work? the CHECK values must agree
  ref=$(get CHECK cpp "$b"); [ -n "$ref" ] || ref=$(get CHECK py "$b")
  for t in clara cpp py; do
    v=$(get CHECK "$t" "$b")
    if [ -n "$v" ] && [ -n "$ref" ] && ! awk -v a="$v" -v r="$ref" 'BEGIN { d = a - r; if (d < 0) d = -d; m = r < 0 ? -r : r; exit !(d <= 1e-3 * m + 1e-6) }'; then
      notes+=("WARNING: $b: $t computed $v, expected $ref (not the same work?)")
    fi
    # wall vs CPU time: less CPU than wall means the machine was busy (we
    # were preempted); more means threads we did not account for
    w=$(get RESULT "$t" "$b"); c=$(get CPU "$t" "$b")
    if [ -n "$w" ] && [ -n "$c" ]; then
      if awk -v w="$w" -v c="$c" 'BEGIN { exit !(c < 0.85 * w) }'; then busy=1
      elif awk -v w="$w" -v c="$c" 'BEGIN { exit !(c > 1.15 * w) }'; then
        notes+=("note: $b: $t used $(ratio "$c" "$w") CPU time per wall time (extra threads?)")
      fi
    fi
  done
done
if [ "$busy" = 1 ]; then
  echo
  echo "The machine was busy (some twins got < 85% of a core): wall times are"
  echo "unreliable; the same runs in process CPU time (single-threaded work):"
  table CPU
fi
cl=$(get RESULT clara op_overhead); cc=$(get RESULT cpp op_overhead); py=$(get RESULT py op_overhead)
if [ -n "$cl" ] && [ -n "$cc" ] && [ -n "$py" ]; then
  verdict() { awk -v r="$1" -v t="$2" 'BEGIN { print (r <= t ? "met" : "MISSED") }'; }
  notes+=("target op_overhead clara/C++ <= 1.2x: $(verdict "$(awk -v a="$cl" -v b="$cc" 'BEGIN { print a / b }')" 1.2)"
          "target op_overhead clara/PyTorch <= 0.5x: $(verdict "$(awk -v a="$cl" -v b="$py" 'BEGIN { print a / b }')" 0.5)")
fi
bl=$(get RESULT clara batches); bp=$(get RESULT py batches)
if [ -n "$bl" ] && [ -n "$bp" ]; then
  notes+=("target batches clara/PyTorch DataLoader <= 0.333x: $(awk -v a="$bl" -v b="$bp" 'BEGIN { print (a / b <= 0.333 ? "met" : "MISSED") }')")
fi
echo
printf "%-16s %-14s %-14s %s\n" benchmark clara numpy clara/numpy
for b in load_idx load_csv; do
  cl=$(get RESULT clara "$b"); np=$(get RESULT py "$b")
  printf "%-16s %-14s %-14s %s\n" "$b" "$(fmt "$cl" us)" "$(fmt "$np" us)" "$(ratio "$cl" "$np")"
  if [ -n "$cl" ] && [ -n "$np" ]; then
    notes+=("target $b clara/numpy < 1: $(awk -v a="$cl" -v b="$np" 'BEGIN { print (a < b ? "met" : "MISSED") }')")
  fi
  c1=$(get CHECK clara "$b"); c2=$(get CHECK py "$b")
  [ "$c1" = "$c2" ] || notes+=("WARNING: $b: clara computed $c1, numpy $c2 (not the same work?)")
done
echo
for n in "${notes[@]}"; do echo "$n"; done
[ -n "$alloc" ] && echo "(clara links $(basename "$alloc"); the C++ twins ran with it too, PyTorch with its own malloc)"
echo "(best of 5 repetitions, wall clock, 1 thread; ${BENCH_SCALE:+BENCH_SCALE=$BENCH_SCALE, }$(getconf _NPROCESSORS_ONLN) cores)"
exit $status
