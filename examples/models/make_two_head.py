"""Exports examples/models/fashion_two_head.pt, the TorchScript model that
examples/torchscript_two_heads.lua trains from Lua.

Run with Debian's python3-torch:  /usr/bin/python3 examples/models/make_two_head.py

The model has one body and two heads: the Fashion-MNIST class (10 logits)
and a coarse group of the garment (4 logits: top, bottom, footwear, bag).
forward returns both as a tuple; `features` is exported so intermediate
results can be read from Lua.
"""
import os
from typing import Tuple

import torch
from torch import nn


class TwoHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU())
        self.classes = nn.Linear(128, 10)
        self.groups = nn.Linear(128, 4)

    def forward(self, x) -> Tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x)
        return self.classes(h), self.groups(h)

    @torch.jit.export
    def features(self, x):
        return self.body(x)


def main():
    torch.manual_seed(0)
    model = torch.jit.script(TwoHead())
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fashion_two_head.pt")
    model.save(path)
    print("wrote", path)


if __name__ == "__main__":
    main()
