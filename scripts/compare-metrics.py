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

    compare-metrics.py --cnn-projection LOG TRAIN_IMAGES CONFIG
        Reads the epoch lines a Table 1 `credit run` on TRAIN_IMAGES images wrote to LOG
        ("<exp>/<rule>-seedN: epoch i/n: ..., s s/epoch", the mean over its epochs so far) and
        prints each rule's full run projected to the 50,000 training images and the epochs
        CONFIG gives that rule: seconds per epoch × 50000 / TRAIN_IMAGES × epochs. A run
        stopped early still gives its epochs so far. The timed epochs include the first one's
        warm-up and evaluate on fewer test images than the full run, so take the projection
        as a rough figure.

    compare-metrics.py --engines A_EXPERIMENT_DIR B_EXPERIMENT_DIR
        Two full runs of one config (e.g. the torch and the fused engine, whose noise differs),
        from their summary.csv: per condition, the final test error and the final top-layer
        rel_err (the highest layer's final_rel_err_lN), mean ± s.e. over seeds in A and in B,
        their difference and z = difference / its s.e. (the two s.e. combined). A condition
        agrees where |z| ≤ 2 for both. At 2 s.e. about one comparison in 20 lands outside by
        chance, so the count of those is printed beside what chance predicts.
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


def summary_rows(exp_dir):
    with open(os.path.join(exp_dir, "summary.csv"), newline="") as f:
        return [r for r in csv.DictReader(f) if r["status"] == "completed"]


def mean_se(values):
    n = len(values)
    if n == 0:
        return math.nan, math.nan, 0
    mean = sum(values) / n
    if n < 2:
        return mean, math.nan, n
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(var / n), n


def engines(a_dir, b_dir):
    a, b = summary_rows(a_dir), summary_rows(b_dir)
    top = max((int(m.group(1)) for k in a[0] for m in [re.match(r"final_rel_err_l(\d+)$", k)] if m),
              default=None)
    metrics = ["final_test_error"] + ([f"final_rel_err_l{top}"] if top else [])
    conditions = list(dict.fromkeys(r["condition"] for r in a))
    print(f"A = {a_dir}, B = {b_dir}; mean ± s.e. over seeds (completed runs), z = (B − A) / s.e.")
    print("| condition | metric | A | B | B − A | z |")
    print("|---|---|---|---|---|---|")
    outside = compared = 0
    disagree = []
    for c in conditions:
        for m in metrics:
            va = [float(r[m]) for r in a if r["condition"] == c and r.get(m, "") not in ("", "NaN")]
            vb = [float(r[m]) for r in b if r["condition"] == c and r.get(m, "") not in ("", "NaN")]
            if not va or not vb:
                continue
            (ma, sa, na), (mb, sb, nb) = mean_se(va), mean_se(vb)
            se = math.sqrt((sa if na > 1 else 0) ** 2 + (sb if nb > 1 else 0) ** 2)
            z = (mb - ma) / se if se > 0 else (0.0 if mb == ma else math.inf)
            compared += 1
            if abs(z) > 2:
                outside += 1
                disagree.append(f"{c} {m}")
            print(f"| {c} | {m} | {ma:.5g} ± {sa:.2g} (n={na}) | {mb:.5g} ± {sb:.2g} (n={nb}) "
                  f"| {mb - ma:+.3g} | {z:+.2f} |")
    print(f"\n{outside} of {compared} comparisons outside 2 s.e. (chance alone: about "
          f"{0.0455 * compared:.1f}){': ' + '; '.join(disagree) if disagree else ''}")
    return 0


def config_epochs(config):
    """{rule: epochs} from the `rules:` block of a Table 1 config (flow or block style)."""
    epochs, rule, inside = {}, None, False
    for line in open(config):
        if re.match(r"^rules:", line):
            inside = True
            continue
        if inside and re.match(r"^\S", line):
            break
        if not inside:
            continue
        m = re.match(r"^  (\w+):", line)
        if m:
            rule = m.group(1)
        m = re.search(r"epochs: *(\d+)", line)
        if m and rule:
            epochs[rule] = int(m.group(1))
    return epochs


def cnn_projection(log, train_images, config):
    full = config_epochs(config)
    last = {}
    for line in open(log, errors="replace"):
        m = re.search(r"/(\w+)-seed\d+: epoch (\d+)/\d+: .*?([0-9.]+) s/epoch", line)
        if m:
            last[m.group(1)] = (int(m.group(2)), float(m.group(3)))
    if not last:
        print(f"{log}: no epoch finished; nothing to project")
        return 1
    print(f"Table 1 on this device, projected from {train_images} training images to 50000:")
    print("| rule | epochs timed | s / epoch timed | s / epoch at 50k | full run (epochs) | hours |")
    print("|---|---|---|---|---|---|")
    for rule, (epochs, spe) in last.items():
        per_full = spe * 50000 / train_images
        n = full.get(rule, 0)
        print(f"| {rule} | {epochs} | {spe:.2f} | {per_full:.1f} | {n} | {per_full * n / 3600:.2f} |")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--engines":
        sys.exit(engines(sys.argv[2], sys.argv[3]))
    if len(sys.argv) == 5 and sys.argv[1] == "--cnn-projection":
        sys.exit(cnn_projection(sys.argv[2], int(sys.argv[3]), sys.argv[4]))
    if len(sys.argv) == 5 and sys.argv[1] == "--protocol":
        sys.exit(protocol(sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
    if len(sys.argv) == 3:
        sys.exit(compare(sys.argv[1], sys.argv[2]))
    sys.exit(__doc__)
