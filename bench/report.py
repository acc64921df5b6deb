# bench/report.py: the tables of a bench/driver.py run, as text (printed by
# make bench) and as Markdown (bench/RESULTS.md, with the machine and
# versions).  `done` is what driver.main collected: benches = [(spec,
# twins, summary)], startup, scaling, parallel, seconds, load, alloc.
import datetime
import os
import subprocess

import parallel

VARIANTS = (("clara", ""), ("clara fast", " (fast)"))
BUSY = 0.85  # a twin that got less CPU than this share of wall time was preempted


def fmt_time(sec, unit):
    if sec is None:
        return "n/a"
    scale, name, per = unit
    v = sec * scale
    return ("%.2f" if v < 10 else "%.1f" if v < 100 else "%.0f") % v + " %s/%s" % (name, per)


def ratio(a, b):
    return "n/a" if a is None or not b else "%.2fx" % (a / b)


def get(res, tag, key="wall"):
    return res.get(tag, {}).get(key)


def against_float32(b):
    """a benchmark of clara against itself in float32 (cnn_epoch bf16)"""
    return "clara float32" in b["twins"]


def with_workers(b):
    """a benchmark of clara's loader threads and augmentation (cnn_epoch augmented)"""
    return "clara no aug" in b["twins"]


def main_rows(done, key="wall"):
    """one row per benchmark and clara variant"""
    rows = []
    for b, _, res in done["benches"]:
        if against_float32(b) or with_workers(b):
            continue
        for tag, suffix in VARIANTS:
            if tag == "clara fast" and tag not in res:
                continue
            cl, cc, py = get(res, tag, key), get(res, "cpp", key), get(res, "py", key)
            rows.append([b["name"] + suffix, fmt_time(cl, b["unit"]),
                         fmt_time(cc, b["unit"]) if "cpp" in b["twins"] else "-",
                         fmt_time(py, b["unit"]), ratio(cl, cc) if "cpp" in b["twins"] else "-", ratio(cl, py)])
    return rows


MAIN_HEADER = ["benchmark", "clara", "libtorch C++", "PyTorch", "clara/C++", "clara/PyTorch"]


def precision_rows(done, key="wall"):
    """clara in a lower precision against clara in float32, same epoch"""
    return [[b.get("label", b["name"]),
             fmt_time(get(res, "clara", key), b["unit"]), fmt_time(get(res, "clara float32", key), b["unit"]),
             ratio(get(res, "clara", key), get(res, "clara float32", key))]
            for b, _, res in done["benches"] if against_float32(b)]


PRECISION_HEADER = ["benchmark", "clara", "clara float32", "clara/float32"]


def workers_rows(done, key="wall"):
    """clara's augmented epoch in loader threads, on the main thread and
    without augmentation; PyTorch's with DataLoader workers"""
    rows = []
    for b, _, res in done["benches"]:
        if not with_workers(b):
            continue
        on, off, plain, py = (get(res, t, key) for t in ("clara", "clara workers 0", "clara no aug", "py"))
        rows.append([b.get("label", b["name"]), fmt_time(on, b["unit"]), fmt_time(off, b["unit"]),
                     fmt_time(plain, b["unit"]), fmt_time(py, b["unit"]), ratio(on, plain), ratio(off, plain),
                     ratio(on, py)])
    return rows


WORKERS_HEADER = ["benchmark", "clara workers 2", "clara workers 0", "clara no aug", "PyTorch workers 2",
                  "workers 2/no aug", "workers 0/no aug", "clara/PyTorch"]


def agree(a, ref, tol):
    return abs(a - ref) <= tol * abs(ref) + 1e-6


def check_lines(done):
    """the CHECK value of every twin (a final training loss, a sum): the
    evidence that the twins did the same work"""
    out = []
    for b, _, res in done["benches"]:
        ref = get(res, "cpp", "check")
        if ref is None:
            ref = get(res, "clara", "check")
        parts, bad = [], []
        for tag in ("clara", "clara fast", "clara float32", "clara workers 0", "cpp", "py"):
            v = get(res, tag, "check")
            if v is None:
                continue
            parts.append("%s %.6g" % ({"cpp": "C++", "py": "PyTorch"}.get(tag, tag), v))
            tol = b["py_tol"] if tag == "py" else b["tol"]
            if ref is not None and not agree(v, ref, tol):
                bad.append("%s (tolerance %g)" % (tag, tol))
        line = "%s: %s" % (b["name"], ", ".join(parts))
        if bad:
            line += "  WARNING: %s differ (not the same work?)" % ", ".join(bad)
        out.append(line)
    return out


