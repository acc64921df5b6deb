# bench/loop.py: the training epoch every Python twin runs, the idiomatic
# PyTorch loop: batches from a DataLoader, zero_grad, forward,
# cross-entropy, loss.item() (logged), backward, step.
import torch.nn.functional as F


def epoch(model, opt, loader, max_steps=None):
    """one pass over loader (at most max_steps steps): (mean loss, steps)"""
    total, seen, steps = 0.0, 0, 0
    for xb, yb in loader:
        if max_steps is not None and steps >= max_steps:
            break
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        total += loss.item() * xb.shape[0]
        seen += xb.shape[0]
        loss.backward()
        opt.step()
        steps += 1
    return total / max(seen, 1), steps
