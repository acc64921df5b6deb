# mlp_epoch, PyTorch twin: one Fashion-MNIST training epoch of an MLP
# 784-H-H/2-10, ReLU, cross-entropy, SGD lr 0.1 momentum 0.9, batch 128,
# the idiomatic way: TensorDataset + DataLoader(batch_size=128,
# shuffle=True), zero_grad, forward, loss, loss.item() (logged), backward,
# step.  Timed: the epoch (DataLoader iteration included); not timed:
# loading the data, building model and optimizer.  CHECK: the epoch's mean
# training loss (DataLoader shuffles differently from clara: close, not
# equal).  Settings as mlp_epoch.lua: BENCH_ROWS, BENCH_BATCH, BENCH_HIDDEN,
# BENCH_REPS.
import os
import sys
import time

import torch
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
import loop  # noqa: E402
import models  # noqa: E402
import twin  # noqa: E402

rows = twin.setting("BENCH_ROWS", 60000)
bs = twin.setting("BENCH_BATCH", 128)
hidden = twin.setting("BENCH_HIDDEN", 256)
torch.set_num_threads(1)
x, y = data.fashion_mnist(rows)
ds = TensorDataset(x, y)


def epoch(max_steps=None):
    model = models.mlp(hidden)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loader = DataLoader(ds, batch_size=bs, shuffle=True)
    w0, c0 = time.perf_counter(), time.process_time()
    mean, _ = loop.epoch(model, opt, loader, max_steps)
    return mean, time.perf_counter() - w0, time.process_time() - c0


twin.twin("mlp_epoch", epoch, warmup=lambda: epoch(20), reps=twin.setting("BENCH_REPS", 5))
