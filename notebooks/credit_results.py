"""Load credit-assign result files with pandas (the formats are in docs/REPORTING.md).

Aggregation follows the Rust side (`credit plot`): runs are grouped by `condition`, diverged
runs are left out, and mean ± s.e. is taken over the finite values, with s.e. the sample
standard deviation (n − 1) over √n, NaN when n < 2.
"""
import glob
import os

import numpy as np
import pandas as pd

HERE = os.path.dirname(os.path.abspath(__file__))


def results_root():
    """$CREDIT_RESULTS, else the repository's results/ folder."""
    return os.environ.get("CREDIT_RESULTS", os.path.join(HERE, "..", "results"))


def experiment_dir(figure, results=None):
    """The experiment folder of `figure` (fig2, fig3, fig4, theory, table1).

    $CREDIT_EXPERIMENT_<FIGURE> names it (e.g. CREDIT_EXPERIMENT_FIG2=fig2-official);
    otherwise `<figure>` if it has results, else the first `<figure>-*` that has; in
    results/, then in results/quick/ (where `make reproduce` writes). The published
    full-length results keep their run folders in runs.tar.xz: unpack it first
    (`tar -xJf results/<experiment>/runs.tar.xz -C results/<experiment>`).
    """
    base = results or results_root()
    roots = [base, os.path.join(base, "quick")]
    chosen = os.environ.get(f"CREDIT_EXPERIMENT_{figure.upper()}")
    for results in roots:
        names = [chosen] if chosen else [figure] + sorted(
            os.path.basename(p) for p in glob.glob(os.path.join(results, figure + "-*"))
        )
        for name in names:
            exp = os.path.join(results, name)
            if os.path.exists(os.path.join(exp, "summary.csv")) and has_runs(exp):
                return exp
    raise FileNotFoundError(
        f"no results with run folders for {figure} under {roots}: run `credit reproduce "
        f"{figure} --quick`, unpack a published runs.tar.xz, or set CREDIT_RESULTS"
    )


def has_runs(exp):
    """Whether the run folders are there (not only the published summary files)."""
    return any(os.path.isdir(p) for p in glob.glob(os.path.join(exp, "*-seed*")))


def summary(exp):
    """summary.csv: one row per run."""
    return pd.read_csv(os.path.join(exp, "summary.csv"))


def conditions(summ):
    """Conditions in the order of their first run (the legend order)."""
    return list(dict.fromkeys(summ["condition"]))


def metrics(exp, summ=None):
    """Every completed run's metrics.csv, with its condition and seed; `layer` is -1 for
    task metrics such as test_error."""
    summ = summary(exp) if summ is None else summ
    frames = []
    for _, run in summ[summ["status"] == "completed"].iterrows():
        df = pd.read_csv(os.path.join(exp, run["run"], "metrics.csv"))
        df["condition"] = run["condition"]
        df["seed"] = run["seed"]
        frames.append(df)
    df = pd.concat(frames, ignore_index=True)
    df["layer"] = df["layer"].fillna(-1).astype(int)
    return df


def mean_se(df, by=("condition", "metric", "layer", "iteration"), column="value"):
    """Mean, s.e. and n of `column` over seeds within each group of `by`."""
    g = df[np.isfinite(df[column])].groupby(list(by), sort=False)[column]
    out = g.agg(mean="mean", sd="std", n="count").reset_index()
    out["se"] = out["sd"] / np.sqrt(out["n"])
    out.loc[out["n"] < 2, "se"] = np.nan
    return out.drop(columns="sd")


def final(agg):
    """The row at the last logged iteration of each (condition, metric, layer)."""
    idx = agg.groupby(["condition", "metric", "layer"])["iteration"].idxmax()
    return agg.loc[idx].reset_index(drop=True)


def curve(ax, agg, condition, metric, layer=-1, scale=1.0, **style):
    """Draw one mean ± s.e. curve against iteration on `ax`; returns whether it had data."""
    d = agg[(agg.condition == condition) & (agg.metric == metric) & (agg.layer == layer)]
    d = d.sort_values("iteration")
    if d.empty:
        return False
    line, = ax.plot(d.iteration, d["mean"] * scale, **style)
    se = d["se"].fillna(0) * scale
    ax.fill_between(d.iteration, (d["mean"] - d["se"].fillna(0)) * scale, d["mean"] * scale + se,
                    color=line.get_color(), alpha=0.18, linewidth=0)
    return True
