# image_folder, PyTorch twin: one pass over a folder of 10,000 small PNG
# files (Fashion-MNIST's first training images, one folder per class) with
# torchvision.datasets.ImageFolder (its default RGB loader, ToTensor) and a
# DataLoader (batch_size 64, in order, num_workers = BENCH_WORKERS, default
# 0).  A repetition builds the dataset (the folder scan) and decodes every
# file.  CHECK: the sum of every pixel and label.
# Usage: /usr/bin/python3 bench/image_folder.py
#        /usr/bin/python3 bench/image_folder.py --make DIR [N]   (writes the folder)
import gzip
import os
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twin  # noqa: E402

FM = os.environ.get("CLARA_DATA", "/usr/share/datasets/fashion-mnist")
N = 10000
ROOT = "/tmp/clara-bench-fmnist-png-%d" % N


def make(root, n):
    """the folder, written once (to a temporary renamed into place, so two
    twins starting together never see half of it)"""
    if os.path.isdir(root):
        return
    from PIL import Image
    with gzip.open(os.path.join(FM, "train-images-idx3-ubyte.gz"), "rb") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)[:n]
    with gzip.open(os.path.join(FM, "train-labels-idx1-ubyte.gz"), "rb") as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)[:n]
    tmp = "%s.tmp-%d" % (root, os.getpid())
    for c in range(10):
        os.makedirs(os.path.join(tmp, "class%d" % c))
    for i in range(n):
        Image.fromarray(x[i], "L").save(os.path.join(tmp, "class%d" % y[i], "%05d.png" % i))
    try:
        os.rename(tmp, root)
    except OSError:   # another twin was first
        shutil.rmtree(tmp)


def main():
    import torch
    import torchvision
    torch.set_num_threads(1)
    workers = int(os.environ.get("BENCH_WORKERS", "0"))
    make(ROOT, N)

    def rep():
        ds = torchvision.datasets.ImageFolder(ROOT, transform=torchvision.transforms.ToTensor())
        loader = torch.utils.data.DataLoader(ds, batch_size=64, shuffle=False, num_workers=workers)
        total = 0.0
        for x, y in loader:
            total += float(x.double().sum()) + float(y.sum())
        return total

    twin.twin("image_folder" if workers == 0 else "image_folder_w%d" % workers, rep)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--make":
        make(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else N)
    else:
        main()
