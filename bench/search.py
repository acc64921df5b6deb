# bench/search.py: the "search" benchmark (`bash bench/run.sh search`):
# tuning the Fashion-MNIST MLP's learning rate (log-uniform 1e-4..1e-1),
# width (int, log 32..512) and dropout (0..0.5) with
#   clara   TPE + ASHA (bench/search.lua: clara.battery{search = {...}})
#   Optuna  TPESampler + SuccessiveHalvingPruner (Debian's python3-optuna),
#           the same MLP in PyTorch (this file)
# on the same data (the first 10000 training images to train, the next 2000
# to validate, standardized by the training mean and std), the same rungs
# (1, 3, 9 epochs, reduction factor 3), the same total epoch budget and the
# same seeds.  Optuna's study stops when its trials have trained the budget
# (a trial is not started when the next epoch would not fit).  Figures:
# the best validation accuracy any trial reported at a rung, and the
# search's wall time, per seed and their mean.  One thread each, one search
# at a time.
#   /usr/bin/python3 bench/search.py [--results FILE]   (FILE: append the table)
# Settings by environment: BENCH_SEEDS (1,2,3), BENCH_EPOCHS (40),
# BENCH_TRAIN (10000), BENCH_VAL (2000).
import os
import subprocess
import sys
import time

import optuna
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402

SEEDS = [int(s) for s in os.environ.get("BENCH_SEEDS", "1,2,3").split(",")]
EPOCHS = int(os.environ.get("BENCH_EPOCHS", "40"))
N_TRAIN = int(os.environ.get("BENCH_TRAIN", "10000"))
N_VAL = int(os.environ.get("BENCH_VAL", "2000"))
RUNGS = (1, 3, 9)


def load():
    x, y = data.fashion_mnist(N_TRAIN + N_VAL)
    xt = x[:N_TRAIN]
    x = (x - xt.mean().item()) / xt.std().item()
    return (x[:N_TRAIN], y[:N_TRAIN]), (x[N_TRAIN:], y[N_TRAIN:])


def mlp(width, dropout):
    return nn.Sequential(nn.Linear(784, width), nn.ReLU(), nn.Dropout(dropout),
                         nn.Linear(width, width // 2), nn.ReLU(), nn.Dropout(dropout),
                         nn.Linear(width // 2, 10))


def optuna_search(seed, train, val):
    """(best val acc at a rung, wall seconds, trials, epochs)"""
    spent = [0]
    best = [0.0]

    def objective(trial):
        lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
        width = trial.suggest_int("width", 32, 512, log=True)
        dropout = trial.suggest_float("dropout", 0.0, 0.5)
        torch.manual_seed(seed * 1000 + trial.number)
        model = mlp(width, dropout)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        acc = 0.0
        for epoch in range(1, RUNGS[-1] + 1):
            if spent[0] >= EPOCHS:
                break
            model.train()
            perm = torch.randperm(train[0].shape[0])
            for i in range(0, perm.shape[0], 128):
                idx = perm[i:i + 128]
                opt.zero_grad()
                nn.functional.cross_entropy(model(train[0][idx]), train[1][idx]).backward()
                opt.step()
            spent[0] += 1
            model.eval()
            with torch.no_grad():
                acc = (model(val[0]).argmax(1) == val[1]).float().mean().item()
            if epoch in RUNGS:
                best[0] = max(best[0], acc)
            trial.report(acc, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return acc

    def stop(study, trial):
        if spent[0] >= EPOCHS:
            study.stop()

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed),
                                pruner=optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3))
    t0 = time.perf_counter()
    study.optimize(objective, callbacks=[stop])
    return best[0], time.perf_counter() - t0, len(study.trials), spent[0]


def clara_search(seed):
    env = dict(os.environ, BENCH_SEED=str(seed), BENCH_EPOCHS=str(EPOCHS), BENCH_TRAIN=str(N_TRAIN),
               BENCH_VAL=str(N_VAL))
    out = subprocess.run(["./clara", "bench/search.lua"], env=env, capture_output=True, text=True)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            acc, wall, trials, epochs = line.split()[1:]
            return float(acc), float(wall), int(trials), int(epochs)
    raise SystemExit("bench: search: clara failed:\n" + out.stdout + out.stderr)


def table(rows):
    lines = ["| seed | clara TPE+ASHA best val acc | Optuna TPE+SH best val acc | clara wall s | Optuna wall s "
             "| clara trials/epochs | Optuna trials/epochs |", "|---|---|---|---|---|---|---|"]
    for seed, c, o in rows:
        lines.append("| %d | %.4f | %.4f | %.1f | %.1f | %d/%d | %d/%d |"
                     % (seed, c[0], o[0], c[1], o[1], c[2], c[3], o[2], o[3]))
    n = len(rows)
    mean = [sum(r[k][i] for r in rows) / n for k in (1, 2) for i in (0, 1)]
    lines.append("| mean | %.4f | %.4f | %.1f | %.1f | | |" % (mean[0], mean[2], mean[1], mean[3]))
    diff = mean[0] - mean[2]
    per_seed = [(r[1][0] - r[2][0]) * 100 for r in rows]
    lines.append("")
    lines.append("Best validation accuracy: %s by %.2f points (mean over %d seeds; clara - Optuna per seed: "
                 "%+.2f to %+.2f points); wall time: clara/Optuna = %.2f."
                 % ("clara higher" if diff > 0 else "Optuna higher" if diff < 0 else "equal", abs(diff) * 100, n,
                    min(per_seed), max(per_seed), mean[1] / mean[3]))
    return "\n".join(lines)


def main(argv):
    torch.set_num_threads(1)
    train, val = load()
    rows = []
    for seed in SEEDS:
        print("bench: search seed %d" % seed, flush=True)
        rows.append((seed, clara_search(seed), optuna_search(seed, train, val)))
    text = ("## search: TPE + successive halving, clara vs Optuna %s\n\nFashion-MNIST MLP, %d train / %d "
            "validation images, rungs 1/3/9 epochs, %d epochs in all per search.\n\n%s\n"
            % (optuna.__version__, N_TRAIN, N_VAL, EPOCHS, table(rows)))
    print(text)
    if "--results" in argv:
        with open(argv[argv.index("--results") + 1], "a") as f:
            f.write("\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
