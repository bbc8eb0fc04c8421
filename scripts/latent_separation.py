#!/usr/bin/env python3
"""How well a Fig. 3 autoencoder's 2-D code separates the digits: for each run folder's
latent.csv (written by `credit run` for task: autoencode), at each saved iteration, the
leave-one-out k-nearest-neighbour accuracy of the digit label on the standardised code of
the test images (chance: 0.10). The paper judges Fig. 3B by eye; this is a number for it.

    python scripts/latent_separation.py results/fig3-official-200k [--k 10]

Reads only; needs numpy and pandas (the notebooks' environment, scripts/setup-python.sh).
Prints a Markdown table: run, iteration, k-NN accuracy.
"""
import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd


def knn_accuracy(z: np.ndarray, labels: np.ndarray, k: int, chunk: int = 1000) -> float:
    """Leave-one-out k-NN accuracy (majority vote, ties to the smallest label) of `labels`
    from the rows of `z` ([n, d]), standardised per column."""
    z = (z - z.mean(0)) / np.where(z.std(0) > 0, z.std(0), 1.0)
    sq = (z * z).sum(1)
    hits = 0
    for start in range(0, len(z), chunk):
        part = z[start : start + chunk]
        d = sq[start : start + chunk, None] + sq[None, :] - 2.0 * part @ z.T  # [c, n]
        d[np.arange(len(part)), np.arange(start, start + len(part))] = np.inf  # leave one out
        nearest = np.argpartition(d, k, axis=1)[:, :k]  # [c, k]
        votes = np.apply_along_axis(np.bincount, 1, labels[nearest], minlength=10)
        hits += int((votes.argmax(1) == labels[start : start + chunk]).sum())
    return hits / len(z)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("experiment", type=Path, help="an experiment folder with run folders")
    ap.add_argument("--k", type=int, default=10)
    args = ap.parse_args()
    files = sorted(args.experiment.glob("*/latent.csv"))
    if not files:
        print(
            f"{args.experiment}: no */latent.csv (unpack runs.tar.xz there first, or give an "
            "autoencoder experiment's folder)",
            file=sys.stderr,
        )
        return 1
    print(f"| run | iteration | {args.k}-NN accuracy |\n|---|---|---|")
    for f in files:
        latent = pd.read_csv(f)
        zcols = [c for c in latent.columns if c.startswith("z")]
        for it, snap in latent.groupby("iteration"):
            acc = knn_accuracy(snap[zcols].to_numpy(float), snap["label"].to_numpy(), args.k)
            print(f"| {f.parent.name} | {it} | {acc:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
