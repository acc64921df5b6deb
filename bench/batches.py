# batches, PyTorch twin: one epoch of mini-batch assembly over in-memory
# tensors: x 60000x784 float32, y 60000 int64, batch 128, shuffled, by
# DataLoader(TensorDataset(x, y), batch_size=128, shuffle=True) (main process,
# as users write it).  Same work, clock and repetitions as batches.lua/.cpp.
# Usage: /usr/bin/python3 bench/batches.py [rows]   (BENCH_SCALE scales the rows)
# RESULT is seconds per epoch.
import os, sys, time
import torch
from torch.utils.data import DataLoader, TensorDataset

rows = int(sys.argv[1]) if len(sys.argv) > 1 else \
    max(1280, int(60000 * float(os.environ.get("BENCH_SCALE", "1"))))
REPS = 5

torch.set_num_threads(1)
torch.manual_seed(0)
x = torch.rand(rows, 784)
y = torch.randint(0, 10, (rows,))
loader = DataLoader(TensorDataset(x, y), batch_size=128, shuffle=True)

# the sum of every batch's labels: the same whatever the order
def epoch():
    s = 0
    for _, yb in loader:
        s += yb.sum().item()
    return s

epoch()  # warm-up
best_wall = best_cpu = float("inf")
for _ in range(REPS):
    w0, c0 = time.perf_counter(), time.process_time()
    check = epoch()
    w1, c1 = time.perf_counter(), time.process_time()
    best_wall = min(best_wall, w1 - w0)
    best_cpu = min(best_cpu, c1 - c0)

print("RESULT batches %.6e" % best_wall)
print("CPU batches %.6e" % best_cpu)
print("CHECK batches %.6g" % check)
