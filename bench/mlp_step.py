# mlp_step, PyTorch twin: one training step of a tiny MLP written with raw
# tensor ops (no nn modules): forward, MSE loss, backward, SGD update under
# no_grad, zero the grads.  Same work as mlp_step.lua/.cpp.
# Usage: /usr/bin/python3 bench/mlp_step.py [steps]   (BENCH_SCALE scales)
import os, sys, time
import torch

steps = int(sys.argv[1]) if len(sys.argv) > 1 else \
    max(50, int(2000 * float(os.environ.get("BENCH_SCALE", "1"))))
REPS = 5
per_rep = steps // REPS
lr = 0.01

torch.set_num_threads(1)
torch.manual_seed(0)
x = torch.randn(64, 32)
y = torch.randn(64, 10)
W1 = torch.randn(32, 64, requires_grad=True)
b1 = torch.zeros(64, requires_grad=True)
W2 = torch.randn(64, 10, requires_grad=True)
b2 = torch.zeros(10, requires_grad=True)
params = (W1, b1, W2, b2)

def step():
    h = (x.matmul(W1) + b1).relu()
    out = h.matmul(W2) + b2
    loss = ((out - y) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        W1.sub_(W1.grad * lr)
        b1.sub_(b1.grad * lr)
        W2.sub_(W2.grad * lr)
        b2.sub_(b2.grad * lr)
    W1.grad.zero_()
    b1.grad.zero_()
    W2.grad.zero_()
    b2.grad.zero_()
    return loss

def run(n):
    for _ in range(n):
        loss = step()
    return loss

run(per_rep // 4)  # warm-up
best_wall = best_cpu = float("inf")
for _ in range(REPS):
    w0, c0 = time.perf_counter(), time.process_time()
    loss = run(per_rep)
    w1, c1 = time.perf_counter(), time.process_time()
    best_wall = min(best_wall, (w1 - w0) / per_rep)
    best_cpu = min(best_cpu, (c1 - c0) / per_rep)

print("RESULT mlp_step %.6e" % best_wall)
print("CPU mlp_step %.6e" % best_cpu)
print("CHECK mlp_step %.6g" % loss.item())
