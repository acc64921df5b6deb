"""Exports examples/models/fashion_resnet.pt, the small TorchScript ResNet
that examples/fashion_images.lua fine-tunes from Lua.

Run with Debian's python3-torch:  /usr/bin/python3 examples/models/make_resnet.py

A ResNet for 3 x 32 x 32 images (torchvision's BasicBlock design, narrow:
16, 32, 64 channels, one block per stage; 78K parameters), pretrained here
for one epoch on Fashion-MNIST's TEST images (10,000, made RGB and resized
to 32 x 32, as the example's input is), so that the example fine-tunes it
on training images it has not seen.  `features` is exported: the pooled
64 features before the classifier.
"""
import gzip
import os

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

DATA = os.environ.get("CLARA_DATA") or "/usr/share/datasets/fashion-mnist"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fashion_resnet.pt")


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = nn.Sequential()
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(h)) + self.down(x))


class ResNet(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.stages = nn.Sequential(Block(16, 16, 1), Block(16, 32, 2), Block(32, 64, 2))
        self.fc = nn.Linear(64, classes)

    @torch.jit.export
    def features(self, x):
        return self.stages(self.stem(x)).mean(dim=(2, 3))

    def forward(self, x):
        return self.fc(self.features(x))


def images(name, offset):
    with gzip.open(os.path.join(DATA, name), "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def main():
    torch.manual_seed(0)
    torch.set_num_threads(2)
    x = torch.from_numpy(images("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28).copy()).float().div(255)
    y = torch.from_numpy(images("t10k-labels-idx1-ubyte.gz", 8).astype(np.int64))
    x = F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False).expand(-1, 3, -1, -1)
    model = ResNet()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    perm = torch.randperm(x.shape[0])
    for k in range(0, x.shape[0], 64):
        idx = perm[k:k + 64]
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        right = sum((model(x[k:k + 500]).argmax(1) == y[k:k + 500]).sum().item() for k in range(0, x.shape[0], 500))
    acc = right / x.shape[0]
    print("pretrained one epoch on the 10,000 test images: accuracy %.3f there" % acc)
    torch.jit.script(model).save(OUT)
    print("wrote", OUT, os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
