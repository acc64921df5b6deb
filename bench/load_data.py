# load_data, numpy twin, one of two benchmarks (argument "idx" or "csv"):
#   load_idx: Fashion-MNIST train images + labels from the gzip IDX files, as
#     MNIST loaders do it (gzip + np.frombuffer), labels to int64;
#   load_csv: a ~100 MB numeric CSV (header, 20 float columns and an integer
#     label column) with numpy.loadtxt, split into inputs (float32) and labels.
# Same files as load_data.lua.  A repetition is one load; the warm-up only
# reads the file once (page cache).
# Usage: /usr/bin/python3 bench/load_data.py idx|csv
#        /usr/bin/python3 bench/load_data.py --make-csv PATH [MB]   (writes the CSV)
import gzip
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twin  # noqa: E402

FM = os.environ.get("CLARA_DATA", "/usr/share/datasets/fashion-mnist")
CSV = "build/bench/numeric_100mb.csv"


def make_csv(path, mb=100):
    """Deterministic: seeded values, 6 decimals, label 0..9 last."""
    rng = np.random.default_rng(0)
    cols = 20
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    # both twins may make it at once (they start together): each its own
    # temporary file, the same bytes renamed into place
    tmp = "%s.tmp.%d" % (path, os.getpid())
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
    return float(x.sum(dtype=np.float64)) + float(y.sum(dtype=np.float64))


def load_csv():
    a = np.loadtxt(CSV, delimiter=",", skiprows=1, dtype=np.float32)
    x, y = a[:, :-1], a[:, -1]
    return float(x.sum(dtype=np.float64)) + float(y.sum(dtype=np.float64))


def slurp(path):
    with open(path, "rb") as f:
        f.read()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--make-csv":
        make_csv(sys.argv[2], float(sys.argv[3]) if len(sys.argv) > 3 else 100)
        sys.exit(0)
    which = sys.argv[1] if len(sys.argv) > 1 else "idx"
    if which == "idx":
        twin.twin("load_idx", load_idx, warmup=lambda: slurp(os.path.join(FM, "train-images-idx3-ubyte.gz")))
    elif which == "csv":
        if not os.path.exists(CSV):
            make_csv(CSV)
        twin.twin("load_csv", load_csv, warmup=lambda: slurp(CSV))
    else:
        sys.exit("load_data.py: expected idx or csv, got %s" % which)
