#!/usr/bin/env bash
# Publish a finished full-length experiment into ./results/ (results/README.md): `credit
# publish` writes its summary.csv, experiment.yaml, an aggregate.csv of at most 250 points per
# curve, the figures drawn from them and a copy of the run folders (metrics.csv's values as
# the engine logs them today); this script archives those run folders as runs.tar.xz (git
# ignores the folders themselves) and rewrites results/REPORT.md. An experiment with an
# unfinished run is refused.
#
#   scripts/publish-results.sh OUT_ROOT EXPERIMENT [CREDIT_BINARY [PUBLISH_FLAGS...]]
#   scripts/publish-results.sh runs/results fig4 runs/credit
#   scripts/publish-results.sh runs/results fig3-official runs/credit --latents final
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 OUT_ROOT EXPERIMENT [CREDIT_BINARY [PUBLISH_FLAGS...]]" >&2; exit 2; }
exp="$2"
src="$1/$exp"
dst="results/$exp"
credit="${3:-target/release/credit}"
shift $(($# < 3 ? $# : 3))
[ -f "$src/experiment.yaml" ] || { echo "$src is not an experiment folder (no experiment.yaml)" >&2; exit 1; }
# publish collects first: it checks that every run finished, and names the rest.
"$credit" publish "$src" --to results "$@"
runs=$(cd "$src" && find . -mindepth 1 -maxdepth 1 -type d -name '*-seed*' -printf '%f\n' | sort)
# Reproducible archive of the published copies: sorted names, no owner, fixed times.
tar -cJf "$dst/runs.tar.xz" -C "$dst" --sort=name --owner=0 --group=0 \
    --mtime='2026-01-01 00:00Z' $runs
"$credit" report --out results
echo "published $exp: $(du -sh "$dst/runs.tar.xz" | cut -f1) of run folders; git add results/"
