# transformer_step, PyTorch twin: one training step of a small Transformer
# encoder (nn.TransformerEncoder of 2 nn.TransformerEncoderLayer: d_model 64,
# nhead 4, dim_feedforward 128, ReLU, post-norm, dropout 0), sequence 32,
# batch 16, (S, N, E) layout: forward, MSE loss against a fixed random
# target, backward, Adam (lr 1e-3) step, zero the grads.  Same work as
# transformer_step.lua/.cpp (see there for the weights).  A repetition is
# `steps` (10) steps, continuing the same weights; the time is per step.
# Usage: /usr/bin/python3 bench/transformer_step.py [steps]   (BENCH_SCALE scales)
import os
import re
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twin  # noqa: E402

steps = twin.count(10, 2)
S, N, E, HEADS, FF, LAYERS = 32, 16, 64, 4, 128, 2

torch.set_num_threads(1)
layer = nn.TransformerEncoderLayer(E, HEADS, dim_feedforward=FF, dropout=0.0)
# enable_nested_tensor=False: no key padding mask here, so the nested
# tensor path is never taken anyway; said for the reader
model = nn.TransformerEncoder(layer, LAYERS, enable_nested_tensor=False)

torch.manual_seed(0)
with torch.no_grad():
    for name, p in sorted(model.named_parameters()):
        if re.search(r"norm\d\.weight$", name):
            p.fill_(1)
        else:
            p.copy_(torch.randn(p.shape) * 0.05)
x = torch.randn(S, N, E)
y = torch.randn(S, N, E)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)


def step():
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    opt.step()
    opt.zero_grad()
    return loss


def run(n):
    for _ in range(n):
        loss = step()
    return loss.item()


twin.twin("transformer_step", lambda: run(steps), per=steps, warmup=lambda: run(3))
