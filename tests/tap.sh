# shellcheck shell=bash disable=SC2154  # $tmp: set by the test that sources this
# The "ok N - ..." / "not ok N - ..." lines of the shell tests (sourced by
# tests/*_test.sh; tests/run.sh counts the lines).  A failed check shows
# the end of $tmp/last.out, where a test puts the output of what it checks.
n=0
failed=0

ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() {
  n=$((n + 1))
  echo "not ok $n - $1"
  failed=$((failed + 1))
  if [ -n "${2:-}" ] && [ -f "$2" ]; then tail -20 "$2" | sed 's/^/#   /'; fi
}
check() { # check DESCRIPTION COMMAND...: ok when the command succeeds
  local what=$1
  shift
  if "$@"; then ok "$what"; else notok "$what" "$tmp/last.out"; fi
}
