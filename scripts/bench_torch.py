"""The same MLP training step as `credit bench`, written the two ways a researcher would in
PyTorch: a Python loop over M independent runs (members), each with its own weights (`loop`),
and all M runs in one set of batched tensors with `bmm` (`batched`, the strongest form).

Used by `credit bench` for its PyTorch columns; also runnable by hand:
    python scripts/bench_torch.py --steps 200 bp:1:1 np:8:1      (rule:members:threads)
Prints two lines per configuration, `rule members threads form wall_us cpu_us`, the µs per
run-step (best of three timings of `steps` steps, after one untimed step), by the wall clock
and by this process's CPU time, for form = loop and batched.

Step (docs/ALGORITHMS.md): augmented weights, MSE summed over the batch, SGD; fa sends the
error down through a fixed B, bp through W, np through B fitted by online ridge regression
(V, S in float64, Cholesky solve every step) on Λ̂ = Ξ ΔL / σ² from one noisy pass.
"""
import argparse
import time

import torch

SIZES = [784, 50, 20, 10]  # fig2
BATCH = 32
LR, SIGMA, GAMMA = 4e-4, 0.01, 0.1


def aug(h):
    return torch.cat([h, torch.ones(h.shape[0], 1)], dim=1)


class Run:
    def __init__(self, rule, seed):
        g = torch.Generator().manual_seed(seed)
        shapes = [(SIZES[i - 1] + 1, SIZES[i]) for i in range(1, len(SIZES))]
        self.rule = rule
        self.w = [torch.randn(s, generator=g) * (2 / s[0]) ** 0.5 for s in shapes]
        self.b = [torch.randn(s, generator=g) * (2 / s[0]) ** 0.5 for s in shapes[1:]]
        self.v = [GAMMA * torch.eye(s[1], dtype=torch.float64) for s in shapes[1:]]
        self.s = [torch.zeros(s, dtype=torch.float64) for s in shapes[1:]]

    def forward(self, x, xi=None):
        hs, h = [aug(x)], x
        for i, w in enumerate(self.w):
            a = hs[-1] @ w
            h = torch.sigmoid(a) if i < len(self.w) - 1 else a
            if i < len(self.w) - 1:
                ha = aug(h)
                if xi is not None:
                    ha = ha + xi[i]
                hs.append(ha)
        return hs, h

    def step(self, x, y):
        hs, y_hat = self.forward(x)
        e = y_hat - y
        errs = [e]
        down = self.w if self.rule == "bp" else [None] + self.b
        for i in range(len(self.w) - 1, 0, -1):
            h = hs[i][:, :-1]
            e = (e @ down[i][:-1].T) * h * (1 - h)
            errs.insert(0, e)
        if self.rule == "np":
            xi = [torch.randn(BATCH, n + 1) * SIGMA for n in SIZES[1:-1]]
            _, y_noisy = self.forward(x, xi)
            loss = 0.5 * ((y_hat - y) ** 2).sum(1)
            dl = 0.5 * ((y_noisy - y) ** 2).sum(1) - loss
            for k in range(len(self.b)):
                lam = xi[k] * dl[:, None] / SIGMA**2
                r = errs[k + 1].double()
                self.v[k] += r.T @ r
                self.s[k] += lam.double().T @ r
                l = torch.linalg.cholesky(self.v[k])
                self.b[k] = torch.cholesky_solve(self.s[k].T, l).T.float()
        for w, h, e in zip(self.w, hs, errs):
            w -= LR * (h.T @ e)


def baug(h):
    return torch.cat([h, torch.ones(h.shape[0], h.shape[1], 1)], dim=2)


