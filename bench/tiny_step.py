# tiny_step, PyTorch twin: one training step of an MLP 10-32-2, batch 16, on
# 4096 in-memory samples, 4 epochs = 1024 steps, the idiomatic way:
# TensorDataset + DataLoader(batch_size=16, shuffle=True), zero_grad,
# forward, cross-entropy, loss.item() (logged), backward, step.  Timed: the
# 4 epochs; the time is per step.  CHECK: the last epoch's mean training
# loss (DataLoader shuffles its own way: close, not equal).  See tiny_step.lua.
import os
import sys
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import loop  # noqa: E402
import twin  # noqa: E402

N, EPOCHS, BS = 4096, 4, 16
STEPS = EPOCHS * ((N + BS - 1) // BS)
torch.set_num_threads(1)
torch.manual_seed(0)
x = torch.randn(N, 10)
y = x.narrow(1, 0, 1).add(x.narrow(1, 1, 1)).gt(0).long().reshape(N)
ds = TensorDataset(x, y)


def train(max_steps=None):
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loader = DataLoader(ds, batch_size=BS, shuffle=True)
    w0, c0 = time.perf_counter(), time.process_time()
    steps, mean = 0, 0.0
    for _ in range(EPOCHS):
        if max_steps is not None and steps >= max_steps:
            break
        mean, n = loop.epoch(model, opt, loader, None if max_steps is None else max_steps - steps)
        steps += n
    return mean, time.perf_counter() - w0, time.process_time() - c0


twin.twin("tiny_step", train, per=STEPS, warmup=lambda: train(100), reps=twin.setting("BENCH_REPS", 5))
