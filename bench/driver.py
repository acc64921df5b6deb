#!/usr/bin/python3
# bench/driver.py: runs every benchmark's twins side by side and
# alternately, in one run, then prints the tables and writes
# bench/RESULTS.md (bench/report.py).  Started by bench/run.sh (make bench),
# from the repository root, after the C++ twins are built.
#
# One benchmark: all its twins are started at once (each loads its data and
# runs its warm-up, then prints READY and waits); then, repetition after
# repetition, each twin in turn is told "run" and answers with its time
# (protocol: bench/clock.lua).  The order rotates every repetition, so a
# machine that gets busier or quieter slows every twin alike.  The figure
# is the median over the repetitions.  Only one twin works at a time.
#
# Usage: bench/driver.py [NAME...] [--results PATH]
#   NAME: benchmarks (see BENCHES, plus "startup", "scaling" and "parallel"
#   (bench/parallel.py)); default all.
#   BENCH_REPS=n overrides every benchmark's repetitions (a quick check).
import os
import select
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parallel  # noqa: E402
import report  # noqa: E402

CLARA = "./clara"
PY = "/usr/bin/python3"
OUT = "build/bench"
TIMEOUT = 600  # seconds for one warm-up or repetition


def bench(name, unit, reps, **kw):
    """A benchmark: twins clara, cpp, py (of bench/<file>.*), `reps`
    repetitions, its unit (scale, text), check tolerances (relative; py_tol
    for PyTorch, which may shuffle differently) and targets (ratio to C++ or
    PyTorch that clara must not exceed)."""
    b = dict(name=name, file=name, args=[], env={}, unit=unit, reps=reps, twins=("clara", "cpp", "py"),
             fast=False, tol=1e-4, py_tol=1e-4, targets={}, note="")
    b.update(kw)
    return b


US, MS, S = (1e6, "us"), (1e3, "ms"), (1.0, "s")
BENCHES = [
    bench("op_overhead", US + ("op",), 11, targets={"cpp": 1.2, "py": 0.5}),
    bench("mlp_step", US + ("step",), 11),
    bench("batches", MS + ("epoch",), 9, targets={"py": 0.333}),
    bench("load_idx", MS + ("load",), 9, file="load_data", args=["idx"], twins=("clara", "py"),
          targets={"py": 1.0}, note="PyTorch column: numpy"),
    bench("load_csv", MS + ("load",), 5, file="load_data", args=["csv"], twins=("clara", "py"),
          targets={"py": 1.0}, note="PyTorch column: numpy.loadtxt"),
    # a folder of 10,000 Fashion-MNIST PNGs through ImageFolder + DataLoader
    # (torchvision's with num_workers 0 and 2; clara's with workers = 2 where
    # its DataLoader has that option)
    bench("image_folder", MS + ("epoch",), 5, twins=("clara", "py"), targets={"py": 1.0},
          note="PyTorch column: torchvision ImageFolder"),
    bench("image_folder_w2", MS + ("epoch",), 5, file="image_folder", env={"BENCH_WORKERS": "2"},
          twins=("clara", "py"), note="PyTorch column: torchvision ImageFolder, num_workers=2"),
    bench("tiny_step", US + ("step",), 11, fast=True, py_tol=0.3, targets={"cpp": 1.2, "py": 0.6}),
    bench("mlp_epoch", S + ("epoch",), 9, fast=True, py_tol=0.02, targets={"cpp": 1.05, "py": 0.75}),
    bench("cnn_epoch", S + ("epoch",), 7, fast=True, py_tol=0.1, targets={"cpp": 1.05, "py": 0.75}),
    bench("cv_mlp", S + ("CV",), 7, fast=True, py_tol=0.1),
    # libtorch C++'s attention is its own code (scales q before the matmul):
    # its losses agree to ~1e-6, not bitwise
    bench("transformer_step", MS + ("step",), 9, tol=1e-3),
    # clara against clara: the cnn_epoch epoch with precision = "bf16"
    # against the same epoch in float32 (losses close, not equal)
    # batch augmentation (clara.transforms.batch, C kernels) per sample
    # against torchvision 0.14's per-sample transforms on tensors + stack
    bench("augment_crop28", US + ("sample",), 9, file="augment", args=["crop28"], twins=("clara", "py"),
          targets={"py": 0.25}, note="PyTorch column: torchvision RandomCrop(28, padding=4) + RandomHorizontalFlip"),
    bench("augment_rrc224", MS + ("sample",), 7, file="augment", args=["rrc224"], twins=("clara", "py"),
          targets={"py": 0.25}, note="PyTorch column: torchvision RandomResizedCrop(224) + RandomHorizontalFlip"),
    bench("cnn_epoch_bf16", S + ("epoch",), 7, file="cnn_epoch", env={"BENCH_PRECISION": "bf16"},
          twins=("clara", "clara float32"), tol=0.05, label="cnn_epoch bf16"),
    # the cnn_epoch epoch with random crops (padding 4) and flips: clara in 2
    # loader threads, on the main thread, without augmentation; PyTorch with
    # torchvision's per-sample transforms in DataLoader(num_workers=2)
    bench("cnn_epoch_aug", S + ("epoch",), 5, file="cnn_epoch", env={"BENCH_AUG": "1", "BENCH_WORKERS": "2"},
          twins=("clara", "clara workers 0", "clara no aug", "py"), py_tol=0.2, label="cnn_epoch augmented",
          targets={"clara no aug": 1.1}),
]
# clara twins that differ by their environment only
CLARA_VARIANTS = {
    "clara float32": {"BENCH_PRECISION": "float32"},
    "clara workers 0": {"BENCH_WORKERS": "0"},
    "clara no aug": {"BENCH_AUG": "0", "BENCH_WORKERS": "0"},
}
SCALING_ROWS = 20000
SCALING_BATCHES = (16, 32, 64, 128, 256, 512)
SCALING_WIDTHS = (64, 256, 1024)
STARTUP_REPS = 10


