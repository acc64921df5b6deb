#!/usr/bin/env bash
# `clara report` end to end: a real tiny run, its report, and report.html
# rendered by headless Chromium (when installed) into a screenshot that
# must show the page: a PNG, much larger than a blank page's, with the
# charts' colours in it (checked with /usr/bin/python3 when present).
set -u
cd "$(dirname "$0")/.." || exit 1
n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); echo "not ok $n - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else notok "$what"; fi; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 1. a real run (2 epochs of a tiny experiment) and its report
cat >"$tmp/make_run.lua" <<'EOF'
package.path = "spec/fixtures/report/?.lua;" .. package.path
io.write(require("dirs").run(arg[1]), "\n")
EOF
run=$(./clara "$tmp/make_run.lua" "$tmp/runs" 2>"$tmp/err") || { cat "$tmp/err"; run=""; }
check "a tiny run writes its directory" test -n "$run" -a -f "$run/report.json"
out=$(./clara report "$run" 2>&1); rc=$?
check "clara report exits 0 and names the page" test "$rc" = 0 -a "$out" = "report: $run/report/report.html"
page="$run/report/report.html"
check "the page embeds its charts as data: URIs" grep -q 'src="data:image/png;base64,iVBORw0KGgo' "$page"
check "the page has no external resource" bash -c "! grep -Eq '(src|href)=\"(https?:|file:|[^d\"])' '$page'"

# 2. the page in a headless browser
browser=""
for b in chromium chromium-browser google-chrome; do
  if command -v "$b" >/dev/null 2>&1; then browser=$b; break; fi
done
if [ -z "$browser" ]; then
  ok "# SKIP headless rendering: no chromium installed"
  exit 0
fi
shot="$tmp/shot.png"
timeout 120 "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
  --user-data-dir="$tmp/profile" --screenshot="$shot" --window-size=1200,2000 \
  "file://$(cd "$(dirname "$page")" && pwd)/report.html" >"$tmp/browser.log" 2>&1
check "$browser wrote a screenshot" test -s "$shot"
sig=$(head -c 8 "$shot" 2>/dev/null | od -An -tx1 | tr -d ' \n')
check "the screenshot is a PNG" test "$sig" = "89504e470d0a1a0a"
# a blank 1200x2000 page compresses to about 11 kB; this one has charts
size=$(stat -c %s "$shot" 2>/dev/null || echo 0)
check "the screenshot is not blank ($size bytes)" test "$size" -gt 60000

# 3. what the pixels show: many colours, the charts' blue (#1f77b4) among them
if [ -x /usr/bin/python3 ]; then
  check "the screenshot shows the page's text and charts" /usr/bin/python3 - "$shot" <<'EOF'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
pos, idat, w, h, ctype = 8, b"", 0, 0, 0
while pos < len(data):
    length, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + length]
    if kind == b"IHDR":
        w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
    elif kind == b"IDAT":
        idat += body
    pos += 12 + length
bpp = {2: 3, 6: 4}[ctype]
raw, stride, prev, rows = zlib.decompress(idat), w * bpp, bytearray(w * bpp), []
for y in range(h):
    f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b, c = prev[i], prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(line)
    prev = line
colours, not_white, blue = set(), 0, 0
for line in rows[::4]:
    for x in range(0, stride, bpp * 2):
        px = tuple(line[x:x + 3])
        colours.add(px)
        not_white += px != (255, 255, 255)
        blue += abs(px[0] - 0x1f) < 40 and abs(px[1] - 0x77) < 40 and abs(px[2] - 0xb4) < 40
print(f"# {len(colours)} colours, {not_white} non-white and {blue} blue pixels sampled")
sys.exit(0 if len(colours) > 50 and not_white > 2000 and blue > 50 else 1)
EOF
fi
