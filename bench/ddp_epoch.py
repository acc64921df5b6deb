# ddp_epoch, PyTorch twin of the parallel benchmark: the mlp_epoch (or
# cnn_epoch) epoch trained data-parallel by PyTorch's own
# DistributedDataParallel over Gloo, 2 processes of 1 thread, batch
# BENCH_BATCH per rank, the idiomatic way: DistributedSampler(shuffle=True,
# seed=1) + DataLoader, DDP(model), the loop of bench/loop.py.
#   python3 bench/ddp_epoch.py mlp|cnn
# starts the ranks torchrun-like (this process waits: MASTER_ADDR,
# MASTER_PORT, RANK, WORLD_SIZE, OMP_NUM_THREADS=1 each); rank 0 inherits
# stdin and stdout and serves the driver (bench/twin.py), and tells rank 1
# each repetition and the end by a broadcast.  Timed: the epoch; CHECK: the
# epoch's mean training loss over both ranks.
# Settings: BENCH_ROWS (mlp 60000, cnn 10000), BENCH_BATCH (mlp 64, cnn 32),
# BENCH_NPROC (2), BENCH_REPS (5).
import os
import socket
import subprocess
import sys
import time

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
import loop  # noqa: E402
import models  # noqa: E402
import twin  # noqa: E402

KIND = sys.argv[1] if len(sys.argv) > 1 else "mlp"
SETUP = {"mlp": dict(rows=60000, batch=64, lr=0.1, flat=True, model=models.mlp, warm=20),
         "cnn": dict(rows=10000, batch=32, lr=0.05, flat=False, model=models.cnn, warm=10)}[KIND]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(nproc):
    """the ranks; the first non-zero exit status, else 0"""
    env = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()), WORLD_SIZE=str(nproc),
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    ranks = []
    for r in range(nproc):
        quiet = {} if r == 0 else dict(stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        ranks.append(subprocess.Popen([sys.executable] + sys.argv, env=dict(env, RANK=str(r)), **quiet))
    codes = [p.wait() for p in ranks]
    return next((c for c in codes if c != 0), 0)


def rank_main():
    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    x, y = data.fashion_mnist(twin.setting("BENCH_ROWS", SETUP["rows"]), flat=SETUP["flat"])
    ds = TensorDataset(x, y)

    def epoch(max_steps=None):
        model = DistributedDataParallel(SETUP["model"]())
        opt = torch.optim.SGD(model.parameters(), lr=SETUP["lr"], momentum=0.9)
        sampler = DistributedSampler(ds, num_replicas=world, rank=rank, shuffle=True, seed=1)
        loader = DataLoader(ds, batch_size=twin.setting("BENCH_BATCH", SETUP["batch"]), sampler=sampler)
        w0, c0 = time.perf_counter(), time.process_time()
        mean, _ = loop.epoch(model, opt, loader, max_steps)
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        total = torch.tensor([mean])
        dist.all_reduce(total)
        return total.item() / world, wall, cpu

    def tell(code):
        t = torch.tensor([code])
        dist.broadcast(t, 0)
        return t.item()

    epoch(SETUP["warm"])
    if rank == 0:
        twin.twin("ddp_epoch", lambda: tell(1) and epoch(), warmup=lambda: None, reps=twin.setting("BENCH_REPS", 5))
        tell(0)
    else:
        while tell(0) == 1:
            epoch()
    dist.destroy_process_group()


if __name__ == "__main__":
    if "RANK" in os.environ:
        rank_main()
    else:
        sys.exit(launch(twin.setting("BENCH_NPROC", 2)))