class Twin:
    """One twin process and the line protocol with it."""

    def __init__(self, tag, argv, env):
        self.tag, self.argv = tag, argv
        self.err = tempfile.TemporaryFile()
        self.buf = b""
        self.times, self.cpus, self.check, self.skip, self.failed = [], [], None, None, None
        self.notes = []
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err,
                                  env=env)
        self.fd = self.p.stdout.fileno()
        # BENCH_CONTROL: a FIFO the twin reads its commands from, not stdin
        # (the ranks of `clara launch`: bench/parallel.py)
        self.control = os.open(env["BENCH_CONTROL"], os.O_RDWR) if "BENCH_CONTROL" in env else None

    def readline(self, timeout):
        """the next line, or None at end of output; raises on timeout"""
        end = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = end - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                raise TimeoutError("no answer in %d s" % timeout)
            chunk = os.read(self.fd, 65536)
            if not chunk:
                line, self.buf = self.buf, b""
                return line.decode() if line else None
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        # clara launch prefixes each line of a rank; rank 0 speaks for the twin
        return line.decode().removeprefix("[rank 0] ")

    def expect(self, word):
        """reads up to a line starting with `word` (or SKIP); returns its fields"""
        while True:
            line = self.readline(TIMEOUT)
            if line is None:
                raise RuntimeError("exited without '%s'" % word)
            f = line.split()
            if f and f[0] == "SKIP":
                self.skip = " ".join(f[2:])
                return None
            if f and f[0] == word:
                return f

    def send(self, line):
        if self.control is not None:
            os.write(self.control, (line + "\n").encode())
            return
        self.p.stdin.write((line + "\n").encode())
        self.p.stdin.flush()

    def fail(self, why):
        self.failed = why
        self.err.seek(0)
        tail = self.err.read().decode(errors="replace").strip().splitlines()[-8:]
        print("bench: %s twin failed (%s): %s" % (self.tag, " ".join(self.argv), why))
        for t in tail:
            print("    " + t)
        self.stop()

    def stop(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()

    def finish(self):
        """quit: the CHECK line, then the exit status"""
        self.send("quit")
        self.p.stdin.close()
        while True:
            line = self.readline(TIMEOUT)
            if line is None:
                break
            f = line.split()
            if len(f) >= 3 and f[0] == "CHECK":
                self.check = float(f[2])
            elif len(f) >= 3 and f[0] == "NOTE":
                self.notes.append(" ".join(f[2:]))
        if self.p.wait(TIMEOUT) != 0:
            self.fail("exit status %d" % self.p.returncode)


def allocator():
    """the malloc ./clara links (tcmalloc, say): the C++ twins run with it"""
    try:
        out = subprocess.run(["ldd", CLARA], capture_output=True, text=True).stdout
    except OSError:
        return None
    for line in out.splitlines():
        if any(a in line for a in ("tcmalloc", "jemalloc", "mimalloc")) and "=>" in line:
            return line.split("=>")[1].split()[0]
    return None


ALLOC = allocator()


def twin_commands(b, kind, extra_env=None):
    """(tag, argv, env) for one twin of benchmark b"""
    env = dict(os.environ)
    env.update(BENCH_DRIVER="1", **b["env"])
    env.update(extra_env or {})
    f = b["file"]
    if kind in parallel.KINDS:
        return parallel.commands(b, kind, env)
    if kind == "clara":
        return [("clara", [CLARA, "bench/%s.lua" % f] + b["args"], env)]
    if kind == "fast":
        return [("clara fast", [CLARA, "bench/%s.lua" % f] + b["args"], dict(env, BENCH_IMPL="fast"))]
    if kind in CLARA_VARIANTS:
        return [(kind, [CLARA, "bench/%s.lua" % f] + b["args"], dict(env, **CLARA_VARIANTS[kind]))]
    if kind == "cpp":
        exe = os.path.join(OUT, f)
        if not os.access(exe, os.X_OK):
            print("bench: %s not built: no C++ twin" % exe)
            return []
        return [("cpp", [exe] + b["args"], dict(env, LD_PRELOAD=ALLOC) if ALLOC else env)]
    return [("py", [PY, "bench/%s.py" % f] + b["args"], env)]


def run_bench(b, reps, kinds=None, extra_env=None):
    """runs one benchmark's twins alternately; returns {tag: Twin}"""
    kinds = list(kinds or b["twins"])
    if b["fast"] and "fast" not in kinds:
        kinds.insert(1, "fast")
    twins = []
    for k in kinds:
        for tag, argv, env in twin_commands(b, k, extra_env):
            if k == "clara" and not os.access(CLARA, os.X_OK):
                print("bench: %s missing" % CLARA)
                continue
            twins.append(Twin(tag, argv, env))
    # 1. every twin loads and warms up (at once), then says READY
    for t in twins:
        try:
            if t.expect("READY") is None:
                t.stop()
        except (RuntimeError, TimeoutError) as e:
            t.fail(str(e))
    live = [t for t in twins if not t.failed and not t.skip]
    # 2. the repetitions, one twin at a time, the order rotating
    for r in range(reps):
        k = r % len(live) if live else 0
        for t in live[k:] + live[:k]:
            if t.failed:
                continue
            try:
                t.send("run")
                f = t.expect("TIME")
                t.times.append(float(f[2]))
                t.cpus.append(float(f[3]))
            except (RuntimeError, TimeoutError, BrokenPipeError, IndexError, ValueError) as e:
                t.fail(str(e))
    # 3. quit: each prints its CHECK
    for t in live:
        if not t.failed:
            try:
                t.finish()
            except (RuntimeError, TimeoutError, BrokenPipeError) as e:
                t.fail(str(e))
    return {t.tag: t for t in twins}


def summary(twins):
    """{tag: {wall, cpu, check}} (medians) of the twins that ran"""
    return {tag: dict(wall=statistics.median(t.times), cpu=statistics.median(t.cpus), check=t.check)
            for tag, t in twins.items() if not t.failed and not t.skip and t.times}


STARTUP = [("clara", [CLARA, "-e", ""]), ("clara torch", [CLARA, "-e", "torch.zeros(1)"]),
           ("py", [PY, "-c", "import torch"])]


def run_startup(reps):
    """./clara -e '' (and, libtorch loaded, -e 'torch.zeros(1)') against
    /usr/bin/python3 -c 'import torch': wall time (fork to exit, measured
    here) and peak RSS (the child's ru_maxrss); the order rotates"""
    res = {tag: {"wall": [], "rss": []} for tag, _ in STARTUP}
    for r in range(reps + 1):
        k = r % len(STARTUP)
        for tag, argv in STARTUP[k:] + STARTUP[:k]:
            t0 = time.perf_counter()
            p = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
            _, status, ru = os.wait4(p.pid, 0)
            wall = time.perf_counter() - t0
            p.returncode = os.waitstatus_to_exitcode(status)
            if p.returncode != 0:
                print("bench: startup: %s exited with %d" % (" ".join(argv), p.returncode))
            if r > 0:  # the first round warms the page cache
                res[tag]["wall"].append(wall)
                res[tag]["rss"].append(ru.ru_maxrss * 1024)
    return {tag: {"wall": statistics.median(v["wall"]), "rss": statistics.median(v["rss"])}
            for tag, v in res.items()}


def run_scaling(reps):
    """epoch time on a subset against batch size and width, clara and C++;
    returns the points and whether a twin failed"""
    b = next(x for x in BENCHES if x["name"] == "mlp_epoch")
    points = [(bs, 256) for bs in SCALING_BATCHES] + [(128, h) for h in SCALING_WIDTHS if h != 256]
    out, failed = [], False
    for bs, hidden in points:
        print("bench: scaling batch %d hidden %d" % (bs, hidden))
        env = {"BENCH_ROWS": str(SCALING_ROWS), "BENCH_BATCH": str(bs), "BENCH_HIDDEN": str(hidden)}
        twins = run_bench(b, reps, kinds=("clara", "cpp"), extra_env=env)
        failed = failed or any(t.failed for t in twins.values())
        out.append(dict(batch=bs, hidden=hidden, rows=SCALING_ROWS, results=summary(twins)))
    return out, failed


def run_parallel(reps):
    """bench/parallel.py: each model's epoch on 1x1, 1x2, 2x1 and PyTorch
    DDP; returns the points and whether a twin failed"""
    out, failed = [], False
    for b in parallel.BENCHES:
        print("bench: parallel %s" % b["name"])
        sys.stdout.flush()
        load = "%.1f" % os.getloadavg()[0]
        twins = run_bench(b, reps)
        failed = failed or any(t.failed for t in twins.values())
        skips = {tag: "skipped: " + t.skip for tag, t in twins.items() if t.skip}
        out.append(dict(bench=b, results=summary(twins), skips=skips, load="%s -> %.1f" % (load, os.getloadavg()[0])))
    return out, failed


def main(argv):
    names, results_path = [], "bench/RESULTS.md"
    it = iter(argv)
    for a in it:
        if a == "--results":
            results_path = next(it, None)
        else:
            names.append(a)
    known = [b["name"] for b in BENCHES] + ["startup", "scaling", "parallel"]
    for n in names:
        if n not in known:
            print("bench: unknown benchmark '%s' (%s)" % (n, ", ".join(known)))
            return 2
    wanted = names or known
    override = os.environ.get("BENCH_REPS")
    reps = (lambda n: int(override)) if override else (lambda n: n)
    started, load0 = time.time(), os.getloadavg()[0]
    done = {"benches": [], "startup": None, "scaling": None, "parallel": None, "notes": []}
    scaling_failed = parallel_failed = False
    for b in BENCHES:
        if b["name"] in wanted:
            print("bench: running %s" % b["name"])
            sys.stdout.flush()
            twins = run_bench(b, reps(b["reps"]))
            done["benches"].append((b, twins, summary(twins)))
            done["notes"] += ["%s: %s" % (b["name"], b["note"])] if b["note"] else []
            for t in twins.values():
                done["notes"] += ["%s, %s: skipped: %s" % (b["name"], t.tag, t.skip)] if t.skip else []
                done["notes"] += ["%s, %s: %s" % (b["name"], t.tag, n) for n in t.notes]
    if "startup" in wanted and os.access(CLARA, os.X_OK):
        print("bench: running startup")
        done["startup"] = run_startup(reps(STARTUP_REPS))
    if "scaling" in wanted:
        done["scaling"], scaling_failed = run_scaling(reps(5))
    if "parallel" in wanted:
        done["parallel"], parallel_failed = run_parallel(reps(parallel.REPS))
    done["seconds"], done["load"] = time.time() - started, (load0, os.getloadavg()[0])
    done["alloc"] = ALLOC
    print()
    print(report.text(done))
    if results_path and (not names or "--results" in argv):
        report.write(results_path, report.markdown(done, CLARA))
        print("bench: wrote %s" % results_path)
    failed = any(t.failed for _, twins, _ in done["benches"] for t in twins.values())
    return 1 if failed or scaling_failed or parallel_failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
