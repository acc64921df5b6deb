# One Python rank of spec/distributed_python_spec.lua: PyTorch 1.13's own
# torch.distributed, the steps of dist_rank.lua's "mixed" scenario, results
# as JSON in DIST_OUT.  Same environment as dist_rank.lua.
import datetime
import json
import math
import os

import torch
import torch.distributed as dist


def main():
    rank = int(os.environ["DIST_RANK"]) if "DIST_RANK" in os.environ else -1
    world = int(os.environ["DIST_WORLD"]) if "DIST_WORLD" in os.environ else -1
    dist.init_process_group("gloo", init_method=os.environ.get("DIST_INIT", "env://"), rank=rank,
                            world_size=world,
                            timeout=datetime.timedelta(seconds=float(os.environ.get("DIST_TIMEOUT", "10"))))
    rank, world = dist.get_rank(), dist.get_world_size()
    res = {"rank": rank, "world_size": world}
    x = torch.tensor([math.sin(k * (rank + 1)) for k in range(1, 9)], dtype=torch.float64)
    s = x.clone(); dist.all_reduce(s); res["sum"] = s.tolist()
    m = x.float(); dist.all_reduce(m, op=dist.ReduceOp.MAX); res["max"] = m.tolist()
    a = x.clone(); dist.all_reduce(a); a /= world; res["avg"] = a.tolist()
    b = x.clone() if rank == 1 else torch.zeros(8, dtype=torch.float64)
    dist.broadcast(b, 1); res["broadcast"] = b.tolist()
    outs = [torch.zeros(2, dtype=torch.int64) for _ in range(world)]
    dist.all_gather(outs, torch.tensor([rank, 10 * rank], dtype=torch.int64))
    res["all_gather"] = [o.tolist() for o in outs]
    r = x.clone(); dist.reduce(r, 0)
    if rank == 0:
        res["reduce"] = r.tolist()
    dist.barrier()
    dist.destroy_process_group()
    with open(os.environ["DIST_OUT"], "w") as f:
        json.dump(res, f)


main()
