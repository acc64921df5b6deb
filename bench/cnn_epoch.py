# cnn_epoch, PyTorch twin: one training epoch of the small CNN of
# cnn_epoch.lua on the first 10000 Fashion-MNIST training images, batch 64,
# SGD lr 0.05 momentum 0.9, the idiomatic way: TensorDataset +
# DataLoader(batch_size=64, shuffle=True), zero_grad, forward, loss,
# loss.item(), backward, step.  Timed: the epoch; not timed: loading the
# data, model and optimizer.  CHECK: the epoch's mean training loss
# (DataLoader shuffles its own way: close, not equal).
# Settings: BENCH_ROWS, BENCH_REPS; BENCH_AUG=1 and BENCH_WORKERS=n (the
# "cnn_epoch augmented" row): torchvision's RandomCrop(28, padding=4) and
# RandomHorizontalFlip on each sample's tensor, DataLoader(num_workers=n).
import os
import sys
import time

import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
import loop  # noqa: E402
import models  # noqa: E402
import twin  # noqa: E402

rows = twin.setting("BENCH_ROWS", 10000)
torch.set_num_threads(1)
x, y = data.fashion_mnist(rows, flat=False)
ds = TensorDataset(x, y)
workers = twin.setting("BENCH_WORKERS", 0)


class Augmented(Dataset):
    """the samples of (x, y), each image through torchvision's transforms"""

    def __init__(self, x, y):
        import torchvision.transforms as T
        self.x, self.y = x, y
        self.t = T.Compose([T.RandomCrop(28, padding=4), T.RandomHorizontalFlip()])

    def __len__(self):
        return self.x.shape[0]

    def __getitem__(self, i):
        return self.t(self.x[i]), self.y[i]


if twin.setting("BENCH_AUG", 0) == 1:
    ds = Augmented(x, y)


def epoch(max_steps=None):
    model = models.cnn()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loader = DataLoader(ds, batch_size=64, shuffle=True, num_workers=workers)
    w0, c0 = time.perf_counter(), time.process_time()
    mean, _ = loop.epoch(model, opt, loader, max_steps)
    return mean, time.perf_counter() - w0, time.process_time() - c0


twin.twin("cnn_epoch", epoch, warmup=lambda: epoch(10), reps=twin.setting("BENCH_REPS", 5))
