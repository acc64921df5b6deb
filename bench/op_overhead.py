# op_overhead, PyTorch twin: cost of one small op, c = a.add(b), on 16-element
# float32 tensors.  Same work, clock and repetitions as op_overhead.lua/.cpp.
# Usage: /usr/bin/python3 bench/op_overhead.py [calls]   (BENCH_SCALE scales)
import os, sys, time
import torch

calls = int(sys.argv[1]) if len(sys.argv) > 1 else \
    max(1000, int(1e6 * float(os.environ.get("BENCH_SCALE", "1"))))
REPS = 5
per_rep = calls // REPS

torch.set_num_threads(1)
torch.manual_seed(0)
a = torch.randn(16)
b = torch.randn(16)

def run(n):
    c = None
    for _ in range(n):
        c = a.add(b)
    return c

run(per_rep // 5)  # warm-up
best_wall = best_cpu = float("inf")
for _ in range(REPS):
    w0, c0 = time.perf_counter(), time.process_time()
    c = run(per_rep)
    w1, c1 = time.perf_counter(), time.process_time()
    best_wall = min(best_wall, (w1 - w0) / per_rep)
    best_cpu = min(best_cpu, (c1 - c0) / per_rep)

print("RESULT op_overhead %.6e" % best_wall)
print("CPU op_overhead %.6e" % best_cpu)
print("CHECK op_overhead %.6g" % c.sum().item())
