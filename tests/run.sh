#!/usr/bin/env bash
# The whole test suite: Criterion binaries (given as arguments), busted specs
# run inside ./clara, the examples (shortened with CLARA_QUICK=1) and the
# shell tests (tests/*_test.sh, each printing TAP-like "ok"/"not ok" lines).
# Ends with one line "N passed, N failed" and exits non-zero on any failure.
set -u
cd "$(dirname "$0")/.."
passed=0 failed=0
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

count() { passed=$((passed + $1)); failed=$((failed + $2)); }
# what failed, repeated at the end: CI keeps only the tail of a long log
failures=()
failed_in() { [ "$2" = 0 ] || failures+=("$1: $2 failed"); }

# 1. Criterion: "Synthesis: Tested: T | Passing: P | Failing: F | Crashing: C"
for bin in "$@"; do
  echo "== $bin"
  "$bin" --jobs 1 >"$log/c.out" 2>&1; rc=$?
  cat "$log/c.out"
  line=$(grep -a 'Synthesis:' "$log/c.out" | tail -1)
  if [ -n "$line" ]; then
    p=$(sed -E 's/.*Passing: ([0-9]+).*/\1/' <<<"$line")
    f=$(sed -E 's/.*Failing: ([0-9]+).*/\1/' <<<"$line")
    c=$(sed -E 's/.*Crashing: ([0-9]+).*/\1/' <<<"$line")
    count "$p" $((f + c)); failed_in "$bin" $((f + c))
  else
    count 0 1; failed_in "$bin" 1
  fi
  [ "$rc" = 0 ] || [ -n "$line" ] || echo "   $bin exited $rc"
done

# 2. busted specs, one process per file: RSS measurements (memory_spec)
#    need a process that no other spec has used.
#    Summary line: "N successes / N failures / N errors / N pending"
for spec in spec/*_spec.lua; do
  echo "== busted $spec"
  ./clara /usr/bin/busted -o plainTerminal "$spec" >"$log/b.out" 2>&1
  cat "$log/b.out"
  line=$(grep -aoE '[0-9]+ success(es)? / [0-9]+ failures? / [0-9]+ errors?' "$log/b.out" | tail -1)
  if [ -n "$line" ]; then
    read -r s f e <<<"$(sed -E 's/^([0-9]+) success[a-z]* \/ ([0-9]+) failures? \/ ([0-9]+) errors?.*/\1 \2 \3/' <<<"$line")"
    count "$s" $((f + e)); failed_in "$spec" $((f + e))
    [ $((f + e)) = 0 ] || grep -aE -A1 '^(Failure|Error) -> ' "$log/b.out" | grep -v '^--$' | sed 's/^/    /' \
      >>"$log/names"
  else
    echo "busted printed no summary for $spec"; count 0 1; failed_in "$spec" 1
  fi
done

# 3. examples, shortened
for ex in examples/*.lua; do
  [ -e "$ex" ] || continue
  if CLARA_QUICK=1 timeout 600 ./clara "$ex" >"$log/e.out" 2>&1; then
    echo "ok - example $ex"; count 1 0
  else
    echo "not ok - example $ex"; tail -20 "$log/e.out"; count 0 1; failed_in "$ex" 1
  fi
done

# 4. shell tests
for t in tests/*_test.sh; do
  [ -e "$t" ] || continue
  echo "== $t"
  timeout 600 bash "$t" >"$log/s.out" 2>&1; rc=$?
  cat "$log/s.out"
  p=$(grep -ac '^ok ' "$log/s.out"); f=$(grep -ac '^not ok ' "$log/s.out")
  [ "$rc" = 0 ] || [ "$f" -gt 0 ] || f=1
  count "$p" "$f"; failed_in "$t" "$f"
  grep -a "^not ok " "$log/s.out" 2>/dev/null | sed 's/^/    /' >>"$log/names"
done

if [ "${#failures[@]}" -gt 0 ]; then
  echo "== failed:"; printf '  %s\n' "${failures[@]}"
  [ -s "$log/names" ] && cat "$log/names"
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
