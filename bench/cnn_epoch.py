# cnn_epoch, PyTorch twin: one training epoch of the small CNN of
# cnn_epoch.lua on the first 10000 Fashion-MNIST training images, batch 64,
# SGD lr 0.05 momentum 0.9, the idiomatic way: TensorDataset +
# DataLoader(batch_size=64, shuffle=True), zero_grad, forward, loss,
# loss.item(), backward, step.  Timed: the epoch; not timed: loading the
# data, model and optimizer.  CHECK: the epoch's mean training loss
# (DataLoader shuffles its own way: close, not equal).
# Settings: BENCH_ROWS, BENCH_REPS.
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

rows = twin.setting("BENCH_ROWS", 10000)
torch.set_num_threads(1)
x, y = data.fashion_mnist(rows, flat=False)
ds = TensorDataset(x, y)


def epoch(max_steps=None):
    model = models.cnn()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loader = DataLoader(ds, batch_size=64, shuffle=True)
    w0, c0 = time.perf_counter(), time.process_time()
    mean, _ = loop.epoch(model, opt, loader, max_steps)
    return mean, time.perf_counter() - w0, time.process_time() - c0


twin.twin("cnn_epoch", epoch, warmup=lambda: epoch(10), reps=twin.setting("BENCH_REPS", 5))
