#!/usr/bin/env bash
# The libFuzzer targets of the data parsers and image decoders
# (tests/fuzz/fuzz_*.c), of the
# pickle reader, of the TorchScript archive check and of its source scanner
# (tests/fuzz/*.cc), built with ASan + UBSan and run for a bounded time each
# from the committed seed corpus (tests/fuzz/corpus/<name>/; what they
# discover goes to build/fuzz/).
# One "ok"/"not ok" line per target.  FUZZ_TIME=seconds (default 15);
# FUZZ_TARGETS="pickle archive" runs only those.
# `make fuzz` runs this with FUZZ_TIME=20.
set -u
cd "$(dirname "$0")/.." || exit 1
TIME=${FUZZ_TIME:-15}
OUT=build/fuzz
CC_FUZZ=${CC_FUZZ:-clang}
mkdir -p "$OUT"
if ! command -v "$CC_FUZZ" >/dev/null; then
  echo "not ok - fuzz: $CC_FUZZ not found (Debian packages clang libclang-rt-14-dev)"
  exit 1
fi
declare -A SRC=(
  [idx]="bindings/parse_idx.c"
  [csv]="bindings/parse_csv.c"
  [npy]="bindings/parse_npy.c bindings/parse_zip.c"
  # the image decoders: clara's C over Debian's (uninstrumented) libraries
  [png]="bindings/image.c bindings/parse_png.c bindings/parse_jpeg.c -lspng -lturbojpeg"
  [jpeg]="bindings/image.c bindings/parse_png.c bindings/parse_jpeg.c -lspng -lturbojpeg"
)
# the pickle reader and the TorchScript archive check are C++ on libtorch's
# headers (libtorch itself is linked uninstrumented)
CXX_FUZZ=${CXX_FUZZ:-clang++}
CXX_SRC="bindings/bridge/unpickle.cpp bindings/bridge/archive.cpp bindings/bridge/source.cpp"
# libtorch's headers and libraries where the Makefile finds them (Debian's
# libtorch-dev, the copy make deps unpacks into build/, or LIBTORCH)
eval "$(make -s --no-print-directory torch-flags)"
read -r -a torch_inc <<<"$TORCH_INC"
read -r -a torch_lib <<<"$TORCH_LIB"
build_cxx() { # target: objects of the C parsers and the C++ reader, linked
  local t=$1 o=$OUT/obj_$1 f
  mkdir -p "$o"
  for f in bindings/parse_zip.c bindings/parse_util.c; do
    "$CC_FUZZ" -g -O1 -std=c11 -D_GNU_SOURCE -Ibindings -fsanitize=fuzzer-no-link,address,undefined \
      -c "$f" -o "$o/$(basename "$f" .c).o" || return 1
  done
  for f in $CXX_SRC; do
    "$CXX_FUZZ" -g -O1 -std=c++17 -Ibindings "${torch_inc[@]}" \
      -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize=vptr \
      -c "$f" -o "$o/$(basename "$f" .cpp).o" || return 1
  done
  "$CXX_FUZZ" -g -O1 -std=c++17 -Ibindings "${torch_inc[@]}" \
    -fsanitize=fuzzer,address,undefined -fno-sanitize=vptr -o "$OUT/fuzz_$t" \
    "tests/fuzz/fuzz_$t.cc" "$o"/*.o "${torch_lib[@]}" -ltorch_cpu -lc10 -lz
}
status=0
for t in ${FUZZ_TARGETS:-idx csv npy png jpeg pickle archive source}; do
  bin=$OUT/fuzz_$t
  if [ -f "tests/fuzz/fuzz_$t.cc" ]; then
    built() { build_cxx "$t"; }
  else
    # shellcheck disable=SC2086
    built() { "$CC_FUZZ" -g -O1 -std=c11 -D_GNU_SOURCE -Ibindings \
      -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
      -o "$bin" "tests/fuzz/fuzz_$t.c" ${SRC[$t]} bindings/parse_util.c -lz; }
  fi
  if ! built >"$OUT/build_$t.log" 2>&1; then
    echo "not ok - fuzz $t: build failed"; sed 's/^/    /' "$OUT/build_$t.log" | tail -20
    status=1; continue
  fi
  mkdir -p "$OUT/corpus_$t"
  dict=()
  [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
  if "$bin" "${dict[@]}" -max_total_time="$TIME" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$OUT/crash_${t}_" -print_final_stats=1 \
      "$OUT/corpus_$t" "tests/fuzz/corpus/$t" >"$OUT/run_$t.log" 2>&1; then
    runs=$(grep -a 'stat::number_of_executed_units' "$OUT/run_$t.log" | tail -1 | awk '{ print $2 }')
    echo "ok - fuzz $t: ${runs:-?} inputs in ${TIME}s, no crash"
  else
    echo "not ok - fuzz $t: see $OUT/run_$t.log"
    grep -a -E 'ERROR|SUMMARY|runtime error|Test unit written' "$OUT/run_$t.log" | head -10 | sed 's/^/    /'
    status=1
  fi
done
exit $status