def verdict(r, limit):
    return "met" if r <= limit else "MISSED"


def target_lines(done, metric):
    out = []
    for b, _, res in done["benches"]:
        # loader threads add CPU time by design: their epoch is judged on wall time
        m = "wall" if with_workers(b) else metric
        for other, limit in b["targets"].items():
            for tag, suffix in VARIANTS:
                cl, ref = get(res, tag, m), get(res, other, m)
                if cl is None or not ref:
                    continue
                name = {"cpp": "C++", "py": "numpy" if b["name"].startswith("load") else "PyTorch"}.get(other, other)
                out.append("target %s%s clara/%s <= %gx: %.2fx %s%s"
                           % (b["name"], suffix, name, limit, cl / ref, verdict(cl / ref, limit),
                              " (wall time)" if m != metric else ""))
    s = done.get("startup")
    if s:
        for tag, what in (("clara", ""), ("clara torch", " (libtorch loaded: -e 'torch.zeros(1)')")):
            for key, limit in (("wall", 0.5), ("rss", 0.75)):
                r = s[tag][key] / s["py"][key]
                out.append("target startup%s clara/PyTorch %s <= %gx: %.2fx %s"
                           % (what, key, limit, r, verdict(r, limit)))
    return out


def busy_twins(done):
    """(twins preempted, twins in all)"""
    busy = total = 0
    for _, _, res in done["benches"]:
        for r in res.values():
            total += 1
            busy += r["cpu"] < BUSY * r["wall"]
    return busy, total


def startup_rows(s):
    mb = lambda v: "%.0f MB" % (v / 2**20)  # noqa: E731
    ms = lambda v: "%.0f ms" % (v * 1e3)  # noqa: E731
    rows = []
    for tag, what in (("clara", "./clara -e ''"), ("clara torch", "./clara -e 'torch.zeros(1)'"),
                      ("py", "python3 -c 'import torch'")):
        w, r = s[tag]["wall"], s[tag]["rss"]
        rows.append([what, ms(w), mb(r), ratio(w, s["py"]["wall"]), ratio(r, s["py"]["rss"])])
    return rows


STARTUP_HEADER = ["start-up", "wall time", "peak RSS", "time/PyTorch", "RSS/PyTorch"]


def scaling_rows(points, key, metric):
    """one row per point: times, ratios, and clara's extra time per step"""
    rows = []
    fast = any("clara fast" in p["results"] for p in points)
    for p in points:
        res, steps = p["results"], -(-p["rows"] // p["batch"])
        cl, fa, cc = get(res, "clara", metric), get(res, "clara fast", metric), get(res, "cpp", metric)
        row = [str(p[key]), str(steps), "%.3f s" % cl if cl else "n/a"]
        if fast:
            row.append("%.3f s" % fa if fa else "n/a")
        row += ["%.3f s" % cc if cc else "n/a", ratio(cl, cc)]
        if fast:
            row.append(ratio(fa, cc))
        row.append("%.0f us" % ((cl - cc) / steps * 1e6) if cl and cc else "n/a")
        rows.append(row)
    header = [key, "steps", "clara"] + (["clara fast"] if fast else []) + ["C++", "clara/C++"] + \
        (["fast/C++"] if fast else []) + ["clara - C++ per step"]
    return header, rows


def scaling_sets(points):
    """(title, header, rows) for batch size and for width, in wall time and,
    when the machine was busy, in CPU time too"""
    if not points:
        return []
    rows_n = points[0]["rows"]
    by_batch = sorted((p for p in points if p["hidden"] == 256), key=lambda p: p["batch"])
    by_width = sorted((p for p in points if p["batch"] == 128), key=lambda p: p["hidden"])
    busy = any(r["cpu"] < BUSY * r["wall"] for p in points for r in p["results"].values())
    out = []
    for metric in ("wall", "cpu") if busy else ("wall",):
        what = "median wall time" if metric == "wall" else "median CPU time (the machine was busy)"
        out.append(("epoch of %d images, MLP 784-256-128-10, against batch size; %s" % (rows_n, what),)
                   + scaling_rows(by_batch, "batch", metric))
        out.append(("epoch of %d images, batch 128, MLP 784-H-H/2-10, against width H; %s" % (rows_n, what),)
                   + scaling_rows(by_width, "hidden", metric))
    return out


def text_table(header, rows):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header)] + [line(r) for r in rows])


