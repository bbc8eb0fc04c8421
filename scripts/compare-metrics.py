#!/usr/bin/env python3
"""Compare two runs of one experiment (e.g. CPU and CUDA), or estimate a timed protocol.

    compare-metrics.py A_EXPERIMENT_DIR B_EXPERIMENT_DIR
        Reads every <run>/metrics.csv in both folders (long format: iteration, metric, layer,
        value). For each metric it prints the largest relative difference |a - b| / max(|a|,
        |b|, 1e-12) over runs, layers and logged iterations, at the final iteration, and where
        the largest one is. Then, per condition (run name less "-seedN"), the final test error's
        mean over seeds in A and in B and the difference in standard errors.

        The CPU and CUDA runs of this engine do not draw the same random numbers: every draw
        (initial weights, noise) comes from libtorch's generator on the run's device, seeded
        alike, and libtorch's CPU and CUDA generators give different streams for one seed. So
        the two trajectories differ from the first step, and their metrics agree statistically,
        not to float rounding. The verdict says which holds: "float" when every final metric
        agrees to 1e-3 relative, "statistical" when every condition's final test error agrees
        within 3 standard errors (combined) plus 0.25 percentage points.

    compare-metrics.py --protocol LOG WALL_SECONDS RC
        Reads the progress lines a `credit run` wrote to LOG ("<exp> <rule> (M=n): i/N
        iterations, r it/s, ETA e s" and "<exp> <rule> (M=n): done in s s") and prints how far
        the protocol got in WALL_SECONDS and an estimate of its whole length. Groups not
        started are estimated from the quick run's "done in" lines found in LOG, scaled to N
        iterations.
Only the standard library: it runs on the device machine as it is.
"""
import csv
import math
import os
import re
import sys
from collections import defaultdict


def read_runs(exp_dir):
    """{run: {(metric, layer): [(iteration, value), ...]}} for every run with a metrics.csv."""
    runs = {}
    for name in sorted(os.listdir(exp_dir)):
        path = os.path.join(exp_dir, name, "metrics.csv")
        if not os.path.isfile(path):
            continue
        series = defaultdict(list)
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                try:
                    value = float(row["value"])
                except ValueError:
                    continue
                series[(row["metric"], row["layer"])].append((int(row["iteration"]), value))
        runs[name] = series
    return runs


def rel(a, b):
    if math.isnan(a) or math.isnan(b):
        return 0.0 if math.isnan(a) and math.isnan(b) else math.inf
    return abs(a - b) / max(abs(a), abs(b), 1e-12)


def compare(a_dir, b_dir):
    a, b = read_runs(a_dir), read_runs(b_dir)
    common = sorted(set(a) & set(b))
    print(f"A: {a_dir} ({len(a)} runs)\nB: {b_dir} ({len(b)} runs)\nruns in both: {len(common)}")
    for only, side in ((set(a) - set(b), "A"), (set(b) - set(a), "B")):
        if only:
            print(f"only in {side}: {', '.join(sorted(only))}")
    if not common:
        print("verdict: nothing to compare")
        return 1
    worst_final = defaultdict(lambda: (-1.0, ""))
    worst_any = defaultdict(float)
    schedule_ok = True
    for run in common:
        for key in sorted(set(a[run]) | set(b[run])):
            sa, sb = dict(a[run].get(key, [])), dict(b[run].get(key, []))
            if set(sa) != set(sb):
                schedule_ok = False
            its = sorted(set(sa) & set(sb))
            if not its:
                continue
            metric = key[0]
            for it in its:
                worst_any[metric] = max(worst_any[metric], rel(sa[it], sb[it]))
            last = its[-1]
            d = rel(sa[last], sb[last])
            if d > worst_final[metric][0]:
                where = f"{run} layer {key[1] or '-'} at {last}: {sa[last]:.6g} vs {sb[last]:.6g}"
                worst_final[metric] = (d, where)
    print(f"same metrics logged at the same iterations: {'yes' if schedule_ok else 'NO'}")
    print("\n| metric | max rel. diff, final | max rel. diff, any iteration | largest at |")
    print("|---|---|---|---|")
    for metric in sorted(worst_final):
        d, where = worst_final[metric]
        print(f"| {metric} | {d:.3g} | {worst_any[metric]:.3g} | {where} |")

    # final test error per condition, mean ± s.e. over seeds
    def final(runs, run, metric="test_error"):
        s = runs[run].get((metric, ""))
        return s[-1][1] if s else None

    conditions = defaultdict(list)
    for run in common:
        conditions[re.sub(r"-seed\d+$", "", run)].append(run)
    statistical = True
    print("\n| condition | n | A test_error | B test_error | diff | diff / s.e. |")
    print("|---|---|---|---|---|---|")
    for cond, runs in sorted(conditions.items()):
        va = [final(a, r) for r in runs if final(a, r) is not None]
        vb = [final(b, r) for r in runs if final(b, r) is not None]
        if not va or not vb:
            continue
        ma, mb = sum(va) / len(va), sum(vb) / len(vb)

        def se(v, m):
            return math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1) / len(v)) if len(v) > 1 else 0.0

        s = math.hypot(se(va, ma), se(vb, mb))
        z = abs(ma - mb) / s if s > 0 else math.inf if ma != mb else 0.0
        # test_error is a fraction or a percentage: tolerate 0.25 points either way
        points = 0.25 if max(ma, mb) > 1.0 else 0.0025
        if abs(ma - mb) > 3 * s + points:
            statistical = False
        print(f"| {cond} | {len(va)} | {ma:.5g} | {mb:.5g} | {mb - ma:+.3g} | {z:.2f} |")
    floats = all(d <= 1e-3 for d, _ in worst_final.values())
    verdict = "float" if floats else ("statistical" if statistical else "DISAGREE")
    print(f"\nverdict: {verdict} (float: every final metric within 1e-3 relative; statistical: "
          "every condition's final test error within 3 s.e. + 0.25 points)")
    return 0 if verdict != "DISAGREE" else 1


