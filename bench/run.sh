#!/usr/bin/env bash
# make bench: every benchmark in twins, run side by side in one run:
#   bench/<name>.lua  by ./clara (and, where it exists, with impl = "fast")
#   bench/<name>.cpp  the same work in libtorch C++ (built into build/bench/)
#   bench/<name>.py   the same work in PyTorch (Debian's python3-torch)
# This script builds the C++ twins (only when stale), then bench/driver.py
# runs the twins alternately, prints the tables and writes bench/RESULTS.md.
# See bench/README.md.
#   bash bench/run.sh                    everything (~4 minutes, C++ twins built)
#   bash bench/run.sh mlp_epoch startup  some benchmarks (RESULTS.md untouched)
#   bash bench/run.sh parallel           data-parallel scaling (bench/parallel.py)
#   BENCH_REPS=1 bash bench/run.sh       one repetition each: a quick check
#   bash bench/run.sh search             TPE + ASHA search vs Optuna (bench/search.py, ~5 minutes)
set -u
cd "$(dirname "$0")/.." || exit 1

CPP=(op_overhead mlp_step batches tiny_step mlp_epoch cnn_epoch cv_mlp transformer_step)
PY=/usr/bin/python3          # Debian's python, which has python3-torch
OUT=build/bench
CXX=${CXX:-g++}
# libtorch's headers and libraries where the Makefile finds them (Debian's
# libtorch-dev, the copy make deps unpacks into build/, or LIBTORCH)
eval "$(make -s --no-print-directory torch-flags)"
read -r -a TORCH_INC <<<"$TORCH_INC"
read -r -a TORCH_LIB <<<"$TORCH_LIB"
TORCH_LIB+=(-ltorch -ltorch_cpu -lc10)

# One thread everywhere.  Each twin calls set_num_threads(1); these also pin
# the thread pools set_num_threads does not reach (OpenBLAS's own pthreads,
# used by matmul), identically for all three.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
# the Python twins import bench/*.py helpers: no __pycache__ in the tree
export PYTHONDONTWRITEBYTECODE=1

if [ ! -x "$PY" ]; then
  echo "bench: $PY missing (apt-get install python3-torch)"; exit 1
fi
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
status=0

# benchmarks without C++ twins: asked alone, they build none
NO_CPP=" parallel startup load_idx load_csv cnn_epoch_bf16 cnn_epoch_aug augment_crop28 augment_rrc224 image_folder image_folder_w2 "
only_no_cpp() {
  local a skip=0
  [ $# -gt 0 ] || return 1
  for a in "$@"; do
    if [ $skip = 1 ]; then skip=0; continue; fi
    if [ "$a" = --results ]; then skip=1; continue; fi
    [[ $NO_CPP == *" $a "* ]] || return 1
  done
}
only_no_cpp "$@" && CPP=()

# the search benchmark is not a timing twin: bench/search.py runs both sides
if [ "${1:-}" = search ]; then
  shift
  exec "$PY" bench/search.py "$@"
fi

# 1. the C++ twins, when stale (each takes ~20 s: torch/torch.h), two at a time
mkdir -p "$OUT"
pids=()
build() {
  "$CXX" -O2 -std=c++17 "${TORCH_INC[@]}" -o "$OUT/$1" "bench/$1.cpp" "${TORCH_LIB[@]}" -lz >"$log/build-$1" 2>&1
}
# stale: no binary, or its .cpp or one of the shared headers is newer
stale() {
  local h
  [ -x "$OUT/$1" ] && [ ! "bench/$1.cpp" -nt "$OUT/$1" ] || return 0
  for h in bench/*.h; do [ "$h" -nt "$OUT/$1" ] && return 0; done
  return 1
}
for b in "${CPP[@]}"; do
  if stale "$b"; then
    echo "bench: building $OUT/$b"
    build "$b" &
    pids+=("$!:$b")
    if [ "${#pids[@]}" -ge 2 ]; then
      p=${pids[0]}; pids=("${pids[@]:1}")
      wait "${p%%:*}" || { echo "bench: building ${p#*:} failed:"; tail -20 "$log/build-${p#*:}"; rm -f "$OUT/${p#*:}"; status=1; }
    fi
  fi
done
for p in "${pids[@]}"; do
  wait "${p%%:*}" || { echo "bench: building ${p#*:} failed:"; tail -20 "$log/build-${p#*:}"; rm -f "$OUT/${p#*:}"; status=1; }
done

# 2. the twins, alternately; tables; bench/RESULTS.md
"$PY" bench/driver.py "$@" || status=1
# everything: the search benchmark's table is appended to bench/RESULTS.md
if [ $# -eq 0 ]; then "$PY" bench/search.py --results bench/RESULTS.md || status=1; fi
exit $status
