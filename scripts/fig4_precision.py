#!/usr/bin/env python3
"""Fig. 4 (W fixed, B by ridge regression): what sets the top feedback matrix's final error?

Three questions, answered with numpy on MNIST; W stays frozen, as in Fig. 4:

1. Float32 cancellation. The loss difference dL = L(noisy) - L(clean) of node perturbation is
   computed in float32, by us and by the authors' code alike. At small sigma it is the
   difference of two nearly equal numbers. For each sigma this measures, on the same inputs
   and noise draws, the float32 dL against a float64 one, and what the rounding adds to the
   top layer's estimate lambda_hat = xi dL / sigma^2 next to that estimate's own noise
   (eta = lambda_hat - W e, the node-perturbation variance). A ridge fit's error is that noise
   averaged down, so the rounding inflates B's error by sqrt(1 + (rounding / eta)^2) - 1.

2. The estimator's variance for a given W. With W fixed, the ridge fit B = S (V + gamma I)^-1
   of the top matrix regresses lambda_hat (rows: hidden units + bias) on the output error e.
   To first order in sigma, lambda_hat = W e + eta with
       Cov(eta | x) = (|g1|^2 + |g2|^2) I + g2 g2^T,
   g1, g2 the loss gradients at the two perturbed layers (bias units included), and after N
   samples
       E |B - W|_F^2 = (1/N) E[(rows (|g1|^2 + |g2|^2) + |g2|^2) e^T C^-2 e],  C = E[e e^T],
   which does not depend on sigma. This evaluates it for the W of each of our runs and for
   many W drawn as the authors' code draws them (randn * sqrt(2 / fan_in), bias row
   included), at the runs' N = 1M iterations x 32 samples.

3. Float32 sums. The authors' code keeps V = 0.1 I + sum e^T e and S = sum lambda^T e in
   float32 and inverts V in float32; ours keeps them in float64. For each run's W at width
   50, the fit is simulated over 1M iterations of 32 sampled images (lambda_hat to first
   order in sigma), summed both ways from the same draws (about 3 minutes per W).

Our runs' W: a checkpoint of each fig4 program. W is frozen and drawn from the seed alone, so
any iteration's W is the run's, at every sigma. Copy configs/fig4.yaml, give its sigma panel
one sigma (`sigma: 1.0e-2`: one member per seed, in seed order), then for k = 0..4 run
`credit --threads 1 run fig4-w.yaml --shard k/5 --out /tmp/fig4w` and stop it with
`kill -TERM <pid>` after a few seconds: each writes
`/tmp/fig4w/fig4/checkpoints/progNNN-*.safetensors`.

Usage:
    scripts/fig4_precision.py --mnist data/mnist --out results/fig4 CHECKPOINT.safetensors...
Writes <out>/float32_delta_l.csv and <out>/ridge_variance.csv (read by `credit report`).
Needs numpy (the notebook venv of scripts/setup-python.sh has it).
"""
import argparse
import csv
import json
import os
import struct

import numpy as np

SIGMAS = [1e-3, 1e-2, 1e-1]
ITERATIONS, BATCH = 1_000_000, 32
DRAWS = 200


def read_safetensors(path):
    """Every tensor of a safetensors file as a numpy array (header: u64 length, then JSON)."""
    dtypes = {"F32": np.float32, "F64": np.float64, "I64": np.int64}
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + n])
    out = {}
    for name, t in header.items():
        if name != "__metadata__":
            start, end = t["data_offsets"]
            raw = blob[8 + n + start : 8 + n + end]
            out[name] = np.frombuffer(raw, dtype=dtypes[t["dtype"]]).reshape(t["shape"])
    return out


def read_mnist(folder, n_train=55_000):
    """The first n_train training images in [0, 1] (as configs/fig4.yaml) and one-hot labels."""
    with open(os.path.join(folder, "train-images-idx3-ubyte"), "rb") as f:
        x = np.frombuffer(f.read()[16:], dtype=np.uint8).reshape(-1, 784)[:n_train]
    with open(os.path.join(folder, "train-labels-idx1-ubyte"), "rb") as f:
        y = np.frombuffer(f.read()[8:], dtype=np.uint8)[:n_train]
    return (x / 255.0).astype(np.float32), np.eye(10, dtype=np.float32)[y]


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def aug(h):
    """Append the bias unit, as the engine's aug() (the bias row of W is last)."""
    return np.concatenate([h, np.ones((h.shape[0], 1), h.dtype)], axis=1)