PROGRESS = re.compile(r"^(\S+) (\S+) \(M=(\d+)\): (\d+)/(\d+) iterations, ([\d.]+) it/s")
DONE = re.compile(r"^(\S+) (\S+) \(M=(\d+)\): done in ([\d.]+) s")


def protocol(log, wall, rc):
    quick, full_done, full_rate = {}, {}, {}
    total_its = None
    with open(log, errors="replace") as f:
        for line in f:
            line = line.strip().lstrip("= ")
            m = DONE.match(line)
            if m:
                exp, rule, members, secs = m.group(1), m.group(2), int(m.group(3)), float(m.group(4))
                (quick if exp.endswith("-quick") else full_done)[rule] = (members, secs)
                continue
            m = PROGRESS.match(line)
            if m and not m.group(1).endswith("-quick"):
                rule, pos, total, rate = m.group(2), int(m.group(4)), int(m.group(5)), float(m.group(6))
                full_rate[rule] = (int(m.group(3)), pos, total, rate)
                total_its = total
    print(f"\n## full protocol: stopped after {wall} s" if rc in (124, 137) else
          f"\n## full protocol: exit {rc} after {wall} s")
    for rule, (members, secs) in full_done.items():
        print(f"- {rule} (M={members}): done in {secs:.0f} s")
    est = sum(secs for _, secs in full_done.values())
    scale = None
    for rule, (members, pos, total, rate) in full_rate.items():
        if rule in full_done:
            continue
        whole = total / rate if rate > 0 else math.inf
        print(f"- {rule} (M={members}): {pos}/{total} iterations at {rate:.0f} it/s: "
              f"{whole:.0f} s for the group")
        est += whole
        if rule in quick and quick[rule][1] > 0:
            scale = whole / (quick[rule][1] * total / 30000)
    pending = [r for r in quick if r not in full_done and r not in full_rate]
    if pending and total_its:
        k = scale if scale else 1.0
        for rule in pending:
            guess = quick[rule][1] * total_its / 30000 * k
            print(f"- {rule}: not started; about {guess:.0f} s (its quick time × {total_its}/30000"
                  f"{f' × {k:.2f}, the ratio seen on the running group' if scale else ''})")
            est += guess
    if not quick and rc != 0:
        print("(groups not started are not counted: the quick run gave no group times)")
    if rc == 0:
        print(f"whole protocol: {wall} s measured ({wall / 60:.1f} min; target 10 min)")
    elif full_done or full_rate:
        print(f"whole protocol: about {est:.0f} s ({est / 60:.1f} min) estimated; target 10 min")
    else:
        print("whole protocol: no progress line was written; nothing to estimate")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--protocol":
        sys.exit(protocol(sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
    if len(sys.argv) == 3:
        sys.exit(compare(sys.argv[1], sys.argv[2]))
    sys.exit(__doc__)
