# augment, PyTorch twin (torchvision 0.14 per-sample transforms on tensors,
# then torch.stack, as a Dataset + collate would): see bench/augment.lua.
# Usage: /usr/bin/python3 bench/augment.py crop28|rrc224
import os
import sys

import torch
import torchvision.transforms as T

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
import twin  # noqa: E402

which = sys.argv[1] if len(sys.argv) > 1 else "crop28"
torch.set_num_threads(1)
if which == "crop28":
    x, _ = data.fashion_mnist(twin.setting("BENCH_ROWS", 4096), flat=False)
    tf = T.Compose([T.RandomCrop(28, padding=4), T.RandomHorizontalFlip()])
elif which == "rrc224":
    torch.manual_seed(0)
    x = torch.rand(twin.setting("BENCH_ROWS", 64), 3, 224, 224)
    tf = T.Compose([T.RandomResizedCrop(224, antialias=False), T.RandomHorizontalFlip()])
else:
    sys.exit("augment.py: expected crop28 or rrc224, got %s" % which)
torch.manual_seed(1)


def rep():
    return torch.stack([tf(x[i]) for i in range(x.shape[0])]).numel()


twin.twin("augment_" + which, rep, per=x.shape[0])