def forward(ws, x, xi1=None, xi2=None):
    """784-n1-n2-10, sigmoid, sigmoid, identity; noise on both hidden layers' augmented
    activations when given. Computes in the dtype of ws and x. Returns (h1a, z2, h2a, y)."""
    h1a = aug(sigmoid(x @ ws[0][:-1] + ws[0][-1]))
    h1a = h1a + xi1 if xi1 is not None else h1a
    z2 = h1a @ ws[1]
    h2a = aug(sigmoid(z2))
    h2a = h2a + xi2 if xi2 is not None else h2a
    return h1a, z2, h2a, h2a @ ws[2]


def half_sq(y, t):
    """Per-sample 0.5 * |y - t|^2, as the engine's mse_per_sample."""
    return 0.5 * ((y - t) ** 2).sum(axis=1)


def gradients(ws, x, t):
    """e = y - t, and the loss gradients g2 (at h2, bias unit included) and g1 (at h1)."""
    _, z2, _, y = forward(ws, x)
    e = y - t
    g2 = e @ ws[2].T
    s = sigmoid(z2)
    g1 = (g2[:, :-1] * s * (1 - s)) @ ws[1].T
    return e, g1, g2


def float32_rows(ws32, x, t, rng):
    """Per sigma: float32 dL against float64 dL on the same x and xi, and the rounding's share
    of the top layer's lambda_hat error."""
    ws64 = [w.astype(np.float64) for w in ws32]
    x64, t64 = x.astype(np.float64), t.astype(np.float64)
    e, _, g2 = gradients(ws64, x64, t64)
    clean32 = half_sq(forward(ws32, x)[3], t)
    clean64 = half_sq(forward(ws64, x64)[3], t64)
    rows = []
    for sigma in SIGMAS:
        n1, n2 = ws32[1].shape[0], ws32[2].shape[0]
        xi1 = (rng.standard_normal((len(x), n1)) * sigma).astype(np.float32)
        xi2 = (rng.standard_normal((len(x), n2)) * sigma).astype(np.float32)
        d32 = half_sq(forward(ws32, x, xi1, xi2)[3], t) - clean32
        d64 = half_sq(forward(ws64, x64, xi1.astype(np.float64), xi2.astype(np.float64))[3], t64) - clean64
        lam64 = xi2 * d64[:, None] / sigma**2
        lam32 = xi2 * d32.astype(np.float64)[:, None] / sigma**2
        eta = np.sqrt(((lam64 - g2) ** 2).mean())
        rounding = np.sqrt(((lam32 - lam64) ** 2).mean())
        rows.append({
            "sigma": sigma,
            "samples": len(x),
            "loss_per_sample": float(np.median(clean64)),
            "delta_l_rms": float(np.sqrt((d64**2).mean())),
            "float32_error_rms": float(np.sqrt(((d32 - d64) ** 2).mean())),
            "relative_error": float(np.sqrt(((d32 - d64) ** 2).mean() / (d64**2).mean())),
            "lambda_noise_rms": float(eta),
            "lambda_float32_rms": float(rounding),
            "b_error_inflation": float(np.sqrt(1 + (rounding / eta) ** 2) - 1),
        })
    return rows


def predicted_rel_err(ws, x, t, n=ITERATIONS * BATCH):
    """sqrt(E|B - W|^2) / |W| of the top matrix after n samples (the formula above), and the
    condition number of C = E[e e^T]."""
    ws64 = [w.astype(np.float64) for w in ws]
    e, g1, g2 = gradients(ws64, x.astype(np.float64), t.astype(np.float64))
    c = e.T @ e / len(e)
    c_inv = np.linalg.inv(c)
    rows = g2.shape[1]
    weight = rows * ((g1**2).sum(1) + (g2**2).sum(1)) + (g2**2).sum(1)
    quad = np.einsum("si,ij,sj->s", e, c_inv @ c_inv, e)
    mse = (weight * quad).mean() / n
    return float(np.sqrt(mse) / np.linalg.norm(ws64[2])), float(np.linalg.cond(c))


