# batches, PyTorch twin: one epoch of mini-batch assembly over in-memory
# tensors: x 60000x784 float32, y 60000 int64, batch 128, shuffled, by
# DataLoader(TensorDataset(x, y), batch_size=128, shuffle=True) (main process,
# as users write it).  Same work, clock and repetitions as batches.lua/.cpp.
# A repetition is one epoch.
# Usage: /usr/bin/python3 bench/batches.py [rows]   (BENCH_SCALE scales the rows)
import os
import sys

import torch
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twin  # noqa: E402

rows = twin.count(60000, 1280)

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


twin.twin("batches", epoch)
