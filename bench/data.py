# bench/data.py: Fashion-MNIST for the Python twins, as bench/data.lua and
# bench/data.h prepare it: the first `rows` training images scaled to [0,1]
# float32 (.float().div(255), the same op in all three twins), flat
# (rows, 784) or as (rows, 1, 28, 28) images; labels int64.
import gzip
import os

import numpy as np
import torch

DIR = os.environ.get("CLARA_DATA") or "/usr/share/datasets/fashion-mnist"


def _idx(name, offset):
    with gzip.open(os.path.join(DIR, name), "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def fashion_mnist(rows, flat=True):
    x = torch.from_numpy(_idx("train-images-idx3-ubyte.gz", 16).reshape(-1, 784).copy())
    y = torch.from_numpy(_idx("train-labels-idx1-ubyte.gz", 8).astype(np.int64))
    rows = min(rows, x.shape[0])
    x = x[:rows].float().div(255)
    x = x.contiguous() if flat else x.reshape(rows, 1, 28, 28).contiguous()
    return x, y[:rows].contiguous()
