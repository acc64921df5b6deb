# load_data, numpy twin: (1) load_idx: Fashion-MNIST train images + labels
# from the gzip IDX files, as MNIST loaders do it (gzip + np.frombuffer),
# labels to int64; (2) load_csv: a ~100 MB numeric CSV (header, 20 float
# columns and an integer label column) with numpy.loadtxt, split into inputs
# (float32) and labels.  Same files and repetitions as load_data.lua.
# Usage: /usr/bin/python3 bench/load_data.py [reps]
#        /usr/bin/python3 bench/load_data.py --make-csv PATH [MB]   (writes the CSV)
import gzip, os, sys, time
import numpy as np

FM = os.environ.get("CLARA_DATA", "/usr/share/datasets/fashion-mnist")
CSV = "build/bench/numeric_100mb.csv"


def make_csv(path, mb=100):
    """Deterministic: seeded values, 6 decimals, label 0..9 last."""
    rng = np.random.default_rng(0)
    cols = 20
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(",".join(["x%d" % i for i in range(cols)] + ["label"]) + "\n")
        written = 0
        while written < mb * 1e6:
            x = rng.normal(0, 10, size=(20000, cols))
            y = rng.integers(0, 10, size=20000)
            text = "\n".join(",".join("%.6f" % v for v in row) + ",%d" % c for row, c in zip(x, y)) + "\n"
            f.write(text)
            written += len(text)
    os.replace(tmp, path)


def load_idx():
    with gzip.open(os.path.join(FM, "train-images-idx3-ubyte.gz"), "rb") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(os.path.join(FM, "train-labels-idx1-ubyte.gz"), "rb") as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    return x, y


def load_csv():
    a = np.loadtxt(CSV, delimiter=",", skiprows=1, dtype=np.float32)
    return a[:, :-1], a[:, -1]


def bench(name, fn, reps, check):
    fn()  # warm-up (and page cache)
    best_wall = best_cpu = float("inf")
    for _ in range(reps):
        w0, c0 = time.perf_counter(), time.process_time()
        r = fn()
        best_wall = min(best_wall, time.perf_counter() - w0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    print("RESULT %s %.6e" % (name, best_wall))
    print("CPU %s %.6e" % (name, best_cpu))
    print("CHECK %s %.6g" % (name, check(r)))
    sys.stdout.flush()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--make-csv":
        make_csv(sys.argv[2], float(sys.argv[3]) if len(sys.argv) > 3 else 100)
        sys.exit(0)
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    if not os.path.exists(CSV):
        make_csv(CSV)
    bench("load_idx", load_idx, reps, lambda r: int(r[0].sum(dtype=np.int64)) + int(r[1].sum()))
    bench("load_csv", load_csv, max(1, reps // 2),
          lambda r: float(r[0].sum(dtype=np.float64)) + float(r[1].sum(dtype=np.float64)))
