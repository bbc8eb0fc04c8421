"""The floor under the fig2 step on this CPU: how long W^1's two GEMMs alone take per run
(the forward product aug(X) W^1 and the update W^1 += aug(X)ᵀ Ẽ^1, 97% of the FLOPs of a
784-50-20-10 step at batch 32), batched per member (`bmm`, what the engine does) and as one
wide GEMM over members that share their input (the "shared inputs" lever of issue 11).

    python scripts/gemm_floor.py          (torch 2.11 venv of scripts/setup.sh; one thread)

Prints µs per member for each M and the GFLOP/s reached; docs/PERFORMANCE.md uses it.
"""
import time

import torch

torch.set_num_threads(1)
T, N0, N1 = 32, 785, 50


def timed(f, n=300):
    for _ in range(20):
        f()
    start = time.perf_counter()
    for _ in range(n):
        f()
    return (time.perf_counter() - start) / n * 1e6


def main():
    with torch.no_grad():
        for m in [1, 4, 5, 8, 20]:
            x, w, e = torch.randn(m, T, N0), torch.randn(m, N0, N1), torch.randn(m, T, N1)
            xs, ws, es = torch.randn(T, N0), torch.randn(N0, m * N1), torch.randn(T, m * N1)
            bmm = timed(lambda: x.bmm(w)) + timed(lambda: w.baddbmm_(x.transpose(1, 2), e))
            wide = timed(lambda: xs.mm(ws)) + timed(lambda: ws.addmm_(xs.t(), es))
            flop = 2 * 2 * T * N0 * N1 * m / 1e3  # two GEMMs, in MFLOP·1e3 → GFLOP/s with µs
            print(
                f"M={m:2}: bmm {bmm / m:6.1f} µs/member ({flop / bmm:5.1f} GFLOP/s)  "
                f"wide {wide / m:6.1f} µs/member ({flop / wide:5.1f} GFLOP/s)"
            )


if __name__ == "__main__":
    main()
