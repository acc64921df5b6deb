# cv_mlp, PyTorch twin: 5-fold stratified cross-validation of the MLP
# 784-256-128-10 on the first 10000 Fashion-MNIST training images, one
# epoch per fold, as a plain loop: stratified folds (each class shuffled,
# dealt round-robin), per fold a fresh model trained with
# DataLoader(Subset(ds, train), batch_size=128, shuffle=True), then the
# held-out fold evaluated once (loss, accuracy) with
# DataLoader(Subset(ds, val), batch_size=128).  Timed: all of it.  CHECK:
# the mean held-out loss over the folds (other folds and shuffles than
# clara's: close, not equal).  Settings: BENCH_ROWS, BENCH_REPS.
import os
import sys

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Subset, TensorDataset

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
import loop  # noqa: E402
import twin  # noqa: E402

K = 5
rows = twin.setting("BENCH_ROWS", 10000)
torch.set_num_threads(1)
x, y = data.fashion_mnist(rows)
ds = TensorDataset(x, y)


def stratified_folds(labels, k, gen):
    folds, j = torch.empty(len(labels), dtype=torch.long), 0
    for c in labels.unique().tolist():
        members = (labels == c).nonzero().flatten()
        members = members[torch.randperm(len(members), generator=gen)]
        folds[members] = (torch.arange(j, j + len(members)) % k) + 1
        j += len(members)
    return folds


def run_fold(train, val, max_steps=None):
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loop.epoch(model, opt, DataLoader(Subset(ds, train), batch_size=128, shuffle=True), max_steps)
    total, correct = 0.0, 0
    with torch.no_grad():
        for xb, yb in DataLoader(Subset(ds, val), batch_size=128):
            out = model(xb)
            total += F.cross_entropy(out, yb).item() * xb.shape[0]
            correct += (out.argmax(1) == yb).sum().item()
    return total / len(val), correct / len(val)


def cv(max_steps=None):
    folds = stratified_folds(y, K, torch.Generator().manual_seed(1))
    losses = []
    for f in range(1, K + 1):
        train = (folds != f).nonzero().flatten().tolist()
        val = (folds == f).nonzero().flatten().tolist()
        losses.append(run_fold(train, val, max_steps)[0])
    return sum(losses) / len(losses)


twin.twin("cv_mlp", cv, warmup=lambda: cv(10), reps=twin.setting("BENCH_REPS", 5))
