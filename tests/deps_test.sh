#!/usr/bin/env bash
# make deps and make test-deps on a fresh Debian 12, simulated: apt-get -s
# against a dpkg status holding only what a minimal Debian has (the
# essential and required packages and apt, with their dependencies, taken
# from this machine's status), so nothing is installed or downloaded.
#   - every package of both lists exists and the two install together;
#   - make deps (what make demo pulls) installs no Python and no browser;
#   - the counts and sizes of both are printed (# lines).
# One "ok N - ..." / "not ok N - ..." line per check.
set -u
cd "$(dirname "$0")/.." || exit 1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/clara deps.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=tests/tap.sh
. tests/tap.sh

if ! command -v apt-get >/dev/null || [ -z "$(apt-cache show --no-all-versions apt 2>/dev/null)" ]; then
  echo "ok 1 # SKIP no apt-get or no package lists here (apt-get update)"
  exit 0
fi

# a Makefile variable's value
# shellcheck disable=SC2016  # $($*) is make's
makevar() { make -s --no-print-directory -f Makefile -f - "print-$1" <<<'print-%: ; @echo $($*)'; }
deps=$(makevar DEB_PKGS)
tests=$(makevar TEST_PKGS)

# the fresh system: required and essential packages and apt, closed over
# their Depends and Pre-Depends (a virtual name by the first provider)
awk -v RS= -v ORS='\n\n' '
  { name = ""; seed = 0; text[NR] = $0; deps = ""
    n = split($0, line, "\n")
    for (i = 1; i <= n; i++) {
      if (line[i] ~ /^Package: /) name = substr(line[i], 10)
      else if (line[i] ~ /^(Priority: required|Essential: yes)$/) seed = 1
      else if (line[i] ~ /^(Pre-)?Depends: /) deps = deps "," substr(line[i], index(line[i], ":") + 2)
      else if (line[i] ~ /^Provides: /) {
        m = split(substr(line[i], 11), p, ",")
        for (j = 1; j <= m; j++) { split(p[j], w, " "); if (!(w[1] in provider)) provider[w[1]] = name }
      }
    }
    rec[name] = NR; dep[name] = deps
    if (seed || name == "apt") todo[++t] = name
  }
  END {
    while (t > 0) {
      name = todo[t--]
      if (name in keep || !(name in rec)) continue
      keep[name] = 1
      m = split(dep[name], alts, ",")
      for (j = 1; j <= m; j++) {
        k = split(alts[j], choice, "|")
        for (c = 1; c <= k; c++) {
          split(choice[c], w, " "); sub(/:.*/, "", w[1])
          if (w[1] in rec) { todo[++t] = w[1]; break }
          if (w[1] in provider) { todo[++t] = provider[w[1]]; break }
        }
      }
    }
    for (name in keep) print text[rec[name]]
  }' /var/lib/dpkg/status >"$tmp/status"
echo "# fresh system: $(grep -c '^Package: ' "$tmp/status") packages"

# simulate PACKAGES... > FILE: the "Inst" lines; fails when apt cannot
simulate() {
  local out=$1
  shift
  # shellcheck disable=SC2068  # the lists are words
  apt-get -s -q -o Dir::State::status="$tmp/status" -o Debug::NoLocking=1 \
    install --no-install-recommends $@ >"$tmp/last.out" 2>&1 &&
    grep '^Inst ' "$tmp/last.out" | awk '{print $2}' | sort >"$out"
}

check "make deps installs on a fresh Debian 12 (simulated)" simulate "$tmp/deps" "$deps"
check "make test-deps too, with make deps" simulate "$tmp/all" "$deps $tests"

# "N packages, X MB to download, Y MB installed" of the names in FILE
# (one apt-cache call for both lists: it is slow)
# shellcheck disable=SC2046  # one word per package
apt-cache show --no-all-versions $(cat "$tmp/all") 2>/dev/null |
  awk '/^Package: / { p = $2 } /^Size: / { d[p] = $2 } /^Installed-Size: / { s[p] = $2 }
       END { for (p in d) print p, d[p], s[p] }' >"$tmp/sizes"
sizes() {
  awk 'NR == FNR { d[$1] = $2; s[$1] = $3; next } { n++; dl += d[$1]; inst += s[$1] }
       END { printf "%d packages, %.0f MB to download, %.0f MB installed\n", n, dl / 1e6, inst / 1024 }' \
    "$tmp/sizes" "$1"
}
echo "# make deps:      $(sizes "$tmp/deps")"
echo "# make test-deps: $(sizes "$tmp/all") (both)"

grep -E '^(python|libpython|chromium|firefox|epiphany|konqueror)' "$tmp/deps" >"$tmp/last.out"
check "make deps (make demo) installs no Python and no browser" [ ! -s "$tmp/last.out" ]
grep -E '^(python3-torch|chromium)$' "$tmp/all" >"$tmp/last.out"
check "make test-deps installs PyTorch and chromium" [ "$(wc -l <"$tmp/last.out")" = 2 ]

[ "$failed" -eq 0 ]