class Batched:
    """M runs as one: every tensor has a leading member dimension, every product is a bmm."""

    def __init__(self, rule, members):
        g = torch.Generator().manual_seed(members)
        shapes = [(SIZES[i - 1] + 1, SIZES[i]) for i in range(1, len(SIZES))]
        m = members
        self.rule = rule
        self.w = [torch.randn((m, *s), generator=g) * (2 / s[0]) ** 0.5 for s in shapes]
        self.b = [torch.randn((m, *s), generator=g) * (2 / s[0]) ** 0.5 for s in shapes[1:]]
        eye = [GAMMA * torch.eye(s[1], dtype=torch.float64) for s in shapes[1:]]
        self.v = [e.expand(m, *e.shape).clone() for e in eye]
        self.s = [torch.zeros((m, *s), dtype=torch.float64) for s in shapes[1:]]

    def forward(self, x, xi=None):
        hs, h = [baug(x)], x
        for i, w in enumerate(self.w):
            a = torch.bmm(hs[-1], w)
            h = torch.sigmoid(a) if i < len(self.w) - 1 else a
            if i < len(self.w) - 1:
                ha = baug(h)
                if xi is not None:
                    ha = ha + xi[i]
                hs.append(ha)
        return hs, h

    def step(self, x, y):
        m = x.shape[0]
        hs, y_hat = self.forward(x)
        e = y_hat - y
        errs = [e]
        down = self.w if self.rule == "bp" else [None] + self.b
        for i in range(len(self.w) - 1, 0, -1):
            h = hs[i][:, :, :-1]
            e = torch.bmm(e, down[i][:, :-1].transpose(1, 2)) * h * (1 - h)
            errs.insert(0, e)
        if self.rule == "np":
            xi = [torch.randn(m, BATCH, n + 1) * SIGMA for n in SIZES[1:-1]]
            _, y_noisy = self.forward(x, xi)
            loss = 0.5 * ((y_hat - y) ** 2).sum(2)
            dl = 0.5 * ((y_noisy - y) ** 2).sum(2) - loss
            for k in range(len(self.b)):
                lam = xi[k] * dl[:, :, None] / SIGMA**2
                r = errs[k + 1].double()
                self.v[k].baddbmm_(r.transpose(1, 2), r)
                self.s[k].baddbmm_(lam.double().transpose(1, 2), r)
                l = torch.linalg.cholesky(self.v[k])
                self.b[k] = torch.cholesky_solve(self.s[k].transpose(1, 2), l).transpose(1, 2).float()
        for w, h, e in zip(self.w, hs, errs):
            w.baddbmm_(h.transpose(1, 2), e, alpha=-LR)


def time_config(rule, members, threads, steps, form):
    torch.set_num_threads(threads)
    # MNIST-shaped inputs with MNIST's share of zeros (19% non-zero), as `credit bench` uses.
    x_all = torch.rand(4096, SIZES[0]) * (torch.rand(4096, SIZES[0]) < 0.19)
    y_all = torch.nn.functional.one_hot(torch.randint(0, 10, (4096,)), 10).float()
    best_wall = best_cpu = float("inf")
    for _ in range(3):
        orders = [torch.randperm(4096) for _ in range(members)]
        if form == "loop":
            runs = [Run(rule, m) for m in range(members)]

            def step(t):
                for run, order in zip(runs, orders):
                    idx = order[(t * BATCH) % 4064 :][:BATCH]
                    run.step(x_all[idx], y_all[idx])

        else:
            batched = Batched(rule, members)

            def step(t):
                idx = torch.stack([o[(t * BATCH) % 4064 :][:BATCH] for o in orders])
                batched.step(x_all[idx], y_all[idx])

        step(0)
        wall, cpu = time.perf_counter(), time.process_time()
        for t in range(1, steps + 1):
            step(t)
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    per = 1e6 / (steps * members)
    return best_wall * per, best_cpu * per


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("configs", nargs="+", help="rule:members:threads, rule in bp, fa, np")
    a = p.parse_args()
    with torch.no_grad():
        for c in a.configs:
            rule, members, threads = c.split(":")
            for form in ["loop", "batched"]:
                wall, cpu = time_config(rule, int(members), int(threads), a.steps, form)
                print(f"{rule} {members} {threads} {form} {wall:.1f} {cpu:.1f}", flush=True)


if __name__ == "__main__":
    main()
