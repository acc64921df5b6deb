# bench/models.py: the models of the Python training twins (mlp_epoch.py,
# cnn_epoch.py, ddp_epoch.py), as the Lua twins build them: the same
# layers, in the same order, from torch.manual_seed(1).
import torch
from torch import nn


def mlp(hidden=256):
    """784-H-H/2-10, ReLU (mlp_epoch)"""
    torch.manual_seed(1)
    return nn.Sequential(nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, hidden // 2), nn.ReLU(),
                         nn.Linear(hidden // 2, 10))


def cnn():
    """conv 1->16, pool, conv 16->32, pool, linear 1568->64->10 (cnn_epoch)"""
    torch.manual_seed(1)
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(32 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, 10))