def md_table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def sections(done, table):
    """(title, body) pairs, tables drawn by `table`"""
    out = []
    if done["benches"]:
        main = main_rows(done)
        if main:
            out.append(("Median wall time, 1 thread", table(MAIN_HEADER, main)))
        busy, total = busy_twins(done)
        rows = precision_rows(done, "cpu" if busy else "wall")
        if rows:
            out.append(("Lower precision against float32 (clara, the same epoch; %s)"
                        % ("process CPU time: the machine was busy" if busy else "median wall time"),
                        table(PRECISION_HEADER, rows)))
        rows = workers_rows(done)
        if rows:
            out.append(("Augmentation and loader threads (median wall time: worker threads add CPU time by design)",
                        table(WORKERS_HEADER, rows)))
        if busy and main:
            out.append(("The machine was busy (%d of %d twins got < %d%% of a core): the same in process CPU time"
                        % (busy, total, BUSY * 100), table(MAIN_HEADER, main_rows(done, "cpu"))))
        out.append(("Checks (the same work: equal losses and sums; PyTorch's DataLoader shuffles its own way)",
                    "\n".join(check_lines(done))))
    if done.get("startup"):
        out.append(("Start-up", table(STARTUP_HEADER, startup_rows(done["startup"]))))
    for title, header, rows in scaling_sets(done.get("scaling")):
        out.append(("Scaling: " + title, table(header, rows)))
    out += parallel.sections(done.get("parallel"), table)
    busy = done["benches"] and busy_twins(done)[0] > 0
    t = target_lines(done, "cpu" if busy else "wall")
    if t:
        out.append(("Targets (judged on %s)" % ("CPU time: the machine was busy" if busy else "wall time"),
                    "\n".join(t)))
    if done.get("notes"):
        out.append(("Notes", "\n".join(done["notes"])))
    return out


def footer(done):
    alloc = done.get("alloc")
    return ("(median of alternated repetitions, wall clock, 1 thread; %s%d cores; %.0f s in all; load %.1f -> %.1f)"
            % ("C++ twins with clara's %s; " % os.path.basename(alloc) if alloc else "", os.cpu_count(),
               done["seconds"], done["load"][0], done["load"][1]))


def text(done):
    parts = ["%s\n%s" % (title, body) for title, body in sections(done, text_table)]
    return "\n\n".join(parts + [footer(done)])


def command(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def machine(clara):
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "?")
    except OSError:
        pass
    try:
        with open("/etc/debian_version") as f:
            debian = f.read().strip()
    except OSError:
        debian = "?"
    return [("date", datetime.datetime.now().strftime("%Y-%m-%d %H:%M")),
            ("CPU", "%s, %d cores" % (cpu, os.cpu_count())),
            ("clara", command([clara, "-v"])),
            ("libtorch (Debian package)", command(["dpkg-query", "-W", "-f=${Version}", "libtorch-dev"])),
            ("PyTorch (python3-torch)", command(["dpkg-query", "-W", "-f=${Version}", "python3-torch"])),
            ("Lua (liblua5.4)", command(["dpkg-query", "-W", "-f=${Version}", "liblua5.4-0"])),
            ("Debian", debian)]


def markdown(done, clara):
    out = ["# Benchmark results", "",
           "Generated by `make bench` (bench/driver.py); see bench/README.md for what each",
           "benchmark times.", ""]
    out += ["- %s: %s" % kv for kv in machine(clara)]
    for title, body in sections(done, md_table):
        out += ["", "## " + title, ""]
        out += [body] if body.startswith("|") else ["```", body, "```"]
    out += ["", footer(done), ""]
    return "\n".join(out)


def write(path, content):
    """atomically: a temporary file, fsync, rename"""
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write(content)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
