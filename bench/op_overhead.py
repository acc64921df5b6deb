# op_overhead, PyTorch twin: cost of one small op, c = a.add(b), on 16-element
# float32 tensors.  Same work as op_overhead.lua/.cpp.  A repetition is
# `calls` (200000) calls; the time is per call.
# Usage: /usr/bin/python3 bench/op_overhead.py [calls]   (BENCH_SCALE scales)
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twin  # noqa: E402

calls = twin.count(2e5, 1000)

torch.set_num_threads(1)
torch.manual_seed(0)
a = torch.randn(16)
b = torch.randn(16)


def run(n):
    c = None
    for _ in range(n):
        c = a.add(b)
    return c.sum().item()


twin.twin("op_overhead", lambda: run(calls), per=calls, warmup=lambda: run(calls // 5))
