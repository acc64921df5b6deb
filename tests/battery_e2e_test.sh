#!/usr/bin/env bash
# Issue 6's end-to-end check, from the command line: a two-by-two battery
# with 3-fold CV runs with --jobs 2, survives an entry that throws, is
# killed (kill -9, the whole process group) and resumed, and gives an HTML
# report with plots and a comparison with p-values.  TAP-like output.
set -u
cd "$(dirname "$0")/.."
CLARA=$PWD/clara
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; }
check() { if eval "$2"; then ok "$1"; else not_ok "$1"; fi; }

cat >"$dir/battery.lua" <<'EOF'
-- 240 samples of two noisy blobs; hidden = 16 with lr = 0.05 throws
torch.manual_seed(1)
local x = torch.randn(240, 6)
local y = x[{ {}, 1 }]:add(x[{ {}, 2 }]):gt(0):long()
return clara.battery{
  name = "e2e", out_dir = "runs",
  base = { name = "blobs", data = { train = { x, y } }, seed = 2, hparams = { lr = 0.1, hidden = 8 },
    model = function(hp)
      if hp.hidden == 16 and hp.lr == 0.05 then error("this entry is broken on purpose") end
      return nn.Sequential(nn.Linear(6, hp.hidden), nn.ReLU(), nn.Linear(hp.hidden, 2))
    end,
    objective = clara.losses.cross_entropy,
    metrics = { acc = clara.metrics.accuracy, cm = clara.metrics.confusion_matrix },
    optimizer = function(m, hp) return optim.SGD(m, { lr = hp.lr, momentum = 0.9 }) end,
    epochs = 4, batch_size = 16, checkpoint_every = 1,
    -- slow enough that the kill lands mid-run
    hooks = { on_step_end = function() require("clara.process.core").sleep(0.01) end } },
  grid = { lr = { 0.1, 0.05 }, hidden = { 8, 16 } },
  cv = { folds = 3, stratified = true },
}
EOF
cd "$dir" || exit 1

# 1. start the battery in its own process group, kill it all mid-run
setsid "$CLARA" battery battery.lua --jobs 2 --quiet >first.log 2>&1 &
pid=$!
for _ in $(seq 1 300); do
  [ -n "$(find runs -name checkpoint.pt 2>/dev/null | head -1)" ] && break
  sleep 0.1
done
sleep 0.5
kill -9 -- "-$pid" 2>/dev/null
wait "$pid" 2>/dev/null
check "the battery was killed before it finished" '[ ! -e runs/e2e/summary.md ] || ! grep -q "4 entries: 3 done, 1 failed" runs/e2e/summary.md'

# 2. run it again: finished folds kept, the rest resumed; the broken entry fails alone
"$CLARA" battery battery.lua --jobs 2 >second.log 2>&1
rc=$?
check "the re-run ends with code 1 (one entry failed)" '[ "$rc" = 1 ]'
check "three entries done, one failed" 'grep -q "4 entries: 3 done, 1 failed" runs/e2e/summary.md'
check "the failure is recorded with its message" 'grep -q "broken on purpose" "runs/e2e/hidden=16,lr=0.05/error.txt"'
check "each done entry has 3 folds and a CV report" '[ "$(ls -d runs/e2e/*/fold-3 | wc -l)" = 3 ] && [ "$(ls runs/e2e/*/report.json | wc -l)" = 3 ]'
check "a third run only retries the failed entry" '"$CLARA" battery battery.lua --jobs 2 2>&1 | grep -q "1 entry to run, 3 already finished"'

# 3. the HTML report with plots
"$CLARA" report runs/e2e >report.log 2>&1
check "clara report exits 0" '[ $? = 0 ] || { cat report.log; false; }'
html=$(find runs/e2e -name report.html | head -1)
check "report.html exists" '[ -n "$html" ] && [ -s "$html" ]'
check "report.html embeds plots" 'grep -qE "<svg|data:image/png;base64" "$html"'
check "report.html names every entry" 'grep -q "hidden=8,lr=0.1" "$html" && grep -q "hidden=16,lr=0.1" "$html"'
check "plots were drawn as PNG and SVG" '[ -n "$(find runs/e2e -name "*.png" | head -1)" ] && [ -n "$(find runs/e2e -name "*.svg" | head -1)" ]'

# 4. a comparison with p-values over matching folds
"$CLARA" compare "runs/e2e/hidden=8,lr=0.1" "runs/e2e/hidden=16,lr=0.1" --out cmp >compare.log 2>&1
check "clara compare exits 0" '[ $? = 0 ] || { cat compare.log; false; }'
check "the comparison gives paired-test p-values" 'grep -qi "t-test" compare.log && grep -q "p = " compare.log'
check "the comparison is written to disk" '[ -s cmp/compare.md ] && [ -s cmp/compare.json ]'
