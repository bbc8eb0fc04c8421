#!/usr/bin/env python3
"""Where a ridge-fitted B is wrong: the whole matrix, or the directions the errors visit?

Reads an MLP program's checkpoint (`<experiment>/checkpoints/progNNN-<iteration>.safetensors`,
written every ~10 minutes while a run trains) of an np run with `solver: ridge`, and prints
for each member and each feedback matrix B^l (shapes [in+1, out], the bias row last, as W^l):

- rel_err: ||W - B||_F / ||W||_F, the paper's metric (Fig. 2A), over the whole matrix;
- |B|/|W| and the angle between B and W as vectors;
- rel_err weighted by V = sum of e e^T, the ridge fit's own Gram matrix of the error signals
  e it regressed on: ||(W - B) V^1/2||_F / ||W V^1/2||_F, i.e. the error of B e against W e
  averaged over the error signals training produced (every one since the start: the code's
  ridge fit has no forgetting);
- the condition number of V, and a check that B is the ridge solution S (V + gamma I)^-1 of
  the checkpoint's own sums (ALGORITHMS.md), computed here in float64.

Usage: scripts/ridge_directions.py CHECKPOINT.safetensors [--gamma 0.1]
Needs numpy only (the notebook venv of scripts/setup-python.sh has it).
"""
import argparse
import json
import struct

import numpy as np

DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64}


def read_safetensors(path):
    """Every tensor of a safetensors file as a numpy array (header: u64 length, then JSON)."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + n])
    base = 8 + n
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        start, end = t["data_offsets"]
        out[name] = np.frombuffer(blob[base + start : base + end], dtype=DTYPES[t["dtype"]]).reshape(t["shape"])
    return out


def psd_sqrt(v):
    ev, u = np.linalg.eigh(v)
    return u @ np.diag(np.sqrt(np.clip(ev, 0, None))) @ u.T, ev


def member_rows(t, gamma):
    """One row per (feedback matrix, member): b.k pairs with w.(k+1) and ridge.k.{v,s}."""
    k = 0
    while f"b.{k}" in t:
        w_all, b_all = t[f"w.{k + 1}"], t[f"b.{k}"]
        v_all, s_all = t[f"ridge.{k}.v"], t[f"ridge.{k}.s"]
        for m in range(b_all.shape[0]):
            w, b = w_all[m].astype(np.float64), b_all[m].astype(np.float64)
            v, s = v_all[m].astype(np.float64), s_all[m].astype(np.float64)
            vh, ev = psd_sqrt(v)
            cos = (w * b).sum() / (np.linalg.norm(w) * np.linalg.norm(b))
            ridge = s @ np.linalg.inv(v + gamma * np.eye(v.shape[0]))
            yield {
                "B": k + 2,
                "member": m,
                "rel_err": np.linalg.norm(w - b) / np.linalg.norm(w),
                "norm_ratio": np.linalg.norm(b) / np.linalg.norm(w),
                "angle_deg": np.degrees(np.arccos(np.clip(cos, -1, 1))),
                "rel_err_V": np.linalg.norm((w - b) @ vh) / np.linalg.norm(w @ vh),
                "cond_V": ev.max() / max(ev.min(), np.finfo(float).tiny),
                "ridge_check": np.linalg.norm(b - ridge) / np.linalg.norm(b),
            }
        k += 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--gamma", type=float, default=0.1, help="the config's ridge gamma")
    args = ap.parse_args()
    t = read_safetensors(args.checkpoint)
    if "ridge.0.v" not in t:
        raise SystemExit(f"{args.checkpoint}: no ridge.0.v: not a program fitting B by ridge regression")
    print(f"{args.checkpoint}: iteration {int(t['iteration'])}")
    cols = ["B", "member", "rel_err", "norm_ratio", "angle_deg", "rel_err_V", "cond_V", "ridge_check"]
    print("\t".join(cols))
    for r in member_rows(t, args.gamma):
        print("\t".join(f"{r[c]:.3g}" if isinstance(r[c], float) else str(r[c]) for c in cols))


if __name__ == "__main__":
    main()