def simulated_rel_err(ws, x, t, rng, chunk=1000):
    """The top matrix's ridge fit over ITERATIONS steps of BATCH samples, with lambda_hat to
    first order in sigma (g2 xi2-hat xi-hat.g, xi-hat ~ N(0, 1): sigma cancels), accumulated
    as the authors' code does (float32 sums V += e^T e, S += lambda^T e, then B = S V^-1 in
    float32) and as ours does (float64 sums), from the same draws. Returns both rel. errors."""
    ws64 = [w.astype(np.float64) for w in ws]
    e, g1, g2 = (a.astype(np.float32) for a in gradients(ws64, x.astype(np.float64), t.astype(np.float64)))
    rows, n = g2.shape[1], e.shape[1]
    v32 = (0.1 * np.eye(n)).astype(np.float32)
    s32 = np.zeros((rows, n), np.float32)
    v64, s64 = v32.astype(np.float64), s32.astype(np.float64)
    for _ in range(ITERATIONS // chunk):
        pick = rng.integers(0, len(x), (chunk, BATCH))
        eb, g1b, g2b = e[pick], g1[pick], g2[pick]
        xi1 = rng.standard_normal(g1b.shape, dtype=np.float32)
        xi2 = rng.standard_normal(g2b.shape, dtype=np.float32)
        dl = (g1b * xi1).sum(-1) + (g2b * xi2).sum(-1)  # [chunk, BATCH]
        lam = xi2 * dl[..., None]
        dv = np.einsum("cbi,cbj->cij", eb, eb)  # one float32 product per step, as tf.matmul
        ds = np.einsum("cbi,cbj->cij", lam, eb)
        # np.cumsum adds in order, one step after another: float32 accumulation as V.assign(V + dV)
        v32 = np.cumsum(np.concatenate([v32[None], dv]), axis=0, dtype=np.float32)[-1]
        s32 = np.cumsum(np.concatenate([s32[None], ds]), axis=0, dtype=np.float32)[-1]
        v64 += dv.astype(np.float64).sum(0)
        s64 += ds.astype(np.float64).sum(0)
    w = ws64[2]
    b32 = (s32 @ np.linalg.inv(v32)).astype(np.float64)
    b64 = s64 @ np.linalg.inv(v64)
    rel = lambda b: float(np.linalg.norm(b - w) / np.linalg.norm(w))
    return rel(b64), rel(b32)


def code_draw(rng, sizes):
    """W as the authors' code draws it: randn * sqrt(2 / fan_in) on every row, bias included."""
    return [
        (rng.standard_normal((a + 1, b)) * np.sqrt(2.0 / a)).astype(np.float32)
        for a, b in zip(sizes[:-1], sizes[1:])
    ]


def write(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else "" if v is None else v)
                        for k, v in r.items()})
    print(f"wrote {path}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoints", nargs="+", help="progNNN-*.safetensors of the fig4 programs")
    ap.add_argument("--mnist", default="data/mnist")
    ap.add_argument("--out", default="results/fig4")
    ap.add_argument("--samples", type=int, default=8192, help="images for the float32 check")
    args = ap.parse_args()
    x, t = read_mnist(args.mnist)
    rng = np.random.default_rng(0)

    variance, f32 = [], []
    for path in args.checkpoints:
        tensors = read_safetensors(path)
        members = tensors["w.0"].shape[0]
        if members != 3:
            raise SystemExit(f"{path}: {members} members; expected one per seed (3): give the "
                             "config's sigma panel a single sigma (see this script's help)")
        for seed in range(members):
            ws = [tensors[f"w.{k}"][seed] for k in range(3)]
            width = ws[0].shape[1]
            pred, cond = predicted_rel_err(ws, x, t)
            sim64, sim32 = simulated_rel_err(ws, x, t, rng) if width == 50 else (None, None)
            variance.append({"w": "run", "width": width, "seed": seed,
                             "predicted_rel_err": pred, "cond_c": cond,
                             "simulated_rel_err_f64": sim64, "simulated_rel_err_f32": sim32})
            print(f"width {width} seed {seed}: predicted {100 * pred:.2f}%, cond(C) {cond:.0f}"
                  + (f", simulated {100 * sim64:.2f}% (float64 sums) {100 * sim32:.2f}% (float32)"
                     if sim64 is not None else ""))
            if width == 50:
                pick = rng.choice(len(x), args.samples, replace=False)
                for r in float32_rows(ws, x[pick], t[pick], rng):
                    f32.append({"width": width, "seed": seed, **r})
    draw_rng = np.random.default_rng(2020)
    for k in range(DRAWS):
        pred, cond = predicted_rel_err(code_draw(draw_rng, [784, 50, 20, 10]), x, t)
        variance.append({"w": "code_draw", "width": 50, "seed": k,
                         "predicted_rel_err": pred, "cond_c": cond,
                         "simulated_rel_err_f64": None, "simulated_rel_err_f32": None})
    drawn = np.array([r["predicted_rel_err"] for r in variance if r["w"] == "code_draw"])
    print("code-style draws, predicted %: " + ", ".join(
        f"q{q}={100 * np.quantile(drawn, q / 100):.2f}" for q in (0, 10, 50, 90, 100)))
    for r in f32:
        print(f"seed {r['seed']} sigma {r['sigma']:g}: dL rms {r['delta_l_rms']:.3g}, "
              f"float32 error {r['float32_error_rms']:.2g} ({r['relative_error']:.1e}), "
              f"B error +{r['b_error_inflation']:.1e}")
    os.makedirs(args.out, exist_ok=True)
    write(os.path.join(args.out, "float32_delta_l.csv"), f32)
    write(os.path.join(args.out, "ridge_variance.csv"), variance)


if __name__ == "__main__":
    main()
