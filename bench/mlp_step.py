# mlp_step, PyTorch twin: one training step of a tiny MLP written with raw
# tensor ops (no nn modules): forward, MSE loss, backward, SGD update under
# no_grad, zero the grads.  Same work as mlp_step.lua/.cpp.  A repetition
# is `steps` (400) steps, continuing the same weights; the time is per step.
# Usage: /usr/bin/python3 bench/mlp_step.py [steps]   (BENCH_SCALE scales)
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twin  # noqa: E402

steps = twin.count(400, 10)
lr = 0.01

torch.set_num_threads(1)
torch.manual_seed(0)
x = torch.randn(64, 32)
y = torch.randn(64, 10)
W1 = torch.randn(32, 64, requires_grad=True)
b1 = torch.zeros(64, requires_grad=True)
W2 = torch.randn(64, 10, requires_grad=True)
b2 = torch.zeros(10, requires_grad=True)


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
    return loss.item()


twin.twin("mlp_step", lambda: run(steps), per=steps, warmup=lambda: run(steps // 4))
